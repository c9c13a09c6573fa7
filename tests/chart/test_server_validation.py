"""Every ci/ values file renders objects the real kube-apiserver accepts (server-side dry-run).

This is the most faithful check short of running pods: the API server applies its own schema,
CEL, CronJob and RBAC-object validation, with the CRDs already installed by the session fixture.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from chartlib import CI_VALUES, Helm, documents, unique

from jiradrift.dev.controlplane import ControlPlane

pytestmark = pytest.mark.k8s


@pytest.fixture(scope="module")
def namespaces(control_plane: ControlPlane) -> dict[str, str]:
    """The namespaces the ci/ values files name (they must exist for Roles in them to dry-run)."""
    for name in ("team-a", "team-b"):
        control_plane.kubectl("create", "namespace", name, check=False)
    release_ns = unique("jd-dryrun")
    control_plane.kubectl("create", "namespace", release_ns)
    return {"release": release_ns}


@pytest.mark.parametrize("values", CI_VALUES, ids=lambda p: p.stem)
def test_ci_values_pass_server_side_dry_run(
    control_plane: ControlPlane, helm: Helm, namespaces: dict[str, str], values: Path
) -> None:
    manifest = helm.template("-f", str(values), namespace=namespaces["release"], release=unique("dry"))
    kinds = sorted({d["kind"] for d in documents(manifest)})
    assert "Deployment" in kinds
    proc = control_plane.kubectl(
        "apply",
        "--dry-run=server",
        "--server-side",
        "--force-conflicts",
        "--field-manager=chart-test",
        "-f",
        "-",
        input=manifest,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("(server dry run)") == len(documents(manifest))
