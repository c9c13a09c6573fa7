"""S3 requests and bytes of the S3 store per capture, against a real S3-compatible server.

    .venv/bin/python bench/s3_calls.py                  # `large` site, every snapshot type
    .venv/bin/python bench/s3_calls.py --size medium

versitygw (built by tools/build-s3.sh) and the Jira emulator run on loopback. Every snapshot type of
the site is captured twice into one tenant: a first capture (empty bucket) and an unchanged one (same
site, new Snapshot ids). Requests are counted where the store meets the server (method, bytes sent,
bytes received). The Kubernetes API sees none of them: with the S3 store no payload goes to etcd.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchlib import versitygw

from jiradrift.jira.auth import ApiTokenAuth
from jiradrift.jira.client import ClientSettings, JiraClient
from jiradrift.model.snapshot_types import SnapshotType
from jiradrift.sim.emulator import Emulator, RunningEmulator
from jiradrift.snapshot.capture import capture_snapshot
from jiradrift.store.s3 import S3Store
from jiradrift.store.s3client import S3Client, S3Config
from jiradrift.store.sigv4 import Credentials

REPO = Path(__file__).resolve().parents[1]
AT = datetime(2026, 3, 1, tzinfo=UTC)


class Tally:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.sent = 0
        self.received = 0

    def describe(self) -> str:
        calls = ", ".join(f"{m} {n}" for m, n in sorted(self.calls.items()))
        return f"{sum(self.calls.values()):6d} requests ({calls}); sent {self.sent:,} B, received {self.received:,} B"


def counted(client: S3Client, tally: Tally) -> None:
    send = client._send

    async def counting(method: str, key: str | None, **kwargs: Any) -> Any:
        tally.calls[method] += 1  # answered or not (a HEAD of a missing body answers 404)
        tally.sent += len(kwargs.get("body") or b"")
        status, headers, data = await send(method, key, **kwargs)
        tally.received += len(data)
        return status, headers, data

    client._send = counting  # type: ignore[method-assign]


async def run(sim: RunningEmulator, endpoint: str, credentials: Credentials) -> None:
    c = sim.credentials
    settings = ClientSettings(max_concurrency=8, requests_per_second=10_000, timeout=60.0)
    async with (
        await JiraClient.connect(sim.base_url, ApiTokenAuth(c.email, c.api_token), settings=settings) as jira,
        S3Client.connect(S3Config(endpoint=endpoint, bucket="bench"), credentials) as root,
    ):
        await root.create_bucket()
        for label, hours in (("first", 0), ("unchanged", 1)):
            client = root.scoped("bench-ns")  # one client object per round, counted
            tally = Tally()
            counted(client, tally)
            items = 0
            started = time.perf_counter()
            for stype in SnapshotType:
                sid = f"acme-{stype.value}-{label}"
                manifest = await capture_snapshot(
                    jira,
                    S3Store(client),
                    tenant="bench-ns/acme",
                    snapshot_type=stype,
                    snapshot_id=sid,
                    captured_at=AT + timedelta(hours=hours),
                )
                items += len(manifest.items)
            elapsed = time.perf_counter() - started
            print(
                f"{label:9s} capture, {len(SnapshotType)} types, {items:6d} items: {tally.describe()}; {elapsed:.1f} s"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="large")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data, versitygw(Path(data)) as (endpoint, credentials, _):
        print(f"S3 store on versitygw, emulated site `{args.size}`, one tenant")
        with Emulator(size=args.size, seed=1).running() as sim:
            asyncio.run(run(sim, endpoint, credentials))


if __name__ == "__main__":
    main()
