"""Read an HTTP answer up to a byte bound: an endpoint we do not control never fills our memory.

data = await read_bounded(response, limit, lambda: S3ResponseTooLarge("... over the limit"))
"""

from __future__ import annotations

from collections.abc import Callable

import httpx


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
