"""Kubernetes API requests of one tenant's incremental windows: a quiet window, and windows with 1,
10 and 100 changed objects (issue 26: a quiet window writes at most 2 times per tenant; a window
with N changed objects costs the quiet window plus a small constant per changed object). The
Kubernetes side costs per changed *type* (one Incremental Snapshot each), whatever the objects.

    .venv/bin/python bench/incremental_api_bench.py [--size medium]

What runs, all on loopback: a real kube-apiserver + etcd (``ControlPlane``), the Jira emulator in
this process (``--size``, every snapshot type), and one ``jiradrift run`` with its defaults but
incremental windows every minute (the CRD's minimum, so the run takes minutes, not hours) and the
notifier quiet. The changes are ``bench/incremental_bench.py``'s: the emulator's admin mutations
on distinct objects of six kinds (audited and not), made just after a window ran so that the next
window finds them. The API requests of a window are kube-apiserver's own
``apiserver_request_total`` from just after the window before it ran to just after the window after
it ran: one whole window (the tenant's ticks every 30 s included), with the writes apart.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from incremental_bench import changes
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from jiradrift.api.credentials import ALLOWED_TENANTS_ANNOTATION
from jiradrift.api.resources import GROUP, VERSION
from jiradrift.dev.controlplane import ControlPlane, install_crds
from jiradrift.dev.kubejson import api_requests
from jiradrift.dev.operator_process import running_operator, wait_for
from jiradrift.model.snapshot_types import SnapshotType
from jiradrift.sim.emulator import Emulator

NS = "bench"
WINDOW_LINE = r"JiraTenant bench/acme: incremental window (\S+): .*"
READS = ("GET", "LIST", "WATCH")
OWN: Counter[tuple[str, str]] = Counter()  # the bench's own requests, taken out of the counts


def _snapshots(api: Any) -> list[dict[str, Any]]:
    OWN[("LIST", "snapshots")] += 1
    items: list[dict[str, Any]] = k8s.CustomObjectsApi(api).list_namespaced_custom_object(
        GROUP, VERSION, NS, "snapshots"
    )["items"]
    return items


def _drifted(api: Any) -> dict[str, Any]:
    OWN[("GET", "jiratenants")] += 1
    tenant = k8s.CustomObjectsApi(api).get_namespaced_custom_object(GROUP, VERSION, NS, "jiratenants", "acme")
    return next((c for c in (tenant.get("status") or {}).get("conditions") or [] if c["type"] == "Drifted"), {})


def _measure(api: Any, sim: Any, n: int, next_window: Callable[[str], None], op: Any) -> tuple[float, float, int]:
    """One window with ``n`` changed objects: its API requests, writes and Snapshots (printed). Starts just after
    a window ran (the caller's first wait, or the previous measurement's last)."""
    before_snaps = {s["metadata"]["name"] for s in _snapshots(api)}
    for change in changes(sim, n, f"w{n}"):
        change()
    before, own = api_requests(api), Counter(OWN)
    next_window("the window after the changes")

    def new() -> list[dict[str, Any]]:
        return [s for s in _snapshots(api) if s["metadata"]["name"] not in before_snaps]

    if n:
        done = "Completed"
        wait_for(lambda: all((s.get("status") or {}).get("phase") == done for s in new()), done, op=op, timeout=150)
    next_window("the window after that")
    after = api_requests(api)
    delta = Counter({k: v - before.get(k, 0.0) for k, v in after.items() if v != before.get(k, 0.0)})
    delta.pop(("PUT", "leases"), None)  # kube-apiserver's own identity Lease
    delta.subtract(OWN - own)
    writes = {k: v for k, v in delta.items() if k[0] not in READS and v}
    total, written = sum(delta.values()), sum(writes.values())
    shown = ", ".join(f"{v:.0f} {verb} {res}" for (verb, res), v in sorted(writes.items(), key=lambda x: -x[1]))
    print(f"{n:>15} | {len(new()):>21} | {total:>12.0f} | {written:>6.0f} | {shown}", flush=True)
    return total, written, len(new())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="medium", help="the emulated site (100 changes need medium or larger)")
    parser.add_argument("--changes", default="0,1,10,100", help="changed objects per measured window")
    args = parser.parse_args()
    counts = [int(n) for n in args.changes.split(",")]
    types = [t.value for t in SnapshotType]
    with (
        tempfile.TemporaryDirectory(prefix="inc-api-bench-") as tmp,
        ControlPlane.start() as plane,
        Emulator(size=args.size, seed=1).running() as sim,
    ):
        install_crds(plane, Path(tmp) / "crds")
        api = k8s_config.new_client_from_config(config_file=str(plane.kubeconfig))
        core = k8s.CoreV1Api(api)
        core.create_namespace({"metadata": {"name": NS}})
        c = sim.credentials
        core.create_namespaced_secret(
            NS,
            {
                "metadata": {"name": "jira", "annotations": {ALLOWED_TENANTS_ANNOTATION: "acme"}},
                "stringData": {"email": c.email, "token": c.api_token},
            },
        )
        spec = {
            "site": sim.base_url,
            "auth": {"apiToken": {"secretRef": {"name": "jira"}}},
            "snapshotTypes": types,
            "schedule": {"incremental": {"enabled": True, "interval": "1m"}},
        }
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "JiraTenant", "metadata": {"name": "acme"}, "spec": spec}
        k8s.CustomObjectsApi(api).create_namespaced_custom_object(GROUP, VERSION, NS, "jiratenants", body)
        extra = ["--notify-interval", "3600"]
        results: dict[int, tuple[float, float, int]] = {}
        with running_operator(plane, [NS], Path(tmp) / "op", tenant_interval=30, extra=extra) as op:

            def windows() -> int:
                return len(re.findall(WINDOW_LINE, op.text()))

            def next_window(what: str) -> None:
                seen = windows()
                wait_for(lambda: windows() > seen, what, op=op, timeout=150)

            def full_done() -> bool:
                done = [s for s in _snapshots(api) if (s.get("status") or {}).get("phase") == "Completed"]
                return len(done) == len(types)

            wait_for(full_done, f"the first full capture of {len(types)} types", op=op, timeout=600)
            wait_for(lambda: _drifted(api).get("reason") == "MatchesAccepted", "baselines accepted", op=op, timeout=180)
            print(f"{args.size} site, {len(types)} types, incremental windows every 1m, tenant tick 30 s")
            print("changed objects | Incremental Snapshots | API requests | writes | writes by verb and resource")
            next_window("a window ran")
            for n in counts:
                results[n] = _measure(api, sim, n, next_window, op)
    quiet = results.get(0)
    failed = False
    if quiet is not None and quiet[1] > 2:
        print(f"FAIL: a quiet window wrote {quiet[1]:.0f} times (target <= 2)")
        failed = True
    for n, (total, written, snaps) in results.items():
        if n and quiet is not None and snaps:
            above = f"{(written - quiet[1]) / snaps:.1f} writes and {(total - quiet[0]) / snaps:.0f} requests"
            print(f"{n} changed objects in {snaps} type(s): {above} per changed type above the quiet window")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
