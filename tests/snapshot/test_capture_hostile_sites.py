"""``jiradrift snapshot`` against hostile sites: every attack ends the affected source with a reason
(exit 3, the snapshot stored as incomplete), quickly and in bounded memory.

The CLI runs as its own process so its peak RSS (``VmHWM`` at exit: tests/plugins/peak.py) is its own; the
emulator answers over loopback with one hostile mode switched on for ``/resolution/search``, the
one listing of the ``priorities`` snapshot that pages. Each attack runs twice: with tight limits
(fast), and with the defaults (proving the shipped limits are bounded too).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.plugins.peak import AT_EXIT, PEAK_FILE, own_peak

from jiradrift.jira.limits import DEFAULT_LIMITS
from jiradrift.sim.emulator import RunningEmulator
from jiradrift.sim.faults import Faults
from jiradrift.store.filesystem import FilesystemStore

MiB = 1024 * 1024
TARGET = "/rest/api/3/resolution/search"
WALL_LIMIT = 120.0  # the bound for any attack, on the CLI's own CPU time (see run_snapshot)
HANG_LIMIT = 3 * WALL_LIMIT  # wall clock: the child is killed (and the test failed) after this
RSS_LIMIT = 256 * MiB  # a third of the chart's 768 MiB pod limit: one CLI capture needs far less
TIGHT = ["--max-response-bytes", str(8 * MiB), "--max-pages", "40", "--request-deadline", "3", "--max-wait", "10"]


@dataclass(frozen=True)
class Attack:
    switch: Callable[[Faults], object]
    reason: str  # what the stored error (and the CLI output) must say, with tight limits
    default_reason: str  # ... with the default limits


ATTACKS = {
    "gzip bomb": Attack(
        lambda f: f.gzip_bomb(size=100 * MiB, path=TARGET),
        "exceeded 8.0 MiB after decompression",
        "exceeded 32.0 MiB after decompression",
    ),
    "oversized body": Attack(
        lambda f: f.oversized(size=100 * MiB, path=TARGET),
        "the response body exceeded 8.0 MiB",
        "the response body exceeded 32.0 MiB",
    ),
    "1,000-deep JSON": Attack(
        lambda f: f.deep_json(depth=1000, path=TARGET),
        "nests deeper than 64 levels",
        "nests deeper than 64 levels",
    ),
    "endless pages, a huge total": Attack(
        lambda f: f.huge_total(path=TARGET),
        "the site announced total=1000000000 items, more than a capture may hold (200000",
        "the site announced total=1000000000 items, more than a capture may hold (200000",
    ),
    "endless pages, a total a capture may hold": Attack(
        lambda f: f.huge_total(path=TARGET, total=DEFAULT_LIMITS.max_capture_items),
        "had not ended after 40 pages",
        "had not ended after 5000 pages",
    ),
    "endless pages, a growing total": Attack(
        lambda f: f.endless_pages(path=TARGET),
        "the total grew on 10 pages",
        "the total grew on 10 pages",
    ),
    "page pointing back at itself": Attack(
        lambda f: f.looping_pages(path=TARGET),
        "page 2 repeats the items of page 1",
        "page 2 repeats the items of page 1",
    ),
    "lying total": Attack(lambda f: f.lying_total(path=TARGET), "the total lies", "the total lies"),
    "Retry-After: inf": Attack(
        lambda f: f.retry_after("inf", path=TARGET), "asked us to wait forever", "asked us to wait forever"
    ),
    "body trickled a byte a second": Attack(
        lambda f: f.trickle(seconds=1.0, path=TARGET),
        "no complete response within the 3 s deadline",
        "no complete response within the 60 s deadline",
    ),
}


@dataclass(frozen=True)
class Run:
    exit_code: int
    output: str
    seconds: float
    cpu_seconds: float
    peak_rss: int


def run_snapshot(sim: RunningEmulator, out: Path, extra: list[str]) -> Run:
    """``jiradrift snapshot`` in a child process; killed (and the test failed) after HANG_LIMIT.

    ``seconds`` is wall time, ``cpu_seconds`` the child's own CPU time: on a loaded machine (a
    neighbour's job, the emulator sharing this process) 10,000 endless pages take longer than
    WALL_LIMIT of wall time although the work they cost the CLI stays well inside it.
    """
    c = sim.credentials
    args = ["--site", sim.base_url, "--auth", "basic", "--email", c.email, "--out", str(out)]
    args += ["--types", "priorities", "--tenant", "acme", "--rps", "100000", *extra]
    peak = out.parent / f"{out.name}.peak"
    env = {**os.environ, "JIRA_API_TOKEN": c.api_token, "COLUMNS": "250", "NO_COLOR": "1", PEAK_FILE: str(peak)}
    cmd = [sys.executable, "-c", AT_EXIT + "from jiradrift.cli import main; main()", "snapshot", *args]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    killer = threading.Timer(HANG_LIMIT, proc.kill)
    killer.start()
    assert proc.stdout is not None
    try:
        output = proc.stdout.read().decode(errors="replace")  # until the child exits
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        killer.cancel()
        proc.returncode = 0  # reaped by wait4 above
    cpu = usage.ru_utime + usage.ru_stime
    peak_rss = own_peak(peak, usage.ru_maxrss * 1024)
    return Run(os.waitstatus_to_exitcode(status), output, time.monotonic() - start, cpu, peak_rss)


def _check(run: Run, out: Path, reason: str, sim: RunningEmulator) -> None:
    assert run.seconds < HANG_LIMIT, f"killed after {run.seconds:.0f} s:\n{run.output[-3000:]}"
    assert run.cpu_seconds < WALL_LIMIT, f"{run.cpu_seconds:.0f} CPU s ({run.seconds:.0f} s wall)"
    assert run.exit_code == 3, run.output[-3000:]  # incomplete, not a crash and not "complete"
    flat = " ".join(run.output.split())
    assert reason in flat, run.output[-3000:]
    assert sim.credentials.api_token not in run.output
    (snapshot_id,) = asyncio.run(FilesystemStore(out).list_manifests("acme"))
    manifest = asyncio.run(FilesystemStore(out).get_manifest(snapshot_id))
    assert not manifest.complete
    errors = [e for e in manifest.errors if e.kind == "resolution"]
    assert errors and reason in errors[0].message, manifest.errors
    assert {e.kind for e in manifest.errors} == {"resolution"}  # the other sources were read in full
    assert any(key.startswith("priority/") for key in manifest.items)
    assert run.peak_rss < RSS_LIMIT, f"peak RSS {run.peak_rss / MiB:.0f} MiB"


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_attack_ends_the_source_with_a_reason(attack: str, jira_sim: RunningEmulator, tmp_path: Path) -> None:
    ATTACKS[attack].switch(jira_sim.faults)
    run = run_snapshot(jira_sim, tmp_path / "out", TIGHT)
    _check(run, tmp_path / "out", ATTACKS[attack].reason, jira_sim)
    assert run.seconds < 30, run.seconds  # tight limits: seconds, not minutes


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_attack_is_bounded_by_the_default_limits(attack: str, jira_sim: RunningEmulator, tmp_path: Path) -> None:
    ATTACKS[attack].switch(jira_sim.faults)
    run = run_snapshot(jira_sim, tmp_path / "out", [])
    _check(run, tmp_path / "out", ATTACKS[attack].default_reason, jira_sim)


def test_a_healthy_site_completes_with_tight_limits(jira_sim: RunningEmulator, tmp_path: Path) -> None:
    run = run_snapshot(jira_sim, tmp_path / "out", TIGHT)
    assert run.exit_code == 0, run.output[-3000:]
    (snapshot_id,) = asyncio.run(FilesystemStore(tmp_path / "out").list_manifests("acme"))
    assert asyncio.run(FilesystemStore(tmp_path / "out").get_manifest(snapshot_id)).complete
