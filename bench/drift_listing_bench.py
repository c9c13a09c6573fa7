"""Drift listing benchmark: a page of 100 events from a tenant with 100k events (target < 100 ms).

    .venv/bin/python bench/drift_listing_bench.py [--events 100000] [--per-snapshot 100]

Builds a FilesystemStore holding ``events / per-snapshot`` snapshots of one tenant, each with a
stored drift report of ``per-snapshot`` changes (plus a second tenant of the same size, so the
listing must ignore it), then times ``list_drift_events`` for the first page, a page in the middle
and the last page (each reached by its cursor), and a whole-report read of one snapshot as a named
baseline for "load it all". Prints each time and its ratio to the 100 ms target.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import orjson

from jiradrift.model.kinds import Severity
from jiradrift.model.manifest import Manifest
from jiradrift.model.report import Change, ChangeOp, DriftReport
from jiradrift.snapshot.drift import DriftPage, StoreDriftSource, list_drift_events
from jiradrift.store.filesystem import FilesystemStore

TARGET_S = 0.100


async def build(store: FilesystemStore, tenant: str, snapshots: int, per_snapshot: int) -> None:
    body = orjson.dumps({"name": "x"})
    digest = hashlib.sha256(body).hexdigest()
    await store.put_item(digest, body)
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    for s in range(snapshots):
        sid = f"{tenant}-workflows-{s:05d}"
        await store.put_manifest(
            Manifest(
                snapshot_id=sid,
                tenant=tenant,
                type="workflows",
                captured_at=t0 + timedelta(hours=s),
                items={f"workflow/{s}": digest},
            )
        )
        changes = [
            Change(
                f"workflow/{s}-{i}",
                ChangeOp.MODIFIED,
                f"transitions[{i % 7}].name",
                Severity.MEDIUM,
                f"Old name {i}",
                f"New name {i}",
            )
            for i in range(per_snapshot)
        ]
        await store.put_drift(
            DriftReport(
                tenant=tenant,
                type="workflows",
                new_snapshot=sid,
                old_snapshot=None,
                changed=per_snapshot,
                changes=changes,
            )
        )


async def timed(runs: int, fn: Callable[[], Awaitable[object]]) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--per-snapshot", type=int, default=100)
    parser.add_argument("--limit", type=int, default=100)
    asyncio.run(run(parser.parse_args()))


async def run(args: argparse.Namespace) -> None:
    snapshots = args.events // args.per_snapshot

    with tempfile.TemporaryDirectory() as tmp:
        store = FilesystemStore(tmp, durable=False)
        t = time.perf_counter()
        for tenant in ("acme", "globex"):
            await build(store, tenant, snapshots, args.per_snapshot)
        print(
            f"built 2 tenants x {snapshots:,} snapshots x {args.per_snapshot} changes in "
            f"{time.perf_counter() - t:.1f} s (not measured)"
        )
        source = StoreDriftSource(store)

        # Cursors for the middle and the last page, found by walking once (not measured).
        cursors: dict[str, str | None] = {"first": None}
        page: DriftPage = await list_drift_events(source, "acme", None, args.limit)
        pages = 1
        assert page.total_count == args.events, page.total_count
        middle = (args.events // args.limit) // 2
        while page.has_more:
            pages += 1
            if pages == middle:
                cursors["middle"] = page.next_cursor
            if page.total_count - (page.page * page.limit) <= page.limit:
                cursors["last"] = page.next_cursor
            page = await list_drift_events(source, "acme", page.next_cursor, args.limit)
        assert pages == -(-args.events // args.limit), pages

        print(f"\nlist_drift_events(tenant with {args.events:,} events, limit {args.limit}); median of 20:")
        worst = 0.0
        for name, cursor in cursors.items():
            result = await list_drift_events(source, "acme", cursor, args.limit)
            assert len(result.items) == args.limit, (name, len(result.items))
            seconds = await timed(20, lambda c=cursor: list_drift_events(source, "acme", c, args.limit))  # type: ignore[misc]
            worst = max(worst, seconds)
            print(
                f"  {name + ' page':<14} page {result.page:>5}  {seconds * 1000:8.2f} ms   "
                f"{seconds / TARGET_S:6.3f} of the 100 ms target ({TARGET_S / seconds:5.1f}x headroom)"
            )

        async def load_every_report() -> list[object]:
            return [await store.get_drift(i.snapshot_id) for i in await store.list_snapshots("acme")]

        load_all = await timed(3, load_every_report)
        print(
            f"  baseline: loading every report of the tenant: {load_all * 1000:8.1f} ms "
            f"({load_all / worst:.0f}x the slowest page)"
        )
        verdict = "PASS" if worst < TARGET_S else "FAIL"
        print(f"\nworst page / target = {worst / TARGET_S:.3f}  ->  {verdict} (< 100 ms)")


if __name__ == "__main__":
    main()
