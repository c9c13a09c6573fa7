"""Requests per second the Jira emulator serves for simple pages.

Baseline: the issue's target of 1,000 requests/s on this machine. Run:

    .venv/bin/python bench/sim_throughput.py [--seconds 5] [--concurrency 16] [--size large]

The emulator runs in its own thread (as in tests); the client is aiohttp with keep-alive and a fixed
number of concurrent workers, each looping for a bounded time.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import time

import aiohttp

from jiradrift.sim import Emulator

PATHS = (
    "/field/search?maxResults=50",
    "/issuetype",
    "/priority/search",
    "/statuses/search?maxResults=50",
    "/project/search?maxResults=50",
)


async def _load(api_url: str, auth: str, seconds: float, concurrency: int) -> tuple[int, int]:
    done = errors = 0
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers={"Authorization": auth}) as session:

        async def worker(offset: int) -> None:
            nonlocal done, errors
            i = offset
            while time.perf_counter() < deadline:  # bounded by time
                async with session.get(api_url + PATHS[i % len(PATHS)]) as response:
                    await response.read()
                    if response.status != 200:
                        errors += 1
                done += 1
                i += 1

        await asyncio.gather(*(worker(k) for k in range(concurrency)))
    return done, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--size", default="large")
    args = parser.parse_args()
    started = time.perf_counter()
    with Emulator(size=args.size, seed=1).running() as sim:
        startup = time.perf_counter() - started
        pair = f"{sim.credentials.email}:{sim.credentials.api_token}".encode()
        auth = "Basic " + base64.b64encode(pair).decode()
        t0 = time.perf_counter()
        done, errors = asyncio.run(_load(sim.api_url, auth, args.seconds, args.concurrency))
        elapsed = time.perf_counter() - t0
    rate = done / elapsed
    print(f"size={args.size} startup={startup:.2f}s requests={done} errors={errors} elapsed={elapsed:.2f}s")
    print(f"throughput: {rate:,.0f} requests/s  ({rate / 1000:.2f}x the 1,000 req/s target)")


if __name__ == "__main__":
    main()
