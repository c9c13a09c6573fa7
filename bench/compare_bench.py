"""Comparison and blast-radius benchmark.

    .venv/bin/python bench/compare_bench.py [--sizes large,xl] [--keep DIR] [--diff-items 100000]

1. Cross-site comparison (target: two ``xl`` snapshots in under 5 s, 0 Jira requests). For each size,
   the emulator's production site and its sandbox (``Emulator(variant="sandbox")``) are captured
   with ``jiradrift snapshot`` into two stores (not timed; ``--keep DIR`` keeps them and reuses
   them on the next run); then ``jiradrift compare`` runs on the two stores with both emulators
   stopped, so it cannot reach Jira, and its wall and CPU time, its peak RSS growth (in a fresh
   process per size, from ``ru_maxrss``) and the differences it found are printed. Baseline, in a
   fresh process too: **read both stores** (every body of the newest snapshots decompressed and
   parsed, nothing compared), the floor any comparison of stored snapshots pays.
2. Blast radius on the 100k-item diff of ``bench/diff_bench.py`` (target: at most +10 % of the
   diff, the named baseline): the diff of two stored 100k-item snapshots with 1 % changes, then the
   radius of the newer snapshot from the reference index kept with it (written at capture; here
   when the snapshot is stored, untimed; the process cache is cleared so it is read from the store)
   and the annotation of every change, as ``jiradrift diff`` does. Second baseline: **radius from
   bodies**, the way before the index (read every body of the kinds that can reach a change and
   build the graph).
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

import orjson
from diff_bench import make_snapshots, store_snapshot

from jiradrift.cli import app
from jiradrift.cmd.compare import load_side
from jiradrift.cmd.reach import Radii
from jiradrift.sim.emulator import Emulator
from jiradrift.sim.variant import RENAMED_GROUP
from jiradrift.snapshot import reach_index
from jiradrift.snapshot.blast import BlastRadius, ReachRule, annotate, kinds_reaching
from jiradrift.snapshot.reach_index import SnapshotEdges, remember
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


def _compare_in_child(left: str, right: str, conn: Any, read_only: bool) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started, cpu = time.perf_counter(), time.process_time()
    if read_only:
        sides = [asyncio.run(load_side(side, [])) for side in (left, right)]
        out, code = orjson.dumps({"items": sum(len(s.items) for s in sides)}).decode(), 0
    else:
        mapping = f"group:{RENAMED_GROUP[0]}={RENAMED_GROUP[1]}"  # the sandbox's declared difference
        result = CliRunner().invoke(app, ["compare", left, right, "--format", "json", "--map", mapping])
        out, code = result.stdout, result.exit_code
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    conn.send({"exit": code, "seconds": elapsed, "cpu": cpu, "rss_growth_kib": after - before, "out": out})


def compare_in_fresh_process(left: Path, right: Path, read_only: bool = False) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_compare_in_child, args=(str(left), str(right), child, read_only))
    proc.start()
    answer: dict[str, Any] = parent.recv()
    proc.join()
    return answer


def bench_compare(sizes: list[str], keep: Path | None) -> None:
    root = keep or Path(tempfile.mkdtemp(prefix="compare-bench-"))
    print("== jiradrift compare: production vs its sandbox (emulators stopped: 0 Jira requests possible)")
    rss: dict[str, int] = {}
    for size in sizes:
        left, right = root / f"{size}-production", root / f"{size}-sandbox"
        t = time.perf_counter()
        requests = capture(size, "production", left) + capture(size, "sandbox", right)
        captured = time.perf_counter() - t
        floor = compare_in_fresh_process(left, right, read_only=True)
        answer = compare_in_fresh_process(left, right)
        report = orjson.loads(answer["out"])
        items = report["equal"] + report["changed"] + report["removed"]
        rss[size] = answer["rss_growth_kib"]
        print(
            f"{size:>6}: {items} items per side; compare {answer['seconds']:.2f} s wall, {answer['cpu']:.2f} s CPU "
            f"(exit {answer['exit']}); baseline read both stores {floor['seconds']:.2f} s wall, "
            f"{floor['cpu']:.2f} s CPU (compare = {answer['cpu'] / floor['cpu']:.1f}x the read); "
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
        for manifest, objects in ((m1, old), (m2, new)):  # what capture keeps with each snapshot
            await remember(store, manifest.digest, SnapshotEdges.of_items(objects.items()))
        diff_s = radius_s = bodies_s = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            report = await diff_stored(store, m1, m2)
            diff_s = min(diff_s, time.perf_counter() - t)
            reach_index._cache.clear()  # read from the store, as a fresh process would
            t = time.perf_counter()
            radius = await Radii(store).of("bench", {c.kind for c in report.changes})
            annotated = annotate(report.changes, radius, ReachRule())
            radius_s = min(radius_s, time.perf_counter() - t)
            t = time.perf_counter()
            needed = kinds_reaching({c.kind for c in report.changes})
            wanted = {k: d for k, d in m2.items.items() if k.split("/", 1)[0] in needed}
            bodies = await store.get_items(set(wanted.values()))
            from_bodies = BlastRadius.build((k, orjson.loads(bodies[d])) for k, d in wanted.items())
            expected = annotate(report.changes, from_bodies, ReachRule())
            bodies_s = min(bodies_s, time.perf_counter() - t)
            assert expected == annotated, "the index and the bodies disagree"
    print(
        f"diff {diff_s:.3f} s ({changed} changed items; the baseline); radius from the stored index + annotation "
        f"{radius_s:.3f} s: +{100 * radius_s / diff_s:.1f} % (target <= 10 %); baseline radius from bodies "
        f"{bodies_s:.3f} s (+{100 * bodies_s / diff_s:.0f} %)"
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
