"""Shared pieces of the capture benchmarks: an emulator in its own process (so it does not share a
GIL with the client being measured), and a capture driver."""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from benchlib import child_process


def _serve(size: str, latency_ms: float, burst_limit: int | None, conn: Any) -> None:
    from jiradrift.sim.emulator import Emulator

    with Emulator(size=size, seed=1, latency_ms=latency_ms, burst_limit=burst_limit).running() as emu:
        conn.send({"base_url": emu.base_url, "credentials": asdict(emu.credentials)})
        conn.recv()  # block until told to stop


@contextmanager
def emulator_process(size: str, latency_ms: float, burst_limit: int | None = None) -> Iterator[dict[str, Any]]:
    """The emulator in a child process; ``burst_limit`` makes it enforce Jira's per-endpoint
    burst limit (429 ``jira-burst-based`` above N requests/s per endpoint)."""
    with child_process(_serve, (size, latency_ms, burst_limit), "the emulator", start_timeout=120) as (info, _):
        yield info


async def capture_all(
    info: dict[str, Any],
    types: list[str],
    *,
    concurrency: int,
    rps: float,
    endpoint_rps: float | None = None,
    reader_wrapper: Any = None,
) -> dict[str, Any]:
    from jiradrift.jira.auth import ApiTokenAuth
    from jiradrift.jira.client import ClientSettings, JiraClient
    from jiradrift.snapshot.capture import capture_snapshot
    from jiradrift.store.filesystem import FilesystemStore

    c = info["credentials"]
    root = tempfile.mkdtemp(prefix="jiradrift-bench-")  # one store object per capture, one directory
    settings = ClientSettings(
        max_concurrency=concurrency,
        requests_per_second=rps,
        endpoint_requests_per_second=endpoint_rps,
        timeout=60,
    )
    jira = await JiraClient.connect(
        info["base_url"], ApiTokenAuth(c["email"], c["api_token"]), settings=settings, rng=random.Random(1)
    )
    reader = reader_wrapper(jira) if reader_wrapper else jira
    started = time.perf_counter()
    now = datetime.now(UTC)
    async with jira:
        manifests = await asyncio.gather(
            *(
                capture_snapshot(
                    reader,
                    FilesystemStore(root),
                    tenant="bench",
                    snapshot_type=t,
                    snapshot_id=f"bench-{t}",
                    captured_at=now,
                )
                for t in types
            )
        )
    return {
        "seconds": time.perf_counter() - started,
        "items": sum(len(m.items) for m in manifests),
        "complete": all(m.complete for m in manifests),
        "errors": sum(len(m.errors) for m in manifests),
        "stats": jira.stats.as_dict(),
    }
