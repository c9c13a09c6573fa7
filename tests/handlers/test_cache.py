"""The operator's watch cache: grouping, moves between groups, deletion, and readiness against a LIST."""

from __future__ import annotations

import asyncio
import time

from jiradrift.handlers.cache import WatchCache, listed_uids
from jiradrift.handlers.runtime.caches import cached


def test_values_are_grouped_and_follow_their_object() -> None:
    cache: WatchCache[str, int] = WatchCache("things")
    cache.put("u1", "a", 1)
    cache.put("u2", "a", 2)
    cache.put("u3", "b", 3)
    assert sorted(cache.group("a")) == [1, 2] and cache.group("b") == [3] and len(cache) == 3
    cache.put("u1", "a", 10)  # a newer version of the same object replaces it
    assert sorted(cache.group("a")) == [2, 10]
    cache.put("u2", "b", 20)  # its group changed (a re-labelled object): it moves
    assert cache.group("a") == [10] and sorted(cache.group("b")) == [3, 20]
    assert cache.get("u2") == ("b", 20) and cache.get("u1") == ("a", 10)  # by uid, with its group
    cache.remove("u1")
    assert cache.get("u1") is None
    assert cache.group("a") == [] and sorted(cache.groups()) == ["b"], "an empty group goes"
    cache.remove("u-never-seen")  # a DELETED of an object never cached: nothing to do
    assert cache.first("b") in (3, 20) and cache.first("a") is None and len(cache) == 2


async def test_ready_once_the_watch_delivered_every_listed_object() -> None:
    cache: WatchCache[str, int] = WatchCache("things")
    cache.put("u1", "a", 1)  # the watch can be ahead of the LIST
    cache.expect({"u1", "u2", "u3"})
    assert not cache.ready
    cache.put("u2", "a", 2)
    assert not cache.ready
    cache.remove("u3")  # deleted: delivered as far as readiness goes
    assert cache.ready
    assert await cache.wait_ready(timeout=1.0)


async def test_an_empty_list_is_ready_at_once() -> None:
    cache: WatchCache[str, int] = WatchCache("things")
    cache.expect(set())
    assert await cache.wait_ready(timeout=1.0)


async def test_a_listed_object_that_never_arrives_stops_waiting_after_the_bound() -> None:
    cache: WatchCache[str, int] = WatchCache("things")
    cache.expect({"gone-before-the-watch-listed-it"})
    started = time.monotonic()
    assert not await cache.wait_ready(timeout=0.2)
    assert 0.2 <= time.monotonic() - started < 2.0
    assert cache.ready, "after the bound the operator goes on"


async def test_waiters_wake_when_the_last_object_arrives() -> None:
    cache: WatchCache[str, int] = WatchCache("things")
    cache.expect({f"u{i}" for i in range(3000)})
    waiter = asyncio.create_task(cache.wait_ready(timeout=10.0))
    for i in range(3000):
        cache.put(f"u{i}", f"g{i % 7}", i)
        if i == 2998:
            await asyncio.sleep(0)
            assert not waiter.done()
    assert await asyncio.wait_for(waiter, 2.0)


def test_listed_uids_skips_items_without_one() -> None:
    assert listed_uids([{"metadata": {"uid": "a"}}, {"metadata": {}}, {}]) == {"a"}


def test_a_cached_body_is_a_deep_copy_without_managed_fields() -> None:
    body = {
        "metadata": {"name": "acme", "labels": {"a": "b"}, "managedFields": [{"manager": "kubectl"}]},
        "spec": {"site": "https://acme.example", "snapshotTypes": ["workflows"]},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }
    kept = cached(body)
    assert kept == {
        "metadata": {"name": "acme", "labels": {"a": "b"}},
        "spec": {"site": "https://acme.example", "snapshotTypes": ["workflows"]},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }
    kept["spec"]["snapshotTypes"].append("fields")
    kept["metadata"]["labels"]["c"] = "d"
    kept["status"]["conditions"][0]["status"] = "False"
    assert body["spec"]["snapshotTypes"] == ["workflows"] and body["metadata"]["labels"] == {"a": "b"}
    assert body["status"]["conditions"][0]["status"] == "True"
    assert body["metadata"]["managedFields"] == [{"manager": "kubectl"}]
