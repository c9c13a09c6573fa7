"""A steady tenant costs the API server one Secret read per reconciliation and nothing else.

Found by bench/scale_bench.py at 1,000 tenants: between windows every tick wrote the tenant's
status (``status.unaccepted`` carried ``since: null``, which the merge patch deletes, so the stored
status never compared equal) and LISTed the tenant's Snapshots twice (acceptance and retention).
The Snapshots now come from the operator's own watch. Counted by kube-apiserver itself
(``apiserver_request_total``); nothing else talks to this API server meanwhile (the tests run no
controller-manager, and this test reads nothing but the server's metrics while it counts; the
notifier's own LIST per pass is moved out of the way with ``--notify-interval``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from tests.operator.kube import condition, get, make_secret, make_tenant, snapshots

from jiradrift.dev.controlplane import ControlPlane
from jiradrift.dev.kubejson import api_requests
from jiradrift.dev.operator_process import running_operator, wait_for

pytestmark = pytest.mark.k8s

# ticks to watch: with one-second ticks, acceptance (every 10 s) and retention (every 30 s) run
# several times in between, and each LISTed the tenant's Snapshots before
TICKS = 35


def test_a_steady_tenant_reads_its_secret_per_tick_and_writes_nothing(
    control_plane: ControlPlane, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: Any, tmp_path: Path
) -> None:
    ns, creds = k8s_namespace, jira_sim.credentials
    make_secret(k8s_api, ns, "jira", {"email": creds.email, "token": creds.api_token})
    make_tenant(k8s_api, ns, "site", jira_sim.base_url, "jira", ["priorities"], retention={"keepLast": 1})
    # the notifier LISTs marked Snapshots once per pass (per replica, not per tenant): one pass an hour here
    quiet_notifier = ["--notify-interval", "3600"]
    with running_operator(control_plane, [ns], tmp_path, tenant_interval=1, extra=quiet_notifier) as op:

        def steady() -> bool:
            phases = [(s.get("status") or {}).get("phase") for s in snapshots(k8s_api, ns)]
            assert phases == ["Completed"], phases
            drifted = condition(get(k8s_api, ns, "jiratenants", "site"), "Drifted")
            assert drifted.get("reason") == "MatchesAccepted", drifted
            return True

        wait_for(steady, "the first Snapshot accepted and the tenant steady", op=op, timeout=120)
        before, began = api_requests(k8s_api), time.monotonic()

        def ticks() -> dict[tuple[str, str], float]:
            now = api_requests(k8s_api)
            delta = {k: v - before.get(k, 0.0) for k, v in now.items() if v != before.get(k, 0.0)}
            assert delta.get(("GET", "secrets"), 0) >= TICKS, delta
            return delta

        delta = wait_for(ticks, f"{TICKS} reconciliations (one Secret read each)", op=op, timeout=TICKS * 4)
        elapsed = time.monotonic() - began

    reads = {k: v for k, v in delta.items() if k[0] in ("GET", "LIST", "WATCH")}
    writes = {k: v for k, v in delta.items() if k not in reads}
    # kube-apiserver renews its own identity Lease (kube-system) every 10 s; the operator holds none now
    own_lease_renewals = writes.pop(("PUT", "leases"), 0)
    assert own_lease_renewals <= elapsed / 10 + 1, f"{own_lease_renewals} Lease writes in {elapsed:.0f}s"
    # an incremental window (on by default, every 2m) that finds nothing writes status.lastCheckedTime,
    # nothing else; the write does not wake the tenant again (no hot loop: at most one per window)
    checked = writes.pop(("PATCH", "jiratenants/status"), 0)
    assert checked <= elapsed / 120 + 1, f"{checked} tenant status writes in {elapsed:.0f}s"
    assert writes == {}, f"a steady tenant wrote {writes}"
    # the Secret read is the tick; the Snapshots and the tenant come from kopf's watch, never re-read
    # (other reads may show here: a watch is counted when it ends, e.g. one of an earlier test's operator)
    tenant_reads = {k: v for k, v in reads.items() if k[1] in ("snapshots", "jiratenants") and k[0] != "WATCH"}
    assert tenant_reads == {}, f"a steady tenant re-read its objects: {reads}"
