"""The SiteComparison resource against a real API server: CEL refuses bad input naming the field and
the fix; an operator compares the two tenants' stored snapshots (Secret store) when the comparison is
created, when its spec changes and when a side completes a snapshot; status, printer columns and the
metric say the result."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client as k8s
from tests.cmd.test_compare_cluster import put_site
from tests.operator.kube import get
from tests.plugins.sites import CapturedSite
from typer.testing import CliRunner

from jiradrift.api.resources import GROUP, VERSION
from jiradrift.cli import app
from jiradrift.dev.controlplane import ControlPlane
from jiradrift.dev.operator_process import running_operator, wait_for
from jiradrift.kube.client import Kube
from jiradrift.sim.variant import RENAMED_GROUP, sandbox_differences
from jiradrift.store.configmap import SecretStore

pytestmark = pytest.mark.k8s


def comparison(name: str, left: str, right: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "SiteComparison",
        "metadata": {"name": name},
        "spec": {"left": {"name": left}, "right": {"name": right}, **spec},
    }


def apply(plane: ControlPlane, ns: str, body: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    return plane.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(body), check=False)


def in_sync(api: k8s.ApiClient, ns: str, name: str) -> dict[str, Any] | None:
    status = get(api, ns, "sitecomparisons", name).get("status") or {}
    found = [c for c in status.get("conditions") or [] if c["type"] == "InSync"]
    return {**status, "inSync": found[0]} if found else None


def test_cel_refuses_bad_comparisons_naming_the_field_and_the_fix(
    control_plane: ControlPlane, k8s_namespace: str
) -> None:
    same = apply(control_plane, k8s_namespace, comparison("same", "acme", "acme"))
    assert same.returncode != 0
    assert "spec.right.name" in same.stderr and "name two different tenants" in same.stderr
    bad_map = apply(control_plane, k8s_namespace, comparison("bad-map", "a", "b", mappings=["groups:x=y"]))
    assert bad_map.returncode != 0 and "spec.mappings" in bad_map.stderr and "KIND:LEFT=RIGHT" in bad_map.stderr
    bad_pin = apply(control_plane, k8s_namespace, comparison("bad-pin", "a", "b", pins=["Bug Flow"]))
    assert bad_pin.returncode != 0 and "spec.pins" in bad_pin.stderr
    other_ns = comparison("elsewhere", "a", "b")
    other_ns["spec"]["left"]["namespace"] = "kube-system"  # only a name: another namespace cannot be named
    refused = apply(control_plane, k8s_namespace, other_ns)
    assert refused.returncode != 0 and "namespace" in refused.stderr
    assert apply(control_plane, k8s_namespace, comparison("fine", "a", "b")).returncode == 0


def test_an_operator_keeps_a_comparison_up_to_date(
    control_plane: ControlPlane,
    k8s_api: k8s.ApiClient,
    k8s_namespace: str,
    production: CapturedSite,
    sandbox: CapturedSite,
    tmp_path: Path,
) -> None:
    ns = k8s_namespace
    prod, sand = f"{ns}/prod", f"{ns}/sandbox"

    prod_items = production.items()

    async def fill(sandbox_items: list[tuple[str, Any]], hours: int = 0) -> None:
        async with await Kube.connect(control_plane.kubeconfig) as kube:
            if hours == 0:
                await put_site(SecretStore(kube, ns, prod), prod, prod_items)
            await put_site(SecretStore(kube, ns, sand), sand, sandbox_items, suffix=f"w{hours}", hours=hours)

    asyncio.run(fill(sandbox.items()))
    expected = sandbox_differences(production.site)
    group = f"group:{RENAMED_GROUP[0]}={RENAMED_GROUP[1]}"
    with running_operator(control_plane, [ns], tmp_path) as op:
        assert (
            apply(control_plane, ns, comparison("prod-vs-sandbox", "prod", "sandbox", mappings=[group])).returncode == 0
        )
        status = wait_for(
            lambda: (s := in_sync(k8s_api, ns, "prod-vs-sandbox")) and s["inSync"]["status"] == "False" and s,
            "the comparison Different",
            op=op,
            timeout=120,
        )
        assert status["differences"]["total"] == len(expected), status
        assert sum(status["differences"][s] for s in ("high", "medium", "low")) == len(expected)
        assert 0 < len(status["first"]) <= 10 and status["observedGeneration"] == 1
        assert {(d["op"], d["key"]) for d in status["first"]} <= {(d.op, f"{d.kind}/{d.key}") for d in expected}
        # The full report is in the left tenant's store, named by status.report and read back by the CLI.
        ref = status["report"]
        assert ref["store"] == f"secrets of namespace {ns}" and ref["digest"].startswith("sha256:"), ref
        printed = CliRunner().invoke(
            app, ["comparison-report", f"{ns}/prod-vs-sandbox", "--kubeconfig", str(control_plane.kubeconfig)]
        )
        assert printed.exit_code == 0, printed.output
        report = json.loads(printed.stdout)
        assert len(report["changes"]) == status["differences"]["total"] and report["in_sync"] is False
        assert {(c["op"], c["key"]) for c in report["changes"]} == {(d.op, f"{d.kind}/{d.key}") for d in expected}
        table = control_plane.kubectl("get", "sitecomparisons", "-n", ns).stdout
        header = table.splitlines()[0].split()
        assert header[:6] == ["NAME", "INSYNC", "DIFFERENCES", "HIGH", "LEFT", "RIGHT"], table
        assert table.splitlines()[1].split()[1:3] == ["False", str(len(expected))]
        scrape = httpx.get(f"http://127.0.0.1:{op.metrics_port}/metrics", timeout=5).text
        high = status["differences"]["high"]
        assert (
            f'jiradrift_comparison_differences{{comparison="prod-vs-sandbox",namespace="{ns}",severity="high"}} '
            f"{float(high)}" in scrape
        )
        # The spec changes (the expected group difference no longer declared): compared again.
        assert apply(control_plane, ns, comparison("prod-vs-sandbox", "prod", "sandbox")).returncode == 0
        status = wait_for(
            lambda: (s := in_sync(k8s_api, ns, "prod-vs-sandbox")) and s["observedGeneration"] == 2 and s,
            "the new spec compared",
            op=op,
        )
        assert status["differences"]["total"] > len(expected)
        # The sandbox completes a snapshot identical to production: in sync.
        asyncio.run(fill(prod_items, hours=10))
        done = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Snapshot",
            "metadata": {"name": "sandbox-sync"},
            "spec": {"tenantRef": {"name": "sandbox"}, "type": "workflows"},
        }
        k8s.CustomObjectsApi(k8s_api).create_namespaced_custom_object(GROUP, VERSION, ns, "snapshots", done)
        k8s.CustomObjectsApi(k8s_api).patch_namespaced_custom_object_status(
            GROUP, VERSION, ns, "snapshots", "sandbox-sync", {"status": {"phase": "Completed"}}
        )
        status = wait_for(
            lambda: (s := in_sync(k8s_api, ns, "prod-vs-sandbox")) and s["inSync"]["status"] == "True" and s,
            "in sync after the sandbox's new snapshot",
            op=op,
            timeout=120,
        )
        assert status["differences"]["total"] == 0 and status["first"] == []
        assert all(sid.endswith("-w10") for sid in status["rightSnapshots"])
        # The report kept before is replaced by the new comparison's.
        printed = CliRunner().invoke(
            app, ["comparison-report", f"{ns}/prod-vs-sandbox", "--kubeconfig", str(control_plane.kubeconfig)]
        )
        assert printed.exit_code == 0, printed.output
        assert json.loads(printed.stdout)["in_sync"] is True and json.loads(printed.stdout)["changes"] == []
        assert status["report"]["key"] == ref["key"] and status["report"]["digest"] != ref["digest"]
        missing = CliRunner().invoke(
            app, ["comparison-report", f"{ns}/no-such", "--kubeconfig", str(control_plane.kubeconfig)]
        )
        assert missing.exit_code == 2 and f"SiteComparison {ns}/no-such does not exist" in missing.output
