"""Comparison and blast-radius benchmark.

    .venv/bin/python bench/compare_bench.py [--sizes large,xl] [--keep DIR] [--diff-items 100000]

1. Cross-site comparison (target: two ``xl`` snapshots in under 5 s, 0 Jira requests). For each size,
   the emulator's production site and its sandbox (``Emulator(variant="sandbox")``) are captured
   with ``jiradrift snapshot`` into two stores (not timed; ``--keep DIR`` keeps them and reuses
   them on the next run); then ``jiradrift compare`` runs on the two stores with both emulators
   stopped, so it cannot reach Jira, and its wall time, its peak RSS growth (in a fresh process per
   size, from ``ru_maxrss``) and the differences it found are printed.
2. Blast radius on the 100k-item diff of ``bench/diff_bench.py`` (target: at most +10 %): the diff
   of two stored 100k-item snapshots with 1 % changes, then the radius of the newer snapshot (read
   every body, build the reference graph) and the annotation of every change, as ``jiradrift diff``
   does.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent))

from diff_bench import make_snapshots, store_snapshot

from jiradrift.cli import app
from jiradrift.cmd.reach import Radii
from jiradrift.sim.emulator import Emulator
from jiradrift.sim.variant import RENAMED_GROUP
from jiradrift.snapshot.blast import ReachRule, annotate_report
from jiradrift.snapshot.recording import diff_stored
from jiradrift.store.filesystem import FilesystemStore


def capture(size: str, variant: str, out: Path) -> int:
    """Capture one emulated site into ``out`` (skipped when it already holds a store); requests made."""
    if (out / "snapshots").is_dir():
        return 0
    with Emulator(size=size, seed=1, variant=variant).running() as emu:
        c = emu.credentials
        result = CliRunner().invoke(
            app,
            ["snapshot", "--site", emu.base_url, "--auth", "basic", "--email", c.email, "--out", str(out)],
            env={"JIRA_API_TOKEN": c.api_token},
        )
        if result.exit_code != 0:
            raise SystemExit(f"capture of {size}/{variant} failed:\n{result.output[-2000:]}")
        return len(list(emu.requests))


def _compare_in_child(left: str, right: str, conn: Any) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    mapping = f"group:{RENAMED_GROUP[0]}={RENAMED_GROUP[1]}"  # the sandbox's declared difference
    result = CliRunner().invoke(app, ["compare", left, right, "--format", "json", "--map", mapping])
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    conn.send({"exit": result.exit_code, "seconds": elapsed, "rss_growth_kib": after - before, "out": result.stdout})


def compare_in_fresh_process(left: Path, right: Path) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_compare_in_child, args=(str(left), str(right), child))
    proc.start()
    answer: dict[str, Any] = parent.recv()
    proc.join()
    return answer


def bench_compare(sizes: list[str], keep: Path | None) -> None:
    import orjson

    root = keep or Path(tempfile.mkdtemp(prefix="compare-bench-"))
    print("== jiradrift compare: production vs its sandbox (emulators stopped: 0 Jira requests possible)")
    rss: dict[str, int] = {}
    for size in sizes:
        left, right = root / f"{size}-production", root / f"{size}-sandbox"
        t = time.perf_counter()
        requests = capture(size, "production", left) + capture(size, "sandbox", right)
        captured = time.perf_counter() - t
        answer = compare_in_fresh_process(left, right)
        report = orjson.loads(answer["out"])
        items = report["equal"] + report["changed"] + report["removed"]
        rss[size] = answer["rss_growth_kib"]
        print(
            f"{size:>6}: {items} items per side; compare {answer['seconds']:.2f} s (exit {answer['exit']}), "
            f"peak RSS growth {answer['rss_growth_kib'] / 1024:.0f} MiB; {report['change_count']} changes, "
            f"{len(report['renames'])} renames, {len(report['duplicates'])} duplicate names"
            f"{f'; captures {captured:.0f} s, {requests} requests (not part of the comparison)' if requests else ''}"
        )
    if len(rss) == 2:
        (a, ra), (b, rb) = rss.items()
        print(f"memory growth {a} -> {b}: {rb / 1024:.0f} MiB vs {ra / 1024:.0f} MiB ({rb / max(ra, 1):.2f}x)")


async def bench_radius(n: int) -> None:
    print(f"== blast radius on the diff of two {n}-item snapshots with 1 % changes")
    old, new, changed = make_snapshots(n)
    with tempfile.TemporaryDirectory() as tmp:
        store = FilesystemStore(Path(tmp))
        m1 = await store_snapshot(store, "s1", old, 0)
        m2 = await store_snapshot(store, "s2", new, 1)
        diff_s = radius_s = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            report = await diff_stored(store, m1, m2)
            diff_s = min(diff_s, time.perf_counter() - t)
            t = time.perf_counter()
            radius = await Radii(store).of("bench", {c.kind for c in report.changes})
            annotate_report(report, radius, ReachRule())
            radius_s = min(radius_s, time.perf_counter() - t)
    print(
        f"diff {diff_s:.3f} s ({changed} changed items); radius + annotation {radius_s:.3f} s: "
        f"+{100 * radius_s / diff_s:.0f} % (target <= 10 %)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="large,xl")
    parser.add_argument("--keep", type=Path, default=None, help="Keep (and reuse) the captured stores here.")
    parser.add_argument("--diff-items", type=int, default=100_000)
    parser.add_argument("--skip-compare", action="store_true")
    args = parser.parse_args()
    if not args.skip_compare:
        bench_compare([s for s in args.sizes.split(",") if s], args.keep)
    asyncio.run(bench_radius(args.diff_items))


if __name__ == "__main__":
    main()
