"""Read a response body up to a byte bound: an endpoint we do not control never fills our memory.

    data = await read_capped(response.aiter_bytes(), limit, lambda: TooLarge("... over the limit"))
    snippet = await read_head(response.aiter_raw(), 4096)

:func:`read_capped` refuses a body over the bound; :func:`read_head` keeps its start (for an error
message) and stops reading. The Jira and token-endpoint clients read through
:func:`jiradrift.jira.limits.read_body`, which adds bounded decompression and the process's
response memory budget on top of the same rule.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable


async def read_capped(chunks: AsyncIterable[bytes], limit: int, too_large: Callable[[], Exception]) -> bytes:
    """Every chunk, joined; raises ``too_large()`` as soon as more than ``limit`` bytes arrived."""
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise too_large()
        parts.append(chunk)
    return b"".join(parts)


async def read_head(chunks: AsyncIterable[bytes], limit: int) -> bytes:
    """The first ``limit`` bytes or so (whole chunks); the rest is left unread."""
    head = b""
    async for chunk in chunks:
        head += chunk
        if len(head) >= limit:
            break
    return head
