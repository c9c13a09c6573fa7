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

from jiradrift.jira.budget import Claim
from jiradrift.jira.budget import MiB as MiB
from jiradrift.jira.budget import size_text as _size
from jiradrift.jira.errors import DeadlineExceeded, MalformedResponse, ResponseTooDeep, ResponseTooLarge
from jiradrift.limit import Limit

# What the clients ask for: the encodings read_body can inflate with a bound.
ACCEPT_ENCODING = "gzip, deflate"


# The snapshot types whose genuine captures read long listings per object, and how many times
# ``max_capture_pages`` they may read: the ``xl`` site's screens read 2,750 pages past the 20th of
# their listings (/screens/tabs per hundred screens); every other type of it reads none.
CAPTURE_PAGE_SCALE: dict[str, int] = {"screens": 10}


def _site_limit(name: str, default: int | float, flag: str, chart: str, help: str, **bounds: Any) -> Limit:
    return Limit(name, default, help, flag=flag, chart=f"operator.siteLimits.{chart}", **bounds)


# What one site may cost, declared once: ResponseLimits' fields, the options of `jiradrift run` and
# `jiradrift snapshot` (cmd/limits.py), and the chart's operator.siteLimits (tests/chart keep them equal).
SITE_LIMITS: tuple[Limit, ...] = (
    _site_limit(
        "max_body_bytes",
        32 * MiB,
        "--max-response-bytes",
        "maxResponseBytes",
        "Largest response body, after decompression.",
        minimum=1024,
    ),
    _site_limit("max_depth", 64, "--max-depth", "maxDepth", "Deepest JSON nesting accepted.", minimum=1),
    _site_limit(
        "request_deadline",
        60.0,
        "--request-deadline",
        "requestDeadline",
        "Wall-clock seconds for one request including its whole body.",
        minimum=0.1,
    ),
    _site_limit("max_pages", 5_000, "--max-pages", "maxPages", "Most pages read from one listing.", minimum=1),
    _site_limit(
        "max_wait",
        300.0,
        "--max-wait",
        "maxWait",
        "Longest Retry-After or quota pause honoured, in seconds; a site asking for more fails the request.",
        minimum=0,
        maximum=86400,
    ),
    _site_limit(
        "listing_deadline",
        600.0,
        "--listing-deadline",
        "listingDeadline",
        "Wall-clock seconds for one listing: all its pages with their retries.",
        minimum=0.1,
    ),
    _site_limit(
        "max_capture_pages",
        5_000,
        "--max-capture-pages",
        "maxCapturePages",
        "Most pages of long listings (past the 20th page of each) one capture (one snapshot type) reads.",
        minimum=1,
    ),
    _site_limit(
        "max_capture_items", 200_000, "--max-capture-items", "maxCaptureItems", "Most items in one capture.", minimum=1
    ),
    _site_limit(
        "capture_deadline",
        1800.0,
        "--capture-deadline",
        "captureDeadline",
        "Wall-clock seconds for one capture (one snapshot type); then it ends incomplete.",
        minimum=0.1,
    ),
    _site_limit(
        "max_inflight_bytes",
        128 * MiB,
        "--max-inflight-bytes",
        "maxInflightBytes",
        "Memory budget of all Jira responses being read or parsed at once in this process, every tenant "
        "together (at least twice --max-response-bytes).",
        minimum=2048,
    ),
    _site_limit(
        "max_process_items",
        200_000,
        "--max-process-items",
        "maxProcessItems",
        "Most manifest items held by all captures of this process at once, every tenant together (at least "
        "--max-capture-items); a capture that finds them spent ends incomplete.",
        minimum=1,
    ),
)
SITE_LIMIT = {limit.name: limit for limit in SITE_LIMITS}


def _default(name: str) -> Any:
    return SITE_LIMIT[name].default


@dataclass(frozen=True)
class ResponseLimits:
    """Bounds on what one site can cost us. Each default is far above what a genuine Jira sends.

    Per response and per request:

    - ``max_body_bytes``: one response body, after decompression (default 32 MiB; the largest
      Jira configuration page is a few MiB).
    - ``max_depth``: JSON nesting (default 64; Jira configuration nests less than ~15 levels).
    - ``request_deadline``: wall-clock seconds for one read, from sending it to the last byte of its
      body, *including its retries* after timeouts and broken connections (default 60). The
      transport's read timeout restarts with every byte, so it cannot stop a body trickled one byte
      a second; this does. Waits the site asks for (``Retry-After``) extend it by their length.
    - ``max_wait``: seconds a ``Retry-After`` or quota pause may make us wait (default 300); a site
      asking for longer (``inf``, a date next year) fails the request instead.

    Per listing, per capture (one snapshot type of one tenant) and per process:

    - ``max_pages``: pages of one listing (default 5,000: 250,000 items at Jira's usual 50 a page);
      reaching it is an error, never "complete".
    - ``listing_deadline``: wall-clock seconds for one listing, all its pages and their retries
      (default 600).
    - ``max_capture_pages``: pages of long listings in one capture, all listings together: each
      listing's pages past its 20th count (default 5,000; ``CAPTURE_PAGE_SCALE`` times that for the
      types that read long listings per object, see :meth:`capture_pages`). A genuine capture reads
      many short listings (the emulator's ``xl`` site: 10,000 pages for the fields type, one
      context listing per field, none past its 20th page); a site whose every listing runs away
      makes them all long.
    - ``max_capture_items``: items in one capture's manifest (default 200,000; the emulator's ``xl``
      site has 13,477 across all types).
    - ``capture_deadline``: wall-clock seconds for one capture (default 1,800).
    - ``max_inflight_bytes``: bytes of all responses being read or parsed at once in the process,
      every tenant together (default 128 MiB; see :mod:`jiradrift.jira.budget`). With the chart's
      512 MiB limit this leaves the rest to the operator's baseline (about 200 MiB at 1,000 tenants)
      and the captures' manifests. At least twice ``max_body_bytes`` (a body and its parse).
    - ``max_process_items``: manifest items held by all captures of the process at once, every
      tenant together (default 200,000; see :class:`jiradrift.jira.budget.ItemBudget`). A manifest
      item costs about 780 bytes while its capture runs (the entry, its body's digest queued for the
      store, the sorted copy and the JSON of the stored manifest): tests/cmd/test_run_inflight_memory.py
      measured 456 MiB peak RSS for the worst admitted settings with both process budgets full (and
      493 MiB with 250,000 items), under the chart's 512 MiB limit. At least ``max_capture_items``
      (one capture must be able to reach its own bound).
    """

    max_body_bytes: int = _default("max_body_bytes")
    max_depth: int = _default("max_depth")
    request_deadline: float = _default("request_deadline")
    max_pages: int = _default("max_pages")
    max_wait: float = _default("max_wait")
    listing_deadline: float = _default("listing_deadline")
    max_capture_pages: int = _default("max_capture_pages")
    max_capture_items: int = _default("max_capture_items")
    capture_deadline: float = _default("capture_deadline")
    max_inflight_bytes: int = _default("max_inflight_bytes")
    max_process_items: int = _default("max_process_items")

    def capture_pages(self, snapshot_type: str) -> int:
        """``max_capture_pages`` for a capture of ``snapshot_type``."""
        return self.max_capture_pages * CAPTURE_PAGE_SCALE.get(snapshot_type, 1)

    def __post_init__(self) -> None:
        for limit in SITE_LIMITS:
            limit.check(getattr(self, limit.name))
        if self.max_inflight_bytes < 2 * self.max_body_bytes:
            raise ValueError(
                f"{SITE_LIMIT['max_inflight_bytes'].where()} ({self.max_inflight_bytes}) must be at least twice "
                f"{SITE_LIMIT['max_body_bytes'].where()} ({self.max_body_bytes}): one largest body and its parse "
                "must fit"
            )
        if self.max_process_items < self.max_capture_items:
            raise ValueError(
                f"{SITE_LIMIT['max_process_items'].where()}: max_process_items ({self.max_process_items}) must be "
                f"at least max_capture_items ({self.max_capture_items}): one capture must be able to reach its "
                f"own bound ({SITE_LIMIT['max_capture_items'].where()})"
            )


DEFAULT_LIMITS = ResponseLimits()

# The most captures one operator process runs at once (``jiradrift run --max-concurrent-captures``,
# the chart's ``operator.maxConcurrentCaptures``): what tests/cmd/test_run_inflight_memory.py runs,
# with the most concurrency a JiraTenant admits, against hostile sites under the chart's memory limit.
MAX_CONCURRENT_CAPTURES = 64
CAPTURE_SLOTS = Limit(
    "max_concurrent_captures",
    32,
    "Captures this replica runs at once; further Snapshots wait Pending (bounds memory and API bursts). "
    f"At most {MAX_CONCURRENT_CAPTURES}: what tests/cmd/test_run_inflight_memory.py runs under the chart's "
    "memory limit; for more throughput run more replicas (operator.replicas).",
    minimum=1,
    maximum=MAX_CONCURRENT_CAPTURES,
    flag="--max-concurrent-captures",
    chart="operator.maxConcurrentCaptures",
)

# How hard the operator may read one site: JiraTenant spec.rateLimit (api/resources.RateLimit) and
# the client's defaults (jira/client.ClientSettings).
SITE_CONCURRENCY = Limit(
    "max_concurrency",
    8,
    "Concurrent requests to this site.",
    minimum=1,
    maximum=64,
    spec="spec.rateLimit.maxConcurrency",
)
SITE_REQUESTS_PER_SECOND = Limit(
    "requests_per_second",
    50.0,
    "Requests per second to this site, across all endpoints.",
    minimum=0.1,
    maximum=400,
    spec="spec.rateLimit.requestsPerSecond",
)


class _Inflater:
    """Content-Encoding decoding that never produces more than ``room`` bytes per call."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._zlib: Any = None
        if encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 16)

    def feed(self, data: bytes, room: int) -> bytes:
        """Inflate ``data`` into at most ``room`` bytes; what did not fit waits in :attr:`pending`."""
        if self.encoding == "deflate" and self._zlib is None:
            # Servers send either zlib-wrapped or raw deflate under this name (as httpx allows).
            self._zlib = zlib.decompressobj()
            try:
                return bytes(self._zlib.decompress(data, room))
            except zlib.error:
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
        return bytes(self._zlib.decompress(data, room))

    @property
    def pending(self) -> bytes:
        return bytes(self._zlib.unconsumed_tail) if self._zlib is not None else b""

    def finish(self, room: int) -> bytes:
        return b"" if self._zlib is None else bytes(self._zlib.flush(room))


# Decoded bytes taken from the process's budget before each inflate step (a bomb inflates 1,000:1,
# so a 64 KiB chunk off the wire is never inflated in one go).
INFLATE_STEP = 1 * MiB


async def read_body(
    chunks: AsyncIterator[bytes],
    content_encoding: str | None,
    limit: int,
    method: str,
    url: str,
    claim: Claim | None = None,
) -> bytes:
    """Read a body from ``chunks`` (as sent on the wire), decode its Content-Encoding, and stop with
    ResponseTooLarge as soon as the wire bytes or the decoded bytes pass ``limit``.

    With a ``claim`` every decoded byte is first taken from the process's
    :class:`~jiradrift.jira.budget.ByteBudget` (and kept until the claim is released)."""
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

    def bomb() -> ResponseTooLarge:
        return ResponseTooLarge(
            method,
            url,
            f"the response body exceeded {_size(limit)} after decompression "
            f"({_size(wire)} of {encoding} on the wire so far: a compression bomb)",
        )

    async def inflate(data: bytes) -> None:
        nonlocal size
        assert inflater is not None
        while True:
            room = min(INFLATE_STEP, limit - size + 1)
            if claim is not None:
                await claim.take(room)
            out = inflater.feed(data, room)
            if claim is not None:
                claim.give_back(room - len(out))
            size += len(out)
            if size > limit:
                raise bomb()
            parts.append(out)
            data = inflater.pending
            if not data:
                return

    try:
        async for chunk in chunks:
            wire += len(chunk)
            if inflater is None:
                size += len(chunk)
                if size > limit:
                    raise ResponseTooLarge(method, url, f"the response body exceeded {_size(limit)}")
                if claim is not None:
                    await claim.take(len(chunk))
                parts.append(chunk)
                continue
            if wire > limit:
                raise ResponseTooLarge(method, url, f"the compressed response body exceeded {_size(limit)}")
            await inflate(chunk)
        if inflater is not None:
            room = min(INFLATE_STEP, limit - size + 1)
            if claim is not None:
                await claim.take(room)
            tail = inflater.finish(room)
            if claim is not None:
                claim.give_back(room - len(tail))
            if size + len(tail) > limit:
                raise ResponseTooLarge(method, url, f"the response body exceeded {_size(limit)} after decompression")
            parts.append(tail)
    except zlib.error as exc:
        raise MalformedResponse(method, url, f"the {encoding} body cannot be decoded ({exc})") from None
    if len(parts) == 1:
        return parts[0]
    if claim is not None:
        await claim.take(size)  # the joined copy, while the parts still exist
        body = b"".join(parts)
        parts.clear()
        claim.give_back(size)
        return body
    return b"".join(parts)


async def read_response(
    response: httpx.Response, limit: int, method: str, url: str, claim: Claim | None = None
) -> bytes:
    """:func:`read_body` for an httpx response sent with ``stream=True`` (the caller closes it)."""
    try:
        content = response.content  # a transport that built its response from bytes (tests)
    except httpx.ResponseNotRead:
        encoding = response.headers.get("Content-Encoding")
        return await read_body(response.aiter_raw(), encoding, limit, method, url, claim)
    return await read_body(_once(content), None, limit, method, url, claim)


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
async def deadline(seconds: float, method: str, url: str, what: str = "") -> AsyncIterator[None]:
    """Raise DeadlineExceeded if the block (a request and the reading of its body) takes longer
    than ``seconds`` of wall-clock time, however the bytes dribble in. ``what`` replaces the
    message's default ("no complete response within the N s deadline")."""
    timer = asyncio.timeout(seconds)
    try:
        async with timer:
            yield
    except TimeoutError:
        if timer.expired():
            raise DeadlineExceeded(
                method, url, what or f"no complete response within the {seconds:g} s deadline"
            ) from None
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
