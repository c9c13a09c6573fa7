"""Capture wall time vs a sequential script built on the `jira` PyPI client library (target >= 5x).

    .venv/bin/python bench/capture_speed.py [--size xl] [--latency-ms 30] [--types instance,issuetypes,...]

Both sides read the same objects with the same request plan (the catalog's), against the same
emulator (in its own process, 30 ms injected latency): the baseline drives the catalog through the
`jira` library's session with blocking calls, one request at a time, as a script written with that
library would; ours uses the async client with its default pacing raised to --concurrency/--rps.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).parent))
from capture_common import capture_all, emulator_process

DEFAULT_TYPES = "instance,issuetypes,workflows,priorities,schemes,projects"


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

    async def get_json(self, path: str, params: Any = None) -> Any:
        self.requests += 1
        response = self.lib._session.get(self.base + path, params=params)
        return orjson.loads(response.content)

    async def post_read(self, path: str, body: Any, params: Any = None) -> Any:
        self.requests += 1
        response = self.lib._session.post(self.base + path, params=params, data=orjson.dumps(body))
        return orjson.loads(response.content)


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
            reader,
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
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", default="xl")
    parser.add_argument("--latency-ms", type=float, default=30)
    parser.add_argument("--types", default=DEFAULT_TYPES)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rps", type=float, default=400)
    args = parser.parse_args()
    types = [t.strip() for t in args.types.split(",")]
    with emulator_process(args.size, args.latency_ms) as info:
        ours = asyncio.run(capture_all(info, types, concurrency=args.concurrency, rps=args.rps))
        base = asyncio.run(baseline(info, types))
    print(f"site={args.size} latency={args.latency_ms}ms types={','.join(types)}")
    print(
        f"jiradrift: {ours['seconds']:.1f}s items={ours['items']} requests={ours['stats']['requests_total']} "
        f"complete={ours['complete']} 429s={ours['stats']['requests_by_status'].get('429', 0)}"
    )
    print(
        f"jira lib sequential: {base['seconds']:.1f}s items={base['items']} requests={base['requests']} complete={base['complete']}"
    )
    print(f"speed-up: {base['seconds'] / ours['seconds']:.1f}x (target >= 5x)")


if __name__ == "__main__":
    main()
