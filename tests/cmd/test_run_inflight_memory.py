"""Memory is bounded per process, not per response or per capture: the worst admitted settings (the
most captures at once ``--max-concurrent-captures`` admits, each tenant at the most ``maxConcurrency``
a JiraTenant admits) against a site whose every priority answer is a slowly sent gzip bomb and whose
resolution listing never ends (fresh ids, 1,000 a page) stay under the chart's memory limit, and end
with reasons.

The captures run in a child process (tests/cmd/memory_child.py) whose peak RSS (``ru_maxrss``
from ``wait4``) must stay under the chart's ``operator.resources.limits.memory``: without a
process-wide response budget the bombs being inflated side by side need gigabytes, and without a
process-wide item budget the manifests of 64 endless captures grow towards 64 x 200,000 entries
(the child's address space is capped at three times the limit, so such a run ends in
``MemoryError`` rather than taking the test machine's memory); with the budgets each hostile capture
ends, incomplete with a reason where a read was abandoned or the items were spent, while a healthy
tenant's capture beside them completes.
"""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import yaml
from tests.plugins.peak import AT_EXIT, PEAK_FILE, own_peak
from tests.plugins.sim import EmulatorFactory

from jiradrift.api.resources import RateLimit
from jiradrift.cmd.run import run_command
from jiradrift.jira.limits import CAPTURE_SLOTS, DEFAULT_LIMITS, MAX_CONCURRENT_CAPTURES

MiB = 1024 * 1024
CHART = Path(__file__).resolve().parents[2] / "charts" / "jira-drift-operator"
CHILD = Path(__file__).with_name("memory_child.py")
RESULT = re.compile(r"^(t\d+|healthy|peak-budget|peak-items) ")
# Fresh ids, 1,000 to a page: what fills manifests fastest (a hostile site ignores maxResults).
PAGE = [{"id": str(i), "name": f"filler {i}", "description": "x" * 40} for i in range(1000)]


def chart_memory_limit() -> int:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    limit = str(values["operator"]["resources"]["limits"]["memory"])
    assert limit.endswith("Mi"), limit
    return int(limit[:-2]) * MiB


def test_the_worst_settings_against_gzip_bombs_stay_under_the_chart_limit(
    jira_sim_factory: EmulatorFactory, tmp_path: Path
) -> None:
    captures = most_admitted("max_concurrent_captures")  # the most --max-concurrent-captures admits
    concurrency = next(m.le for m in RateLimit.model_fields["max_concurrency"].metadata if hasattr(m, "le"))
    assert (captures, concurrency) == (MAX_CONCURRENT_CAPTURES, 64)  # the most each admits
    limit = chart_memory_limit()
    assert DEFAULT_LIMITS.max_inflight_bytes <= limit // 2  # the budget leaves room for the rest
    hostile, healthy = jira_sim_factory(seed=2), jira_sim_factory(seed=3)
    # 31 MiB each (under the 32 MiB per-response cap, so every one is a "valid" answer), 32 KB on
    # the wire, sent a KiB every 20 ms: all of them are being inflated at the same time.
    hostile.faults.gzip_bomb(size=31 * MiB, seconds=0.02, path="/rest/api/3/priority/*")
    # Beside them, a listing that never ends and never declares more than a capture may hold.
    endless = hostile.faults.huge_total(path="/rest/api/3/resolution/*", total=DEFAULT_LIMITS.max_capture_items)
    endless.template = PAGE
    # The address space is capped at 3x the limit only as a safety net for the machine.
    args = [str(3 * limit), str(tmp_path / "out"), str(captures), str(concurrency)]
    for sim in (hostile, healthy):
        args += [sim.base_url, sim.credentials.email, sim.credentials.api_token]
    peak = tmp_path / "peak"  # glibc reserves 64 MiB of address space per arena: MALLOC_ARENA_MAX
    env = {**os.environ, "MALLOC_ARENA_MAX": "2", PEAK_FILE: str(peak)}
    cmd = [sys.executable, "-c", AT_EXIT + f"import runpy; runpy.run_path({str(CHILD)!r}, run_name='__main__')", *args]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    killer = threading.Timer(300, proc.kill)  # unbounded manifests need minutes to reach the cap
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
    peak_rss = own_peak(peak, usage.ru_maxrss * 1024)
    assert peak_rss < limit, f"peak RSS {peak_rss / MiB:.0f} MiB, over the chart's {limit / MiB:.0f} MiB"
    lines = dict(line.split(" ", 1) for line in output.splitlines() if RESULT.match(line))
    assert lines.pop("healthy").startswith("True 0"), output[-3000:]  # completed, no errors
    assert int(lines.pop("peak-budget")) <= DEFAULT_LIMITS.max_inflight_bytes
    peak_items = int(lines.pop("peak-items"))
    assert peak_items == DEFAULT_LIMITS.max_process_items  # the manifests filled the process's item budget, no more
    assert len(lines) == captures
    reasons = ("memory budget", "deadline", "--max-process-items", "items")
    for result in lines.values():  # each ended incomplete with a reason
        complete, errors, reason = [*result.split(" ", 2), ""][:3]
        assert complete == "False" and int(errors) > 0 and any(r in reason for r in reasons), result


def most_admitted(option: str) -> int:
    """The largest value ``jiradrift run`` admits for ``option``: the maximum of the Limit its option is
    built from (it refuses more with the limit's error: tests/cmd/test_run_admission.py)."""
    default = inspect.signature(run_command).parameters[option].default
    limit = {CAPTURE_SLOTS.flag: CAPTURE_SLOTS}[default.param_decls[0]]
    assert limit.maximum is not None
    return int(limit.maximum)
