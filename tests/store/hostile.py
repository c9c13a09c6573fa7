"""Hostile stored objects for the tests that plant them (test tooling, not shipped)."""

from __future__ import annotations

import functools
import io

import zstandard

GIB = 1 << 30


@functools.cache
def zstd_bomb(declared: int = GIB) -> bytes:
    """A small zstd frame of zeros that declares (and would expand to) ``declared`` bytes: some
    32 KB for 1 GiB. Written in 1 MiB steps, so making it never holds the expanded size."""
    out = io.BytesIO()
    zero = bytes(1 << 20)
    writer = zstandard.ZstdCompressor(level=1).stream_writer(out, size=declared, closefd=False)
    for _ in range(declared // len(zero)):
        writer.write(zero)
    writer.write(bytes(declared % len(zero)))
    writer.close()
    return out.getvalue()
