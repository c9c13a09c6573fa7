"""The zstd codec the filesystem and S3 stores compress bodies, manifests and drift chunks with."""

from __future__ import annotations

import threading

import zstandard


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


_SHARED: dict[tuple[int, int], ZstdCodec] = {}


def shared_codec(level: int = 3, *, max_output_size: int = 0) -> ZstdCodec:
    """The process's one codec for ``level`` and bound, shared by every store object.

    A zstd context keeps its work buffers after first use (about 260 KiB a compressor and
    decompressor at level 3): a pair per tenant's store was some 250 MiB of an operator's memory at
    1,000 tenants. Per thread is enough: a (de)compression runs to its end without yielding."""
    key = (level, max_output_size)
    codec = _SHARED.get(key)
    if codec is None:
        codec = _SHARED[key] = ZstdCodec(level, max_output_size=max_output_size)
    return codec
