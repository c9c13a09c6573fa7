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
from tests.operator.kube import get, make_secret, make_tenant, snapshots

from jiradrift.dev.controlplane import ControlPlane
from jiradrift.dev.operator_process import OperatorProcess, start_operator, wait_for
from jiradrift.handlers.shard import LABEL_MEMBERSHIP, MEMBERSHIP
from jiradrift.k8s.resources import GROUP, VERSION
from jiradrift.k8s.scheduling import snapshot_name, window_iso
from jiradrift.k8s.sharding import capacity

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

    ops = {name: start(name) for name in ("op-a", "op-b", "op-c")}
    try:
        first = wait_for(lambda: owned_by(k8s_api, ns, ops, {"op-a", "op-b", "op-c"}), "3 replicas share", timeout=90)

        # Window 0: each Snapshot captured once, by its tenant's owner.
        for tenant in TENANTS:
            plane.kubectl("apply", "-f", "-", input=json.dumps(window(ns, tenant, 0)))
        wait_for(lambda: completed(k8s_api, ns, 0), "window 0 Completed", timeout=120)
        seen = captures(ops)
        for tenant in TENANTS:
            assert seen[window(ns, tenant, 0)["metadata"]["name"]] == [first[tenant]], (tenant, seen)

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
        # (how many of the survivors' own tenants move too, with bounded loads, is tests/unit/test_sharding.py's)
        assert sum(metric(ops[n], "jiradrift_shard_moves_total") for n in ("op-a", "op-b")) >= len(orphans)
        assert sum(metric(ops[n], "jiradrift_shard_tenants") for n in ("op-a", "op-b")) == len(TENANTS)

        for tenant in TENANTS:
            plane.kubectl("apply", "-f", "-", input=json.dumps(window(ns, tenant, 1)))
        wait_for(lambda: completed(k8s_api, ns, 1), "window 1 Completed on the survivors", timeout=120)
        seen = captures(ops)
        for tenant in TENANTS:
            assert seen[window(ns, tenant, 1)["metadata"]["name"]] == [second[tenant]], (tenant, seen)

        # op-d joins and takes a share; window 2 is still captured once per tenant.
        ops["op-d"] = start("op-d")
        third = wait_for(lambda: owned_by(k8s_api, ns, ops, {"op-a", "op-b", "op-d"}), "op-d takes a share", timeout=90)
        for tenant in TENANTS:
            plane.kubectl("apply", "-f", "-", input=json.dumps(window(ns, tenant, 2)))
        wait_for(lambda: completed(k8s_api, ns, 2), "window 2 Completed", timeout=120)
        seen = captures(ops)
        for tenant in TENANTS:
            assert seen[window(ns, tenant, 2)["metadata"]["name"]] == [third[tenant]], (tenant, seen)

        # op-b stops cleanly: its membership Lease is deleted, so the others need not wait it out.
        assert "op-b" in membership_holders(plane, ns)
        ops["op-b"].stop()
        assert "op-b" not in membership_holders(plane, ns)
        wait_for(lambda: owned_by(k8s_api, ns, ops, {"op-a", "op-d"}), "op-b's tenants moved", timeout=2 * SHARD_LEASE)
    finally:
        for op in ops.values():
            op.stop()
