"""`jiradrift accept` against a real kube-apiserver: it labels the newest Completed snapshot per
type, unlabels the one it replaces, refuses what cannot be accepted, and RBAC decides who may.

The tests are synchronous because the CLI runs its own event loop, as it does for a user.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from kubernetes_asyncio.config import list_kube_config_contexts
from typer.testing import CliRunner

from jiradrift.api.baseline import ANNOTATION_ACCEPTED_BY, LABEL_ACCEPTED
from jiradrift.api.resources import GROUP, LABEL_TENANT, LABEL_TYPE, VERSION
from jiradrift.cli import app
from jiradrift.dev.controlplane import ControlPlane
from jiradrift.kube.client import Kube, resource_path

pytestmark = pytest.mark.k8s
runner = CliRunner()
RBAC = "rbac.authorization.k8s.io"
SNAPSHOTS = [
    ("acme-w1", "workflows", "Completed", True),
    ("acme-w2", "workflows", "Failed", False),
    ("acme-w3", "workflows", "Completed", False),
    ("acme-f1", "fields", "Completed", True),
]


async def _setup(kc: str, ns: str, viewer: str | None = None) -> None:
    async with await Kube.connect(kc) as kube:
        await kube.create(
            resource_path(GROUP, VERSION, "jiratenants", ns),
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "JiraTenant",
                "metadata": {"name": "acme"},
                "spec": {
                    "site": "https://acme.atlassian.net",
                    "auth": {"apiToken": {"secretRef": {"name": "creds"}}},
                    "schedule": {"interval": "6h"},
                    "snapshotTypes": ["workflows", "fields"],
                },
            },
        )
        snaps = resource_path(GROUP, VERSION, "snapshots", ns)
        for name, stype, phase, accepted in SNAPSHOTS:
            labels = {LABEL_TENANT: "acme", LABEL_TYPE: stype, **({LABEL_ACCEPTED: "true"} if accepted else {})}
            await kube.create(
                snaps,
                {
                    "apiVersion": f"{GROUP}/{VERSION}",
                    "kind": "Snapshot",
                    "metadata": {"name": name, "labels": labels},
                    "spec": {"tenantRef": {"name": "acme"}, "type": stype, "reason": "Manual"},
                },
            )
            await kube.merge_patch(f"{snaps}/{name}/status", {"status": {"phase": phase, "digest": f"sha256:{name}"}})
        if viewer:
            await kube.create(
                resource_path(RBAC, "v1", "roles", ns),
                {
                    "metadata": {"name": "snapshot-viewer"},
                    "rules": [
                        {"apiGroups": [GROUP], "resources": ["snapshots", "jiratenants"], "verbs": ["get", "list"]}
                    ],
                },
            )
            await kube.create(
                resource_path(RBAC, "v1", "rolebindings", ns),
                {
                    "metadata": {"name": viewer},
                    "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": "snapshot-viewer"},
                    "subjects": [{"apiGroup": RBAC, "kind": "User", "name": viewer}],
                },
            )


async def _metadata(kc: str, ns: str) -> dict[str, dict[str, Any]]:
    async with await Kube.connect(kc) as kube:
        items = await kube.list_all(resource_path(GROUP, VERSION, "snapshots", ns))
    return {i["metadata"]["name"]: i["metadata"] for i in items}


def test_accept_moves_the_label_to_the_newest_completed(control_plane: ControlPlane, k8s_namespace: str) -> None:
    kc = str(control_plane.kubeconfig)
    asyncio.run(_setup(kc, k8s_namespace))
    result = runner.invoke(app, ["accept", "--tenant", f"{k8s_namespace}/acme", "--kubeconfig", kc, "--by", "alice"])
    assert result.exit_code == 0, result.output
    assert "workflows: accepted acme-w3 (was acme-w1)" in result.output
    assert "fields: acme-f1 is already accepted" in result.output
    meta = asyncio.run(_metadata(kc, k8s_namespace))
    assert meta["acme-w3"]["labels"][LABEL_ACCEPTED] == "true"
    assert meta["acme-w3"]["annotations"][ANNOTATION_ACCEPTED_BY] == "alice"
    assert LABEL_ACCEPTED not in meta["acme-w1"]["labels"]
    assert ANNOTATION_ACCEPTED_BY not in (meta["acme-w1"].get("annotations") or {})

    tenant = f"{k8s_namespace}/acme"
    failed = runner.invoke(app, ["accept", "--tenant", tenant, "--snapshot", "acme-w2", "--kubeconfig", kc])
    assert failed.exit_code == 2
    assert "acme-w2 is Failed; only a Completed snapshot can be accepted" in failed.output

    missing = runner.invoke(app, ["accept", "--tenant", f"{k8s_namespace}/nope", "--kubeconfig", kc])
    assert missing.exit_code == 2 and f"JiraTenant {k8s_namespace}/nope not found" in missing.output

    bad = runner.invoke(app, ["accept", "--tenant", "Acme!", "--kubeconfig", kc])
    assert bad.exit_code == 2 and "expected a JiraTenant name" in bad.output


def test_accept_takes_kubectl_flags(control_plane: ControlPlane, k8s_namespace: str) -> None:
    kc = str(control_plane.kubeconfig)
    asyncio.run(_setup(kc, k8s_namespace))
    [context] = [c["name"] for c in list_kube_config_contexts(config_file=kc)[0]]
    result = runner.invoke(
        app, ["accept", "acme", "-n", k8s_namespace, "--type", "workflows", "--kubeconfig", kc, "--context", context]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "workflows: accepted acme-w3 (was acme-w1)\n" and result.stderr == ""
    # The older NAMESPACE/NAME form still works, with a note on stderr.
    legacy = runner.invoke(app, ["accept", "--tenant", f"{k8s_namespace}/acme", "--kubeconfig", kc])
    assert legacy.exit_code == 0, legacy.output
    assert legacy.stderr.startswith("warning: --tenant NAMESPACE/NAME is deprecated; use --tenant acme -n ")


def test_rbac_decides_who_may_accept(control_plane: ControlPlane, k8s_namespace: str) -> None:
    kc = str(control_plane.kubeconfig)
    asyncio.run(_setup(kc, k8s_namespace, viewer="bob"))
    bob = str(control_plane.user_kubeconfig("bob"))
    result = runner.invoke(app, ["accept", "--tenant", f"{k8s_namespace}/acme", "--kubeconfig", bob])
    assert result.exit_code == 2, result.output
    assert "403" in result.output and "forbidden" in result.output.lower()
    meta = asyncio.run(_metadata(kc, k8s_namespace))
    assert LABEL_ACCEPTED not in meta["acme-w3"]["labels"]  # nothing changed
