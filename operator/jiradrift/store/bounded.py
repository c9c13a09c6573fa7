"""Read an HTTP answer or a stored file up to a byte bound: an endpoint we do not control, or a
file someone planted, never fills our memory.

data = await read_bounded(response, limit, lambda: S3ResponseTooLarge("... over the limit"))
data = read_file_bounded(path, limit, "manifest of snapshot 'x'", "/data")
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import httpx

from jiradrift.model.store_errors import CorruptStoredObject


async def read_bounded(response: httpx.Response, limit: int, too_large: Callable[[], Exception]) -> bytes:
    """The streamed body of ``response``; raises ``too_large()`` as soon as it passes ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def read_file_bounded(path: Path, limit: int, what: str, where: str) -> bytes:
    """The bytes of ``path``; CorruptStoredObject naming ``what`` when it holds more than ``limit``
    (judged before reading, and while reading a file that grows; FileNotFoundError passes through)."""
    with open(path, "rb", buffering=0) as f:
        size = os.fstat(f.fileno()).st_size
        chunks: list[bytes] = []
        read = 0
        while size <= limit and (chunk := f.read(min(1 << 20, limit + 1 - read) or 1)):
            read += len(chunk)
            if read > limit:
                break
            chunks.append(chunk)
    if size > limit or read > limit:
        raise CorruptStoredObject(what, where, f"{max(size, read)} bytes, over the {limit}-byte limit")
    return b"".join(chunks)
