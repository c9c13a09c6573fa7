"""Incremental capture: Jira requests per quiet window and per window with 1, 10 and 100 changed
objects, as a ratio of a full capture measured in the same run (issue 26: quiet <= 0.01).

    .venv/bin/python bench/incremental_bench.py [--sizes large,xl]

The emulator runs on a manual clock in this process (request counts, not timings, are measured);
changes are the emulator's admin mutations on distinct objects of several kinds, audited and not.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from jiradrift.jira.auth import ApiTokenAuth
from jiradrift.jira.client import ClientSettings, JiraClient
from jiradrift.model.snapshot_types import SnapshotType
from jiradrift.sim.clock import ManualClock
from jiradrift.sim.emulator import Emulator, RunningEmulator
from jiradrift.snapshot.incremental import capture_window
from jiradrift.store.filesystem import FilesystemStore


def changes(sim: RunningEmulator, n: int, tag: str) -> list[Callable[[], Any]]:
    """``n`` mutations of distinct objects, cycling through kinds."""
    site, admin = sim.site, sim.admin
    makers: list[Callable[[int], Callable[[], Any]]] = [
        lambda i: lambda: admin.change_workflow(workflow=site.workflows[i]["id"], description=f"{tag} {i}"),
        lambda i: lambda: admin.rename_status(status_id=site.statuses[i]["id"], name=f"Status {tag} {i}"),
        lambda i: lambda: admin.rename_project(project=site.projects[i]["key"], name=f"Project {tag} {i}"),
        lambda i: lambda: admin.rename_field(field_id=site.custom_fields[i]["id"], name=f"Field {tag} {i}"),
        lambda i: lambda: admin.rename_priority(priority_id=site.priorities[i % 5]["id"], name=f"P {tag} {i}"),
        lambda i: (
            lambda: admin.rename_field_configuration(
                field_configuration_id=site.field_configurations[i]["id"], name=f"FC {tag} {i}"
            )
        ),
    ]
    return [makers[i % len(makers)](i // len(makers)) for i in range(n)]


async def run(size: str) -> dict[str, Any]:
    clock = ManualClock()
    with Emulator(size=size, seed=1, clock=clock).running() as sim:
        c = sim.credentials
        jira = await JiraClient.connect(
            sim.base_url,
            ApiTokenAuth(c.email, c.api_token),
            settings=ClientSettings(max_concurrency=16, requests_per_second=100_000, timeout=120),
            rng=random.Random(1),
        )
        store = FilesystemStore(tempfile.mkdtemp(prefix="jiradrift-incr-bench-"))
        count = [0]

        async def window(full: bool = False) -> Any:
            count[0] += 1
            n = count[0]
            clock.advance(300)
            return await capture_window(
                jira,
                store,
                tenant="bench",
                types=list(SnapshotType),
                captured_at=datetime.fromtimestamp(clock.now(), UTC),
                snapshot_id=lambda t: f"bench-{t}-{n:03d}",
                full=full,
            )

        async with jira:
            full = await window(full=True)
            out: dict[str, Any] = {"full": full.requests, "items": sum(len(m.items) for m in full.manifests)}
            quiet = await window()
            out["quiet"] = quiet.requests
            for n in (1, 10, 100):
                for change in changes(sim, n, f"w{n}"):
                    change()
                w = await window()
                assert all(m.complete for m in w.manifests)
                out[f"changed_{n}"] = (w.requests, w.reread)
                await window()  # settle: the overlap re-serves this window's records once more
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="large,xl")
    args = parser.parse_args()
    for size in args.sizes.split(","):
        r = asyncio.run(run(size))
        full = r["full"]
        print(f"{size}: full capture {full} requests ({r['items']} items)")
        print(f"{size}: quiet window {r['quiet']} requests, ratio {r['quiet'] / full:.4f} (target <= 0.01)")
        for n in (1, 10, 100):
            req, reread = r[f"changed_{n}"]
            print(f"{size}: {n:>3} changed objects: {req} requests ({reread} objects re-read), ratio {req / full:.4f}")


if __name__ == "__main__":
    main()
