"""Memory is bounded per process, not per response: the worst admitted settings against a site whose
every answer is a slowly sent gzip bomb stay under the chart's memory limit, and end with reasons.

The captures run in a child process (tests/capture/memory_child.py) whose peak RSS (``ru_maxrss``
from ``wait4``) must stay under the chart's ``operator.resources.limits.memory``: without a
process-wide budget the bombs being inflated side by side need gigabytes (the child's address space
is capped at three times the limit, so such a run ends in ``MemoryError`` rather than taking the
test machine's memory); with the budget each hostile capture ends, incomplete with a reason where
a read was abandoned, while a healthy tenant's capture beside them completes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import yaml
from tests.plugins.sim import EmulatorFactory

from jiradrift.jira.limits import DEFAULT_LIMITS

MiB = 1024 * 1024
CHART = Path(__file__).resolve().parents[2] / "charts" / "jira-drift-operator"
CHILD = Path(__file__).with_name("memory_child.py")
RESULT = re.compile(r"^(t\d+|healthy|peak-budget) ")


def chart_memory_limit() -> int:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    limit = str(values["operator"]["resources"]["limits"]["memory"])
    assert limit.endswith("Mi"), limit
    return int(limit[:-2]) * MiB


def test_the_worst_settings_against_gzip_bombs_stay_under_the_chart_limit(
    jira_sim_factory: EmulatorFactory, tmp_path: Path
) -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    captures = int(values["operator"]["maxConcurrentCaptures"])  # the chart's captures in flight (32)
    concurrency = 64  # the most JiraTenant.spec.rateLimit.maxConcurrency admits
    limit = chart_memory_limit()
    assert DEFAULT_LIMITS.max_inflight_bytes <= limit // 2  # the budget leaves room for the rest
    hostile, healthy = jira_sim_factory(seed=2), jira_sim_factory(seed=3)
    # 31 MiB each (under the 32 MiB per-response cap, so every one is a "valid" answer), 32 KB on
    # the wire, sent a KiB every 20 ms: all of them are being inflated at the same time.
    hostile.faults.gzip_bomb(size=31 * MiB, seconds=0.02, path="/rest/api/3/*")
    # The address space is capped at 3x the limit only as a safety net for the machine.
    args = [str(3 * limit), str(tmp_path / "out"), str(captures), str(concurrency)]
    for sim in (hostile, healthy):
        args += [sim.base_url, sim.credentials.email, sim.credentials.api_token]
    env = {**os.environ, "MALLOC_ARENA_MAX": "2"}  # glibc reserves 64 MiB of address space per arena
    cmd = [sys.executable, str(CHILD), *args]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    killer = threading.Timer(300, proc.kill)
    killer.start()
    assert proc.stdout is not None
    try:
        output = proc.stdout.read()  # until the child exits
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        killer.cancel()
        proc.returncode = 0  # reaped by wait4 above
    assert "MemoryError" not in output, output[-3000:]
    assert os.waitstatus_to_exitcode(status) == 0, output[-3000:]
    peak_rss = usage.ru_maxrss * 1024
    assert peak_rss < limit, f"peak RSS {peak_rss / MiB:.0f} MiB, over the chart's {limit / MiB:.0f} MiB"
    lines = dict(line.split(" ", 1) for line in output.splitlines() if RESULT.match(line))
    assert lines.pop("healthy").startswith("True 0"), output[-3000:]  # completed, no errors
    assert int(lines.pop("peak-budget")) <= DEFAULT_LIMITS.max_inflight_bytes
    assert len(lines) == captures
    for result in lines.values():  # each ended: complete (empty pages) or with a reason
        complete, errors, reason = [*result.split(" ", 2), ""][:3]
        assert (complete, errors) == ("True", "0") or "memory budget" in reason or "deadline" in reason, result
