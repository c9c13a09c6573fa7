"""Sharded replicas: three operators share nine tenants, one is killed, one joins, one leaves.

Each replica is a separate `jiradrift run --shard-namespace NS` process against the real
kube-apiserver. What must hold throughout: every window is captured exactly once and by its
tenant's owner; `status.owner` says which replica that is; a killed replica's tenants move to the
survivors within two membership lease durations; a joining replica takes a share; a replica that
stops deletes its membership Lease.
"""

from __future__ import annotations

import json
import re
import signal
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from tests.operator.kube import condition, get, make_secret, make_tenant, snapshots

from jiradrift.api.resources import GROUP, VERSION
from jiradrift.api.windows import snapshot_name, window_iso
from jiradrift.dev.controlplane import ControlPlane
from jiradrift.dev.operator_process import OperatorProcess, start_operator, wait_for
from jiradrift.handlers.shard import LABEL_MEMBERSHIP, MEMBERSHIP
from jiradrift.kube.sharding import capacity

pytestmark = pytest.mark.k8s

TENANTS = [f"site-{i}" for i in range(9)]
SHARD_LEASE = 10  # seconds; a dead replica's tenants must move within two of these
TENANT_INTERVAL = 2.0
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def window(ns: str, tenant: str, index: int) -> dict[str, Any]:
    start = T0 + timedelta(hours=6 * index)
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Snapshot",
        "metadata": {"name": snapshot_name(tenant, "priorities", start), "namespace": ns},
        "spec": {"tenantRef": {"name": tenant}, "type": "priorities", "windowStart": window_iso(start)},
    }


def owners(api: k8s.ApiClient, ns: str) -> dict[str, str]:
    """Tenant -> the replica name (the process's POD_NAME) in its status.owner."""
    found = {}
    for tenant in TENANTS:
        owner = (get(api, ns, "jiratenants", tenant).get("status") or {}).get("owner") or ""
        found[tenant] = owner.rsplit("_", 1)[0]
    return found


def owned_by(api: k8s.ApiClient, ns: str, ops: dict[str, OperatorProcess], live: set[str]) -> dict[str, str]:
    """The owners once the live replicas agree: each sees all of them, every tenant's status names
    one of them, as many per replica as that replica says it owns, none over the bound."""
    for name in live:
        assert metric(ops[name], "jiradrift_shard_replicas") == len(live), f"{name} does not see {len(live)} yet"
    found = owners(api, ns)
    assert set(found.values()) == live, f"owners {found}, want exactly {sorted(live)}"
    counts = Counter(found.values())
    for name in live:
        assert metric(ops[name], "jiradrift_shard_tenants") == counts[name], f"{name}: status lags its assignment"
    assert max(counts.values()) <= capacity(len(TENANTS), len(live)), f"unbalanced: {counts}"
    return found


def completed(api: k8s.ApiClient, ns: str, index: int) -> bool:
    names = {window(ns, t, index)["metadata"]["name"] for t in TENANTS}
    phases = {s["metadata"]["name"]: (s.get("status") or {}).get("phase") for s in snapshots(api, ns)}
    missing = {n: phases.get(n) for n in names if phases.get(n) != "Completed"}
    assert not missing, f"window {index} not Completed yet: {missing}"
    return True


def captures(ops: dict[str, OperatorProcess]) -> dict[str, list[str]]:
    """Snapshot name -> the replicas that captured it (from their logs)."""
    seen: dict[str, list[str]] = {}
    for name, op in ops.items():
        for snap in re.findall(r"snapshot [^/\s]+/(\S+) capturing under", op.text()):
            seen.setdefault(snap, []).append(name)
    return seen


def metric(op: OperatorProcess, name: str) -> float:
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{op.metrics_port}/metrics", timeout=10).read().decode()
    except OSError as exc:  # URLError included: not serving yet
        raise AssertionError(f"{op.log.stem} metrics not served yet: {exc}") from None
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{"))


def membership_holders(plane: ControlPlane, ns: str) -> set[str]:
    out = plane.kubectl("get", "leases", "-n", ns, "-l", f"{LABEL_MEMBERSHIP}={MEMBERSHIP}", "-o", "json").stdout
    return {(lease["spec"].get("holderIdentity") or "").rsplit("_", 1)[0] for lease in json.loads(out)["items"]}


def test_replicas_share_tenants_and_hand_them_over(
    control_plane: ControlPlane, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: Any, tmp_path: Path
) -> None:
    ns, plane = k8s_namespace, control_plane
    creds = jira_sim.credentials
    make_secret(k8s_api, ns, "jira", {"email": creds.email, "token": creds.api_token})
    for tenant in TENANTS:  # paused: the test, not the clock, decides which windows exist
        make_tenant(k8s_api, ns, tenant, jira_sim.base_url, "jira", ["priorities"], paused=True)

    def start(name: str) -> OperatorProcess:
        return start_operator(
            plane,
            [ns],
            tmp_path,
            name=name,
            tenant_interval=TENANT_INTERVAL,
            extra=["--shard-namespace", ns, "--shard-lease-duration", str(SHARD_LEASE)],
        )

    def capture_window(index: int, owner: dict[str, str]) -> None:
        """Create window ``index`` for every tenant; each Snapshot is captured once, by its tenant's owner."""
        for tenant in TENANTS:
            plane.kubectl("apply", "-f", "-", input=json.dumps(window(ns, tenant, index)))
        wait_for(lambda: completed(k8s_api, ns, index), f"window {index} Completed", timeout=120)
        seen = captures(ops)
        for tenant in TENANTS:
            assert seen[window(ns, tenant, index)["metadata"]["name"]] == [owner[tenant]], (tenant, seen)

    ops = {name: start(name) for name in ("op-a", "op-b", "op-c")}
    try:
        first = wait_for(lambda: owned_by(k8s_api, ns, ops, {"op-a", "op-b", "op-c"}), "3 replicas share", timeout=90)

        capture_window(0, first)

        # Kill op-c: its tenants move to the survivors within two membership lease durations.
        orphans = {t for t, o in first.items() if o == "op-c"}
        assert orphans
        ops["op-c"].kill(signal.SIGKILL)
        killed = time.monotonic()
        second = wait_for(
            lambda: owned_by(k8s_api, ns, ops, {"op-a", "op-b"}),
            "the survivors own every tenant",
            timeout=2 * SHARD_LEASE + 30,
        )
        takeover = time.monotonic() - killed
        print(f"\nkilled replica's {len(orphans)} tenants owned by survivors after {takeover:.1f}s")
        # detection within one duration after its last renewal, one round, one tenant tick
        assert takeover <= 2 * SHARD_LEASE + TENANT_INTERVAL, f"takeover took {takeover:.1f}s"
        # (how many of the survivors' own tenants move too, with bounded loads, is tests/kube/test_sharding.py's)
        assert sum(metric(ops[n], "jiradrift_shard_moves_total") for n in ("op-a", "op-b")) >= len(orphans)
        assert sum(metric(ops[n], "jiradrift_shard_tenants") for n in ("op-a", "op-b")) == len(TENANTS)

        capture_window(1, second)

        # op-d joins and takes a share; window 2 is still captured once per tenant.
        ops["op-d"] = start("op-d")
        third = wait_for(lambda: owned_by(k8s_api, ns, ops, {"op-a", "op-b", "op-d"}), "op-d takes a share", timeout=90)
        capture_window(2, third)

        # op-b stops cleanly: its membership Lease is deleted, so the others need not wait it out.
        assert "op-b" in membership_holders(plane, ns)
        ops["op-b"].stop()
        assert "op-b" not in membership_holders(plane, ns)
        wait_for(lambda: owned_by(k8s_api, ns, ops, {"op-a", "op-d"}), "op-b's tenants moved", timeout=2 * SHARD_LEASE)
    finally:
        for op in ops.values():
            op.stop()


def test_a_gained_tenants_unfinished_capture_is_taken_up_before_its_first_tick(
    control_plane: ControlPlane, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: Any, tmp_path: Path
) -> None:
    """A replica killed mid-capture: the survivor looks at the dead holder's Lease as soon as it
    gains the tenant, before the tenant's first reconcile there (which checks the site, slowly
    here). Under load a survivor reconciles the hundreds of tenants it gains 16 at a time, and the
    Lease's expiry counts from that first look."""
    ns, plane = k8s_namespace, control_plane
    creds = jira_sim.credentials
    make_secret(k8s_api, ns, "jira", {"email": creds.email, "token": creds.api_token})
    make_tenant(k8s_api, ns, "acme", jira_sim.base_url, "jira", ["priorities"], paused=True)
    ops = {
        name: start_operator(
            plane,
            [ns],
            tmp_path,
            name=name,
            lease_duration=8,
            tenant_interval=TENANT_INTERVAL,
            extra=["--shard-namespace", ns, "--shard-lease-duration", str(SHARD_LEASE)],
        )
        for name in ("op-a", "op-b")
    }
    try:

        def healthy_owner() -> str:
            tenant = get(k8s_api, ns, "jiratenants", "acme")
            owner = ((tenant.get("status") or {}).get("owner") or "").rsplit("_", 1)[0]
            assert owner in ops and condition(tenant, "Ready").get("status") == "True", tenant.get("status")
            for op in ops.values():  # both see both: the assignment is final
                assert metric(op, "jiradrift_shard_replicas") == 2, f"{op.log.stem} does not see both replicas yet"
            return owner

        victim = wait_for(healthy_owner, "acme owned and Ready", timeout=90)
        (survivor,) = set(ops) - {victim}
        jira_sim.set_latency(1500)  # a capture of seconds, so the kill lands inside it; a slow site check
        body = window(ns, "acme", 0)
        name = body["metadata"]["name"]
        plane.kubectl("apply", "-f", "-", input=json.dumps(body))
        wait_for(
            lambda: (get(k8s_api, ns, "snapshots", name).get("status") or {}).get("phase") == "Capturing",
            "capture started",
            op=ops[victim],
            timeout=60,
        )
        ops[victim].kill(signal.SIGKILL)
        before_kill = len(ops[survivor].lines())
        # A new spec generation: the survivor checks the site when it first reconciles the tenant
        k8s.CustomObjectsApi(k8s_api).patch_namespaced_custom_object(
            GROUP, VERSION, ns, "jiratenants", "acme", {"spec": {"schedule": {"interval": "12h"}}}
        )
        snap = wait_for(
            lambda: (
                (s := get(k8s_api, ns, "snapshots", name)) and (s.get("status") or {}).get("phase") == "Completed" and s
            ),
            "the window Completed by the survivor",
            op=ops[survivor],
            timeout=2 * SHARD_LEASE + 120,
        )
        assert snap["status"]["lock"]["holder"].rsplit("_", 1)[0] == survivor
        messages = [str(line.get("message", "")) for line in ops[survivor].lines()[before_kill:]]
        held = next(i for i, m in enumerate(messages) if m.startswith(f"Snapshot {name}: ") and "is held by" in m)
        reconciled = next(i for i, m in enumerate(messages) if m.startswith(f"reconciled JiraTenant {ns}/acme"))
        assert held < reconciled, messages[min(held, reconciled) : max(held, reconciled) + 1]
        assert captures({survivor: ops[survivor]})[name] == [survivor]
    finally:
        for op in ops.values():
            op.stop()
