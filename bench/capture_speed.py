"""Capture wall time vs a sequential script built on the `jira` PyPI client library (target >= 5x).

    .venv/bin/python bench/capture_speed.py [--size large] [--latency-ms 30] [--types all|instance,fields,...]

Both sides read the same objects with the same request plan (the catalog's), against the same
emulator (in its own process, 30 ms injected latency per request), and must produce the same items:

- baseline: the catalog driven through ``jira.JIRA``'s own session (``requests`` with the library's
  retrying ``ResilientSession``, keep-alive), blocking calls, one request at a time, one snapshot
  type after another -- what a script written with that library does. Non-2xx answers raise the
  same errors ours do, so both sides skip the same objects.
- jiradrift: the async client, every snapshot type at once, paced by ``--concurrency`` requests in
  flight, a tenant-wide ``--rps`` cap and a per-endpoint ``--endpoint-rps`` cap (Jira Cloud's burst
  limit is per tenant, endpoint and method: 100 GET/s by default; we stay at 80).

The default is a full capture (all snapshot types) of a `large` site: an `xl` one takes the
sequential side about 12 minutes; ``--size xl`` works if you have the time. Printed: wall times,
requests and items of both sides, 429s, the busiest endpoint's peak requests in any one-second
window, and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import re
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).parent))
from capture_common import capture_all, emulator_process

ID_SEGMENT = re.compile(r"/[^/]*\d[^/]*")


class JiraLibraryReader:
    """The catalog's JiraReader on top of ``jira.JIRA``'s session: blocking, so strictly sequential."""

    def __init__(self, base_url: str, email: str, token: str) -> None:
        from jira import JIRA

        self.lib = JIRA(
            server=base_url,
            basic_auth=(email, token),
            options={"rest_api_version": "3"},
            get_server_info=False,
            max_retries=4,
        )
        self.base = base_url + "/rest/api/3"
        self.requests = 0
        self.site = base_url

    def _decode(self, method: str, path: str, response: Any) -> Any:
        from jiradrift.jira.client import http_error

        if not 200 <= response.status_code < 300:
            raise http_error(response.status_code, method, self.base + path, response.text[:200])
        return orjson.loads(response.content) if response.content else None

    async def get_json(self, path: str, params: Any = None) -> Any:
        self.requests += 1
        return self._decode("GET", path, self.lib._session.get(self.base + path, params=params))

    async def post_read(self, path: str, body: Any, params: Any = None) -> Any:
        self.requests += 1
        response = self.lib._session.post(
            self.base + path,
            params=params,
            data=orjson.dumps(body),
            headers={"Content-Type": "application/json"},
        )
        return self._decode("POST", path, response)


class RateRecorder:
    """In front of our client: when each call to each endpoint template finished (for the peak-rate check)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.times: dict[str, list[float]] = defaultdict(list)

    @property
    def stats(self) -> Any:
        return self.client.stats

    @property
    def site(self) -> str:
        return str(self.client.site)

    def _note(self, method: str, path: str) -> None:
        self.times[method + " " + ID_SEGMENT.sub("/{}", path)].append(time.monotonic())

    async def get_json(self, path: str, params: Any = None) -> Any:
        try:
            return await self.client.get_json(path, params)
        finally:
            self._note("GET", path)

    async def post_read(self, path: str, body: Any, params: Any = None) -> Any:
        try:
            return await self.client.post_read(path, body, params)
        finally:
            self._note("POST", path)

    def peak(self) -> tuple[str, int]:
        """The endpoint with the most calls in any one-second window, and that count."""
        best = ("-", 0)
        for endpoint, stamps in self.times.items():
            stamps.sort()
            for i, t in enumerate(stamps):
                n = bisect.bisect_left(stamps, t + 1.0) - i
                if n > best[1]:
                    best = (endpoint, n)
        return best


async def baseline(info: dict[str, Any], types: list[str]) -> dict[str, Any]:
    from jiradrift.snapshot.capture import capture_snapshot
    from jiradrift.store.filesystem import FilesystemStore

    c = info["credentials"]
    reader = JiraLibraryReader(info["base_url"], c["email"], c["api_token"])
    store = FilesystemStore(tempfile.mkdtemp(prefix="jiradrift-bench-lib-"))
    started = time.perf_counter()
    items = 0
    complete = True
    for t in types:  # one type after another, one request at a time
        m = await capture_snapshot(
            reader,  # type: ignore[arg-type]
            store,
            tenant="lib",
            snapshot_type=t,
            snapshot_id=f"lib-{t}",
            captured_at=datetime.now(UTC),
            max_parallel_sources=1,
        )
        items += len(m.items)
        complete = complete and m.complete
    return {
        "seconds": time.perf_counter() - started,
        "items": items,
        "requests": reader.requests,
        "complete": complete,
    }


def main() -> None:
    from jiradrift.model.snapshot_types import SnapshotType

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="large")
    parser.add_argument("--latency-ms", type=float, default=30)
    parser.add_argument("--types", default="all", help="comma-separated snapshot types, or 'all'")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rps", type=float, default=400, help="tenant-wide requests-per-second cap")
    parser.add_argument("--endpoint-rps", type=float, default=80, help="per-endpoint cap (Jira: 100 GET/s)")
    args = parser.parse_args()
    types = [t.value for t in SnapshotType] if args.types == "all" else [t.strip() for t in args.types.split(",")]
    recorders: list[RateRecorder] = []

    def wrap(client: Any) -> RateRecorder:
        recorders.append(RateRecorder(client))
        return recorders[-1]

    with emulator_process(args.size, args.latency_ms) as info:
        ours = asyncio.run(
            capture_all(
                info,
                types,
                concurrency=args.concurrency,
                rps=args.rps,
                endpoint_rps=args.endpoint_rps,
                reader_wrapper=wrap,
            )
        )
        base = asyncio.run(baseline(info, types))
    stats = ours["stats"]
    endpoint, peak = recorders[0].peak()
    print(f"date={datetime.now(UTC):%Y-%m-%dT%H:%MZ} site={args.size} latency={args.latency_ms}ms")
    print(f"types={','.join(types)}")
    print(
        f"pacing: concurrency={args.concurrency} tenant cap={args.rps:g} rps, "
        f"per-endpoint cap={args.endpoint_rps:g} rps"
    )
    print(
        f"jiradrift: {ours['seconds']:.1f}s items={ours['items']} requests={stats['requests_total']} "
        f"({stats['requests_total'] / ours['seconds']:.0f}/s) complete={ours['complete']} "
        f"429s={stats['requests_by_status'].get('429', 0)} retries={stats['retries']} "
        f"throttle-wait={stats['throttle_wait_seconds']:.0f}s"
    )
    print(f"busiest endpoint: {endpoint} peak {peak} requests in one second")
    print(
        f"jira lib sequential: {base['seconds']:.1f}s items={base['items']} requests={base['requests']} "
        f"({base['requests'] / base['seconds']:.0f}/s) complete={base['complete']}"
    )
    same = "same items" if base["items"] == ours["items"] else "ITEM COUNTS DIFFER"
    print(f"speed-up: {base['seconds'] / ours['seconds']:.1f}x (target >= 5x); {same}")


if __name__ == "__main__":
    main()
