"""The child process of test_inflight_memory.py: many tenants' captures at once in one process, as the
operator runs them (one response memory budget and one manifest item budget shared by every client).

    python memory_child.py AS_LIMIT_BYTES OUT TENANTS CONCURRENCY HOSTILE_URL EMAIL TOKEN HEALTHY_URL EMAIL TOKEN

``AS_LIMIT_BYTES`` caps the address space, only so that a run without a bound cannot take the test
machine's memory (the test judges the peak RSS, which is what a pod's memory limit counts: orjson
reserves address space it never touches). Prints one line per capture (``tenant complete errors
first-error``), ``peak-budget N`` (response bytes) and ``peak-items N`` (manifest items); exits 0
when every capture ended, complete or not.
"""

from __future__ import annotations

import asyncio
import resource
import sys
from datetime import UTC, datetime
from pathlib import Path


def main() -> None:
    limit = int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    out, tenants, concurrency = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    hostile, healthy = tuple(sys.argv[5:8]), tuple(sys.argv[8:11])

    from jiradrift.jira.auth import ApiTokenAuth
    from jiradrift.jira.budget import ByteBudget, ItemBudget
    from jiradrift.jira.client import ClientSettings, JiraClient
    from jiradrift.jira.limits import DEFAULT_LIMITS
    from jiradrift.snapshot.capture import capture_snapshot
    from jiradrift.store.filesystem import FilesystemStore

    async def run() -> None:
        budget = ByteBudget(DEFAULT_LIMITS.max_inflight_bytes)  # the operator's: one per process
        items = ItemBudget(DEFAULT_LIMITS.max_process_items)  # the operator's: one per process
        settings = ClientSettings(max_concurrency=concurrency, requests_per_second=100_000, budget=budget, items=items)
        sites = [hostile] * tenants + [healthy]

        async def capture(i: int, site: tuple[str, ...]) -> str:
            name = f"t{i}" if site == hostile else "healthy"
            url, email, token = site
            async with await JiraClient.connect(url, ApiTokenAuth(email, token), settings=settings) as jira:
                m = await capture_snapshot(
                    jira,
                    FilesystemStore(Path(out)),
                    tenant=name,
                    snapshot_type="priorities",
                    snapshot_id=f"{name}-priorities",
                    captured_at=datetime.now(UTC),
                )
            first = m.errors[0].message if m.errors else ""
            return f"{name} {m.complete} {len(m.errors)} {first}"

        for line in await asyncio.gather(*(capture(i, s) for i, s in enumerate(sites))):
            print(line, flush=True)
        print(f"peak-budget {budget.peak}", flush=True)
        print(f"peak-items {items.peak}", flush=True)

    asyncio.run(run())


if __name__ == "__main__":
    main()
