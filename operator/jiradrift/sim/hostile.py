"""Hostile answers: what a broken or malicious site (or whatever answers at a tenant's URL) sends to
stall or exhaust a client. Switched on per path like every other fault (:mod:`jiradrift.sim.faults`).

- ``gzip_bomb``: a small gzip body that inflates to ``size`` bytes of valid JSON (mostly whitespace);
  with ``seconds``, sent a KiB at a time with that pause between pieces, so that many such answers
  are being read at once.
- ``oversized``: ``size`` bytes of valid JSON, streamed (the emulator never holds it in memory).
- ``deep_json``: one item whose ``description`` nests ``depth`` arrays deep.
- ``endless_pages``: a PageBean whose ``isLast`` stays false, with fresh ids on every page and a
  ``total`` that keeps growing.
- ``huge_total``: as ``endless_pages``, but the ``total`` is constant (a billion by default: more
  than a capture may hold; a smaller one is a lie the client cannot tell from a big site until a
  page, item or time bound stops it).
- ``looping_pages``: ignores ``startAt`` and serves the first page again, ``isLast`` false and
  ``nextPage`` pointing back at itself.
- ``lying_total``: ``total`` stays the size of the first page while ``isLast`` stays false and
  fresh items keep coming.
- ``trickle``: the real JSON body, one byte every ``seconds``.
- ``no_headers``: nothing at all, not even the status line, until the client hangs up (or
  ``seconds`` pass).

``Retry-After: inf`` (or any value) is the ``retry_after`` switch, answered with the other 429s.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import zlib
from typing import Any

import orjson
from aiohttp import web

from jiradrift.sim.faults import FaultRule

CHUNK = 64 * 1024


@functools.lru_cache(maxsize=4)
def gzip_bomb(size: int, opening: bytes, closing: bytes) -> bytes:
    """``opening + spaces + closing`` of ``size`` bytes, gzip-compressed (about 1,000:1)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    parts = [packer.compress(opening)]
    block = b" " * (1024 * 1024)
    left = max(0, size - len(opening) - len(closing))
    while left > 0:
        parts.append(packer.compress(block[: min(left, len(block))]))
        left -= len(block)
    parts += [packer.compress(closing), packer.flush()]
    return b"".join(parts)


def _envelope(result: Any) -> tuple[bytes, bytes]:
    """The opening and closing of a body of the same shape as ``result``, to pad in between."""
    if isinstance(result, list):
        return b"[", b"]"
    return b'{"startAt":0,"maxResults":50,"total":0,"isLast":true,"values":[]', b"}"


def _deep_body(result: Any, depth: int) -> bytes:
    nested = b"[" * depth + b"]" * depth
    item = b'{"id":"10000","name":"deep","description":' + nested + b"}"
    if isinstance(result, list):
        return b"[" + item + b"]"
    if isinstance(result, dict) and isinstance(result.get("values"), list):
        return b'{"startAt":0,"maxResults":50,"total":1,"isLast":true,"values":[' + item + b"]}"
    return orjson.dumps(result)[:-1] + b',"description":' + nested + b"}"


def _fresh(template: list[Any], start_at: int) -> list[Any]:
    """The template items with ids no page has used before."""
    items = []
    for i, item in enumerate(template):
        fresh = copy.deepcopy(item)
        if isinstance(fresh, dict) and "id" in fresh:
            n = 900_000 + start_at + i
            fresh["id"] = n if isinstance(fresh["id"], int) else str(n)
        items.append(fresh)
    return items


def _page(rule: FaultRule, result: Any, request: web.Request) -> Any:
    if not (isinstance(result, dict) and isinstance(result.get("values"), list)):
        return result  # not a PageBean: nothing to page through
    if rule.template is None:
        rule.template = list(result["values"]) or [{"id": "1", "name": "filler"}]
    start_at = int(request.query.get("startAt") or 0)
    template = rule.template
    page = dict(result)
    if rule.kind == "looping_pages":
        page.update(startAt=0, isLast=False, values=template, nextPage=str(request.url))
    elif rule.kind == "endless_pages":
        page.update(startAt=start_at, isLast=False, total=start_at + 2 * len(template))
        page["values"] = _fresh(template, start_at)
    elif rule.kind == "huge_total":
        page.update(startAt=start_at, isLast=False, total=rule.total)
        page["values"] = _fresh(template, start_at)
    else:  # lying_total
        page.update(startAt=start_at, isLast=False, total=len(template))
        page["values"] = _fresh(template, start_at)
    return page


async def _stream(
    request: web.Request, parts: Any, pause: float = 0.0, encoding: str | None = None
) -> web.StreamResponse:
    headers = {"Content-Type": "application/json"} | ({"Content-Encoding": encoding} if encoding else {})
    response = web.StreamResponse(headers=headers)
    await response.prepare(request)
    try:
        for part in parts:
            await response.write(part)
            if pause:
                await asyncio.sleep(pause)
        await response.write_eof()
    except (ConnectionError, RuntimeError):
        pass  # the client gave up on us, as it should
    return response


def _padded(size: int, opening: bytes, closing: bytes) -> Any:
    yield opening
    left = max(0, size - len(opening) - len(closing))
    block = b" " * CHUNK
    while left > 0:
        yield block[: min(left, CHUNK)]
        left -= CHUNK
    yield closing


async def _hang(request: web.Request, seconds: float) -> web.StreamResponse:
    """Send nothing until the client goes away (checked often, so the server can stop promptly)."""
    loop = asyncio.get_running_loop()
    ends = loop.time() + seconds
    while loop.time() < ends:
        transport = request.transport
        if transport is None or transport.is_closing():
            break
        await asyncio.sleep(0.05)
    return web.Response(status=504, body=b"", content_type="application/json")


async def respond(rule: FaultRule, request: web.Request, result: Any) -> web.StreamResponse:
    """The hostile answer ``rule`` gives instead of (or made from) the real ``result``."""
    if rule.kind == "no_headers":
        return await _hang(request, rule.seconds)
    if rule.kind == "gzip_bomb":
        body = gzip_bomb(rule.size, *_envelope(result))
        if rule.seconds:
            pieces = (body[i : i + 1024] for i in range(0, len(body), 1024))
            return await _stream(request, pieces, pause=rule.seconds, encoding="gzip")
        return web.Response(body=body, headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    if rule.kind == "oversized":
        return await _stream(request, _padded(rule.size, *_envelope(result)))
    if rule.kind == "deep_json":
        return web.Response(body=_deep_body(result, rule.depth), content_type="application/json")
    if rule.kind == "trickle":
        raw = orjson.dumps(result)
        return await _stream(request, (raw[i : i + 1] for i in range(len(raw))), pause=rule.seconds)
    return web.Response(body=orjson.dumps(_page(rule, result, request)), content_type="application/json")
