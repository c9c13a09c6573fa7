"""The operator's connections to the API server stay bounded however many tenants fall due at once.

Found with memray on bench/scale_bench.py (1,000 tenants): kopf's own API session has an unbounded
pool, so a thousand tenant timers due together opened a connection per request, each holding a
256 KiB TLS buffer in asyncio: 275 MiB of the operator's 610 MiB peak. Now kopf's session is ours
(``registry.kopf_session``) and both pools are bounded; counted here from the operator process's
own sockets while a hundred tenants are reconciled for the first time and then every second.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
import pytest
from kubernetes import client as k8s
from tests.operator.kube import conditions_are, make_secret, make_tenant

from jiradrift.dev.controlplane import ControlPlane
from jiradrift.dev.operator_process import running_operator, wait_for
from jiradrift.handlers.runtime.kopf_setup import KOPF_CONNECTIONS
from jiradrift.kube.client import MAX_CONNECTIONS

pytestmark = pytest.mark.k8s

TENANTS = 100
WATCHES = 2 * 1 + 2  # one watched namespace: its two resources, and room for kopf's others


def test_api_connections_stay_within_both_pools(
    control_plane: ControlPlane, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: Any, tmp_path: Path
) -> None:
    ns, creds = k8s_namespace, jira_sim.credentials
    make_secret(k8s_api, ns, "jira", {"email": creds.email, "token": creds.api_token})
    names = [f"site-{i:03d}" for i in range(TENANTS)]
    for name in names:  # paused: reconciled (checked, status written) but nothing captured
        make_tenant(k8s_api, ns, name, jira_sim.base_url, "jira", ["priorities"], paused=True)
    port = urlsplit(control_plane.url).port
    peak, samples, done = 0, 0, threading.Event()

    def sample(pid: int) -> None:
        nonlocal peak, samples
        process = psutil.Process(pid)
        while not done.is_set():
            try:
                open_ = [
                    c
                    for c in process.net_connections(kind="tcp")
                    if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
                ]
            except psutil.Error:
                return
            peak, samples = max(peak, len(open_)), samples + 1
            done.wait(0.01)

    with running_operator(control_plane, [ns], tmp_path, tenant_interval=1) as op:
        sampler = threading.Thread(target=sample, args=(op.proc.pid,), daemon=True)
        sampler.start()
        try:
            for name in names:
                wait_for(lambda name=name: conditions_are(k8s_api, ns, name, Ready="True"), f"{name} Ready", op=op)
        finally:
            done.set()
            sampler.join(timeout=10)

    bound = KOPF_CONNECTIONS + WATCHES + MAX_CONNECTIONS
    assert samples > 10 and peak >= 2, f"the sampler saw the process's connections ({samples} samples, peak {peak})"
    assert peak <= bound, f"{peak} connections to the API server at once, over {bound}"
