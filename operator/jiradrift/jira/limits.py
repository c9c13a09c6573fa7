"""What a site may send us: response size after decompression, JSON nesting, time per request,
pages per listing and how long it may make us wait. A Jira site is untrusted input.

    limits = ResponseLimits(max_body_bytes=32 * MiB, request_deadline=60.0)
    async with deadline(limits.request_deadline, "GET", url):
        response = await http.send(request, stream=True)
        body = await read_response(response, limits.max_body_bytes, "GET", url)
    data = loads_json(body, limits.max_depth, "GET", url)

Every HTTP path that reads from a site or a token endpoint -- the Jira client, cloudId discovery
and the token clients of the operator and the refresh job -- reads bodies through
:func:`read_body`, so decompression is bounded in one place: compressed bytes are inflated a chunk
at a time and never beyond the cap, so 97 KB of gzip cannot become 100 MB in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from jiradrift.jira.errors import DeadlineExceeded, MalformedResponse, ResponseTooDeep, ResponseTooLarge

MiB = 1024 * 1024
# What the clients ask for: the encodings read_body can inflate with a bound.
ACCEPT_ENCODING = "gzip, deflate"


@dataclass(frozen=True)
class ResponseLimits:
    """Bounds on what one site can cost us. Each default is far above what a genuine Jira sends.

    - ``max_body_bytes``: one response body, after decompression (default 32 MiB; the largest
      Jira configuration page is a few MiB).
    - ``max_depth``: JSON nesting (default 64; Jira configuration nests less than ~15 levels).
    - ``request_deadline``: wall-clock seconds for one request, from sending it to the last byte of
      its body (default 60). The transport's read timeout restarts with every byte, so it cannot
      stop a body trickled one byte a second; this does.
    - ``max_pages``: pages of one listing (default 10,000); reaching it is an error, never "complete".
    - ``max_wait``: seconds a ``Retry-After`` or quota pause may make us wait (default 300); a site
      asking for longer (``inf``, a date next year) fails the request instead.
    """

    max_body_bytes: int = 32 * MiB
    max_depth: int = 64
    request_deadline: float = 60.0
    max_pages: int = 10_000
    max_wait: float = 300.0

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_depth", "request_deadline", "max_pages"):
            if not getattr(self, name) > 0:
                raise ValueError(f"ResponseLimits.{name} must be positive, got {getattr(self, name)!r}")
        if not 0 <= self.max_wait < float("inf"):
            raise ValueError(f"ResponseLimits.max_wait must be finite and >= 0, got {self.max_wait!r}")


DEFAULT_LIMITS = ResponseLimits()


def _size(n: int) -> str:
    return f"{n / MiB:.1f} MiB" if n >= MiB else f"{n} bytes"


class _Inflater:
    """Content-Encoding decoding that never produces more than ``room`` bytes per call."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._zlib: Any = None
        if encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 16)
        self._first = True

    def feed(self, data: bytes, room: int) -> tuple[bytes, bool]:
        """Inflate ``data``; returns (output of at most ``room`` bytes, whether more output was pending)."""
        if self.encoding == "deflate" and self._zlib is None:
            # Servers send either zlib-wrapped or raw deflate under this name (as httpx allows).
            self._zlib = zlib.decompressobj()
            try:
                return self._inflate(data, room)
            except zlib.error:
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
        return self._inflate(data, room)

    def _inflate(self, data: bytes, room: int) -> tuple[bytes, bool]:
        out: bytes = self._zlib.decompress(data, room)
        return out, bool(self._zlib.unconsumed_tail)

    def finish(self, room: int) -> bytes:
        return b"" if self._zlib is None else bytes(self._zlib.flush(room))


async def read_body(
    chunks: AsyncIterator[bytes], content_encoding: str | None, limit: int, method: str, url: str
) -> bytes:
    """Read a body from ``chunks`` (as sent on the wire), decode its Content-Encoding, and stop with
    ResponseTooLarge as soon as the wire bytes or the decoded bytes pass ``limit``."""
    encoding = (content_encoding or "identity").strip().lower()
    inflater = None
    if encoding not in ("", "identity"):
        if encoding not in ("gzip", "x-gzip", "deflate"):
            raise ResponseTooLarge(
                method,
                url,
                f"the response uses Content-Encoding {encoding[:40]!r}, which was not asked for "
                f"(we accept {ACCEPT_ENCODING}) and cannot be decoded with a size bound",
            )
        inflater = _Inflater(encoding)
    parts: list[bytes] = []
    wire = size = 0
    try:
        async for chunk in chunks:
            wire += len(chunk)
            if inflater is None:
                size += len(chunk)
                if size > limit:
                    raise ResponseTooLarge(method, url, f"the response body exceeded {_size(limit)}")
                parts.append(chunk)
                continue
            if wire > limit:
                raise ResponseTooLarge(method, url, f"the compressed response body exceeded {_size(limit)}")
            out, pending = inflater.feed(chunk, limit - size + 1)
            size += len(out)
            if size > limit or pending:
                raise ResponseTooLarge(
                    method,
                    url,
                    f"the response body exceeded {_size(limit)} after decompression "
                    f"({_size(wire)} of {encoding} on the wire so far: a compression bomb)",
                )
            parts.append(out)
        if inflater is not None:
            tail = inflater.finish(limit - size + 1)
            if size + len(tail) > limit:
                raise ResponseTooLarge(method, url, f"the response body exceeded {_size(limit)} after decompression")
            parts.append(tail)
    except zlib.error as exc:
        raise MalformedResponse(method, url, f"the {encoding} body cannot be decoded ({exc})") from None
    return b"".join(parts)


async def read_response(response: httpx.Response, limit: int, method: str, url: str) -> bytes:
    """:func:`read_body` for an httpx response sent with ``stream=True`` (the caller closes it)."""
    try:
        content = response.content  # a transport that built its response from bytes (tests)
    except httpx.ResponseNotRead:
        return await read_body(response.aiter_raw(), response.headers.get("Content-Encoding"), limit, method, url)
    return await read_body(_once(content), None, limit, method, url)


async def _once(content: bytes) -> AsyncIterator[bytes]:
    yield content


def decoded(response: httpx.Response, content: bytes) -> httpx.Response:
    """A copy of a streamed ``response`` holding its already-decoded ``content``."""
    skip = {"content-encoding", "content-length", "transfer-encoding"}
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in skip]
    return httpx.Response(
        response.status_code,
        headers=headers,
        content=content,
        request=response.request,
        extensions={"http_version": response.extensions.get("http_version", b"HTTP/1.1")},
    )


@contextlib.asynccontextmanager
async def deadline(seconds: float, method: str, url: str) -> AsyncIterator[None]:
    """Raise DeadlineExceeded if the block (a request and the reading of its body) takes longer
    than ``seconds`` of wall-clock time, however the bytes dribble in."""
    timer = asyncio.timeout(seconds)
    try:
        async with timer:
            yield
    except TimeoutError:
        if timer.expired():
            raise DeadlineExceeded(method, url, f"no complete response within the {seconds:g} s deadline") from None
        raise


# A JSON document's nesting, judged on its bytes before parsing: only brackets outside strings count.
_ESCAPED_BACKSLASH, _ESCAPED_QUOTE = b"\\\\", b'\\"'
_KEEP = b'[]{}"'
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in _KEEP)
_PARENS = bytes.maketrans(b"[]{}", b"()()")


def _without_strings(skeleton: bytes) -> bytes:
    # After the translate only quotes and brackets remain; strings are now '"' brackets* '"'.
    out = []
    inside = False
    for piece in skeleton.split(b'"'):
        if not inside:
            out.append(piece)
        inside = not inside
    return b"".join(out)


def nesting_exceeds(body: bytes, max_depth: int) -> bool:
    """True when the JSON in ``body`` nests deeper than ``max_depth`` arrays/objects. Linear in the
    body and done with bytes operations, so a hostile document costs no Python recursion."""
    if body.count(b"[") + body.count(b"{") <= max_depth:
        return False  # cannot nest deeper than it has brackets
    text = body.replace(_ESCAPED_BACKSLASH, b"").replace(_ESCAPED_QUOTE, b"")
    skeleton = _without_strings(text.translate(None, _NOT_STRUCTURE)).translate(_PARENS)
    for _ in range(max_depth):
        shorter = skeleton.replace(b"()", b"")
        if len(shorter) == len(skeleton):
            return False  # empty, or unbalanced leftovers (truncated): the parser reports that
        skeleton = shorter
    return b"()" in skeleton


def loads_json(body: bytes, max_depth: int, method: str, url: str) -> Any:
    """``orjson.loads`` after refusing a document nested deeper than ``max_depth`` (which would make
    every recursive consumer -- normalising, hashing, diffing -- raise RecursionError)."""
    if nesting_exceeds(body, max_depth):
        raise ResponseTooDeep(method, url, f"the JSON response nests deeper than {max_depth} levels")
    return orjson.loads(body)
