"""Bounded body reading: over the bound is refused as soon as it is passed; a head stops reading."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from jiradrift.net.body import read_capped, read_head


class TooLarge(Exception):
    pass


async def _chunks(read: list[int], *sizes: int) -> AsyncIterator[bytes]:
    for size in sizes:
        read.append(size)
        yield b"x" * size


async def test_a_body_within_the_bound_is_read_whole() -> None:
    read: list[int] = []
    assert await read_capped(_chunks(read, 3, 4, 3), 10, TooLarge) == b"x" * 10


async def test_a_body_over_the_bound_is_refused_at_the_chunk_that_passes_it() -> None:
    read: list[int] = []
    with pytest.raises(TooLarge):
        await read_capped(_chunks(read, 6, 6, 6, 6), 10, TooLarge)
    assert read == [6, 6]  # the rest is never pulled


async def test_a_head_keeps_the_start_and_stops_reading() -> None:
    read: list[int] = []
    assert await read_head(_chunks(read, 5, 5, 5, 5), 8) == b"x" * 10
    assert read == [5, 5]
