"""Requests issued by a capture vs the minimum the page caps allow (target <= 1.05), with no 429 storm.

    .venv/bin/python bench/capture_requests.py [--size xl] [--latency-ms 30] [--endpoint-rps 80]

The minimum is derived from what Jira answered: for every listing (a path plus its non-paging query)
ceil(items / the page cap Jira echoed), at least 1; every unpaged read and every bulk-read batch is 1.
Anything above it is overhead: trailing empty pages, short pages, retries.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from capture_common import capture_all, emulator_process

PAGING = {"startAt", "maxResults", "maxResult", "nextPageToken", "offset", "limit"}


class Recorder:
    """A JiraReader in front of the client that notes, per listing, items and the echoed page cap."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.listings: dict[tuple[str, tuple[Any, ...]], list[int]] = defaultdict(
            lambda: [0, 0, 0]
        )  # items, cap, pages
        self.unpaged = 0

    @property
    def stats(self) -> Any:
        return self.client.stats

    @property
    def site(self) -> str:
        return str(self.client.site)

    async def get_json(self, path: str, params: Any = None) -> Any:
        data = await self.client.get_json(path, params)
        query = tuple(sorted((k, str(v)) for k, v in (params or []) if k not in PAGING))
        if isinstance(data, dict) and isinstance(data.get("values"), list) and "startAt" in data:
            entry = self.listings[(path, query)]
            entry[0] += len(data["values"])
            entry[1] = max(entry[1], int(data.get("maxResults") or 0))
            entry[2] += 1
        else:
            self.unpaged += 1
        return data

    async def post_read(self, path: str, body: Any, params: Any = None) -> Any:
        self.unpaged += 1
        return await self.client.post_read(path, body, params)

    def minimum(self) -> int:
        paged = sum(max(1, math.ceil(items / cap)) if cap else pages for items, cap, pages in self.listings.values())
        return paged + self.unpaged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", default="xl")
    parser.add_argument(
        "--jira-burst-limit",
        type=int,
        default=100,
        help="requests/s per endpoint the emulator allows before answering 429 jira-burst-based (0: off)",
    )
    parser.add_argument("--latency-ms", type=float, default=30)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rps", type=float, default=400, help="tenant-wide requests-per-second cap")
    parser.add_argument("--endpoint-rps", type=float, default=80, help="per-endpoint cap (Jira: 100 GET/s)")
    args = parser.parse_args()
    from jiradrift.model.snapshot_types import SnapshotType

    recorders: list[Recorder] = []

    def wrap(client: Any) -> Recorder:
        recorders.append(Recorder(client))
        return recorders[-1]

    with emulator_process(args.size, args.latency_ms, args.jira_burst_limit) as info:
        result = asyncio.run(
            capture_all(
                info,
                [t.value for t in SnapshotType],
                concurrency=args.concurrency,
                rps=args.rps,
                endpoint_rps=args.endpoint_rps,
                reader_wrapper=wrap,
            )
        )
    issued = result["stats"]["requests_total"]
    minimum = recorders[0].minimum()
    by_status = result["stats"]["requests_by_status"]
    print(
        f"site={args.size} latency={args.latency_ms}ms concurrency={args.concurrency} "
        f"rps-cap={args.rps:g} endpoint-rps-cap={args.endpoint_rps:g} "
        f"emulated Jira burst limit={args.jira_burst_limit or 'off'}/s per endpoint"
    )
    print(f"items={result['items']} complete={result['complete']} wall={result['seconds']:.1f}s")
    print(f"requests issued={issued} minimum={minimum} ratio={issued / minimum:.3f} (target <= 1.05)")
    print(
        f"status counts={by_status} 429s={by_status.get('429', 0)} "
        f"rate-limit waits={result['stats']['rate_limit_waits']}"
    )


if __name__ == "__main__":
    main()
