"""The zstd codec both stores share: round trips, one (de)compressor per thread, the output bound."""

from __future__ import annotations

import threading
from typing import Any, cast

import pytest
import zstandard

from jiradrift.store.codec import ZstdCodec


def unsized_frame(data: bytes) -> bytes:
    """A frame that does not declare its content size (any zstd writer may produce one)."""
    return zstandard.ZstdCompressor(write_content_size=False).compress(data)


def test_a_round_trip_gives_back_the_bytes() -> None:
    codec = ZstdCodec(level=9)
    data = b"workflow " * 1000
    packed = codec.compress(data)
    assert len(packed) < len(data)
    assert codec.decompress(packed) == data


def test_each_thread_gets_its_own_compressor_pair() -> None:
    codec = ZstdCodec()
    pairs = []

    def work() -> None:
        assert codec.decompress(codec.compress(b"abc")) == b"abc"
        pairs.append(codec._pair())

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    work()
    assert len({id(p[0]) for p in pairs}) == 3 and len({id(p[1]) for p in pairs}) == 3


def test_max_output_size_bounds_a_frame_without_a_declared_size() -> None:
    codec = ZstdCodec(max_output_size=1024)
    assert codec.decompress(unsized_frame(b"x" * 1024)) == b"x" * 1024
    with pytest.raises(zstandard.ZstdError):
        codec.decompress(unsized_frame(b"x" * 4096))


def test_without_a_bound_a_frame_must_declare_its_size() -> None:
    with pytest.raises(zstandard.ZstdError, match="content size"):
        ZstdCodec().decompress(unsized_frame(b"x" * 10))


def test_a_frame_declaring_a_size_over_the_bound_is_refused_before_expanding() -> None:
    big = zstandard.ZstdCompressor().compress(b"\0" * 100_000)  # declares its 100,000-byte content size
    assert zstandard.frame_content_size(big) == 100_000
    with pytest.raises(zstandard.ZstdError, match="declares 100000 bytes"):
        ZstdCodec(max_output_size=1024).decompress(big)
    assert ZstdCodec(max_output_size=200_000).decompress(big) == b"\0" * 100_000


def test_every_tenants_store_shares_the_process_codec() -> None:
    """A zstd context keeps ~260 KiB of work buffers after first use: one pair per tenant's store was
    250 MiB at 1,000 tenants. Stores share one codec per level and bound instead."""
    from jiradrift.kube.client import Kube
    from jiradrift.store.codec import shared_codec
    from jiradrift.store.configmap import ConfigMapStore, SecretStore

    kube = Kube(cast(Any, None))  # never called: building a store makes no request
    stores = [ConfigMapStore(kube, "ns", f"ns/t{i}") for i in range(3)] + [SecretStore(kube, "ns", "ns/t9")]
    assert {id(store._codec) for store in stores} == {id(shared_codec(3))}
    assert shared_codec(3, max_output_size=1024) is not shared_codec(3), "a different bound is a different codec"
    assert stores[0]._decompress(stores[1]._compress(b"priority " * 100)) == b"priority " * 100
