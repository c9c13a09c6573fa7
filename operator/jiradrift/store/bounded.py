"""Read a stored file up to a byte bound: a file someone planted never fills our memory.

data = read_file_bounded(path, limit, "manifest of snapshot 'x'", "/data")

(HTTP answers: :func:`jiradrift.net.body.read_capped`.)
"""

from __future__ import annotations

import os
from pathlib import Path

from jiradrift.model.store_errors import CorruptStoredObject


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
