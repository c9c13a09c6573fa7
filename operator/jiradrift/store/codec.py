"""The zstd codec every store compresses bodies, manifests and drift chunks with, and the one bounded
decoder every store reads them back with.

What a store holds is untrusted input: anyone who may create a Secret, a ConfigMap, a file or an
object where the store lives may plant one (a 32 KB frame declaring 1 GiB, say). Every read goes
through :meth:`ZstdCodec.decode` / :meth:`ZstdCodec.decode_json`: at most ``MAX_EXPANDED_BYTES``
come out of one object, and anything that is not zstd or JSON raises
:class:`~jiradrift.model.store_errors.CorruptStoredObject`, which readers skip with a warning.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import orjson
import zstandard

from jiradrift.model.store_errors import CorruptStoredObject

log = logging.getLogger(__name__)

#: What one stored object may expand to. Far above any real manifest, items index or body (a site
#: of 100,000 items has a manifest of some 10 MiB), far below the chart's memory limit.
MAX_EXPANDED_BYTES = 64 * 1024 * 1024


_WARNED: set[str] = set()  # messages already logged (bounded below): a bad object warns once, not per read
_SKIPPED = [0]  # reads skipped since the process started


def skipped_total() -> int:
    """How many reads skipped a bad stored object since the process started (the operator exports it
    as ``jiradrift_store_objects_skipped``)."""
    return _SKIPPED[0]


def skip(exc: CorruptStoredObject) -> None:
    """A reader skips a bad stored object: count it, and warn once per object and problem."""
    _SKIPPED[0] += 1
    message = str(exc)
    if message in _WARNED:
        return
    if len(_WARNED) > 10_000:
        _WARNED.clear()
    _WARNED.add(message)
    log.warning("%s", message)


def load_json(data: bytes, what: str, where: str) -> Any:
    """``data`` parsed as JSON, or CorruptStoredObject naming ``what`` (in ``where``)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise CorruptStoredObject(what, where, f"not JSON: {exc}") from None


class ZstdCodec:
    """zstd compression at one level, with a (de)compressor per thread.

    zstandard (de)compressors must not be shared between threads, and the stores run in worker
    threads as well as on the event loop. ``max_output_size`` bounds what one ``decompress`` may
    produce (0, the default, leaves it to the frame's declared content size), so a small hostile
    object cannot expand without limit; a frame over the bound raises ``zstandard.ZstdError``.
    """

    def __init__(self, level: int = 3, *, max_output_size: int = 0) -> None:
        self.level = level
        self.max_output_size = max_output_size
        self._local = threading.local()

    def _pair(self) -> tuple[zstandard.ZstdCompressor, zstandard.ZstdDecompressor]:
        pair: tuple[zstandard.ZstdCompressor, zstandard.ZstdDecompressor] | None = getattr(self._local, "pair", None)
        if pair is None:
            pair = (zstandard.ZstdCompressor(level=self.level), zstandard.ZstdDecompressor())
            self._local.pair = pair
        return pair

    def compress(self, data: bytes) -> bytes:
        return self._pair()[0].compress(data)

    def decompress(self, data: bytes) -> bytes:
        if self.max_output_size:
            # zstandard honours max_output_size only for frames that do not declare their size; a
            # frame declaring a huge size would be expanded to it, so refuse that before expanding.
            declared = zstandard.frame_content_size(data)
            if declared > self.max_output_size:
                raise zstandard.ZstdError(
                    f"frame declares {declared} bytes, over the {self.max_output_size}-byte limit"
                )
        return self._pair()[1].decompress(data, max_output_size=self.max_output_size)

    def decode(self, data: bytes, what: str, where: str) -> bytes:
        """Decompress a stored object (bounded by ``max_output_size``); CorruptStoredObject when it
        is not zstd or would expand past the bound, before it is expanded."""
        try:
            return self.decompress(data)
        except zstandard.ZstdError as exc:
            raise CorruptStoredObject(what, where, f"not valid zstd data, or over the bound: {exc}") from None

    def decode_json(self, data: bytes, what: str, where: str) -> Any:
        """:meth:`decode`, then JSON."""
        return load_json(self.decode(data, what, where), what, where)


_SHARED: dict[tuple[int, int], ZstdCodec] = {}


def shared_codec(level: int = 3, *, max_output_size: int = MAX_EXPANDED_BYTES) -> ZstdCodec:
    """The process's one codec for ``level`` and bound, shared by every store object (bounded by
    default: see the module docs).

    A zstd context keeps its work buffers after first use (about 260 KiB a compressor and
    decompressor at level 3): a pair per tenant's store was some 250 MiB of an operator's memory at
    1,000 tenants. Per thread is enough: a (de)compression runs to its end without yielding."""
    key = (level, max_output_size)
    codec = _SHARED.get(key)
    if codec is None:
        codec = _SHARED[key] = ZstdCodec(level, max_output_size=max_output_size)
    return codec
