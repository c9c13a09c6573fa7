"""200 JiraTenants in one operator process: every window completes well inside the interval.

Prints the figures the README quotes (wall time, operator CPU seconds, peak RSS):
    bash tools/test.sh tests/operator/test_operator_scale.py -s
"""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from tests.operator.kube import snapshots

from jiradrift.api.credentials import ALLOWED_TENANTS_ANNOTATION
from jiradrift.api.resources import GROUP, VERSION
from jiradrift.dev.controlplane import ControlPlane
from jiradrift.dev.operator_process import running_operator, wait_for

pytestmark = pytest.mark.k8s

TENANTS = int(os.environ.get("JIRADRIFT_SCALE_TENANTS", "200"))
INTERVAL_SECONDS = 300  # the smallest interval a tenant may ask for (5m)


def proc_figures(pid: int) -> tuple[float, int]:
    """(CPU seconds, peak RSS bytes) of a live process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    hwm = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("VmHWM"))
    return cpu, int(hwm.split()[1]) * 1024


def test_two_hundred_tenants_in_one_operator(
    control_plane: ControlPlane, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: Any, tmp_path: Path
) -> None:
    ns = k8s_namespace
    creds = jira_sim.credentials
    core, objects = k8s.CoreV1Api(k8s_api), k8s.CustomObjectsApi(k8s_api)
    core.create_namespaced_secret(
        ns,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "jira", "annotations": {ALLOWED_TENANTS_ANNOTATION: "*"}},
            "data": {
                "email": base64.b64encode(creds.email.encode()).decode(),
                "token": base64.b64encode(creds.api_token.encode()).decode(),
            },
        },
    )
    for i in range(TENANTS):
        objects.create_namespaced_custom_object(
            GROUP,
            VERSION,
            ns,
            "jiratenants",
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "JiraTenant",
                "metadata": {"name": f"tenant-{i:03d}"},
                "spec": {
                    "site": jira_sim.base_url,
                    "auth": {"apiToken": {"secretRef": {"name": "jira"}}},
                    "schedule": {"interval": "5m"},
                    "snapshotTypes": ["priorities"],
                },
            },
        )
    started = time.monotonic()
    with running_operator(control_plane, [ns], tmp_path, tenant_interval=30) as op:

        def all_done() -> bool:
            snaps = snapshots(k8s_api, ns)
            phases = [(s.get("status") or {}).get("phase") for s in snaps]
            return len(snaps) >= TENANTS and all(p == "Completed" for p in phases)

        wait_for(all_done, f"{TENANTS} windows Completed", op=op, timeout=INTERVAL_SECONDS, interval=2)
        elapsed = time.monotonic() - started
        cpu, rss = proc_figures(op.proc.pid)
    print(
        f"\n{TENANTS} tenants: all windows Completed in {elapsed:.0f}s "
        f"({elapsed / INTERVAL_SECONDS:.2f} of the 5m interval); "
        f"operator CPU {cpu:.1f}s, peak RSS {rss / 2**20:.0f} MiB"
    )
    assert elapsed < INTERVAL_SECONDS
    assert rss < 1024 * 2**20
