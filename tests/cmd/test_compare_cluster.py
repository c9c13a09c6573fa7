"""``jiradrift compare NAMESPACE/NAME NAMESPACE/NAME``: two JiraTenants' snapshots as the operator keeps
them in a real API server (Secret store for one, ConfigMap store for the other)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import orjson
import pytest
from kubernetes import client as k8s  # noqa: F401  (the k8s plugin's fixtures use it)
from tests.plugins.sites import CapturedSite
from tests.store.builders import put_snapshot
from typer.testing import CliRunner

from jiradrift.cli import app
from jiradrift.kube.client import Kube
from jiradrift.model.kinds import KINDS
from jiradrift.model.store import SnapshotStore
from jiradrift.sim.variant import RENAMED_GROUP, sandbox_differences
from jiradrift.store.configmap import ConfigMapStore, SecretStore

pytestmark = pytest.mark.k8s


async def put_site(
    store: SnapshotStore, tenant: str, items: list[tuple[str, Any]], suffix: str = "w0", hours: int = 0
) -> None:
    by_type: dict[str, dict[str, Any]] = defaultdict(dict)
    for key, body in items:
        by_type[KINDS[key.split("/", 1)[0]].snapshot_type.value][key] = body
    for n, (snapshot_type, objects) in enumerate(sorted(by_type.items())):
        await put_snapshot(
            store,
            f"{tenant.split('/')[1]}-{snapshot_type}-{suffix}",
            objects,
            tenant=tenant,
            type=snapshot_type,
            hours=hours + n,
        )


def test_two_tenants_in_the_cluster(
    control_plane: Any, k8s_namespace: str, production: CapturedSite, sandbox: CapturedSite
) -> None:
    prod, sand = f"{k8s_namespace}/prod", f"{k8s_namespace}/sandbox"
    prod_items, sand_items = production.items(), sandbox.items()

    async def fill() -> None:
        async with await Kube.connect(control_plane.kubeconfig) as kube:
            await put_site(SecretStore(kube, k8s_namespace, prod), prod, prod_items)
            await put_site(ConfigMapStore(kube, k8s_namespace, sand), sand, sand_items)

    asyncio.run(fill())
    kc = str(control_plane.kubeconfig)
    group = f"group:{RENAMED_GROUP[0]}={RENAMED_GROUP[1]}"
    result = CliRunner().invoke(app, ["compare", prod, sand, "--kubeconfig", kc, "--map", group, "--format", "json"])
    assert result.exit_code == 1, result.output
    report = orjson.loads(result.stdout)
    expected = {(d.op, f"{d.kind}/{d.key}") for d in sandbox_differences(production.site)}
    assert {(c["op"], c["key"]) for c in report["changes"]} == expected
    # A tenant against a store directory, and a tenant with itself.
    mixed = CliRunner().invoke(app, ["compare", str(production.store), prod, "--kubeconfig", kc])
    assert mixed.exit_code == 0, mixed.output
    missing = CliRunner().invoke(app, ["compare", prod, f"{k8s_namespace}/nope", "--kubeconfig", kc])
    assert missing.exit_code == 2 and "has no complete snapshot" in missing.output
