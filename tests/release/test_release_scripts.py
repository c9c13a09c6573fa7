"""The release scripts that need no registry: the wheel, the chart package and the static install
manifest, each at a version stamped into a scratch copy of the repository."""

from __future__ import annotations

import json
import re
import sys
import tarfile
import time
import uuid
import zipfile
from pathlib import Path

import pytest
import yaml

from jiradrift.dev.controlplane import ControlPlane

from .releaselib import run, scratch_repo

VERSION = "4.5.6"


@pytest.fixture(scope="module")
def stamped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = scratch_repo(tmp_path_factory.mktemp("stamped") / "repo")
    run(repo, "stamp.sh", VERSION)
    return repo


def test_the_wheel_carries_the_stamped_version(stamped: Path, tmp_path: Path) -> None:
    wheel = Path(run(stamped, "wheel.sh", str(tmp_path / "dist")).strip().splitlines()[-1])
    assert wheel.name == f"jira_drift_operator-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as z:
        metadata = z.read(f"jira_drift_operator-{VERSION}.dist-info/METADATA").decode()
        init = z.read("jiradrift/__init__.py").decode()
        names = z.namelist()
    assert f"\nVersion: {VERSION}\n" in metadata and "License-Expression: Apache-2.0" in metadata
    assert f'__version__ = "{VERSION}"' in init  # what `jiradrift --version` prints
    assert not any(n.startswith(("tests/", "tools/")) for n in names)


def test_the_chart_package_carries_the_stamped_version(stamped: Path, tmp_path: Path, tool_env: dict[str, str]) -> None:
    tgz = Path(run(stamped, "chart.sh", str(tmp_path / "dist"), env=tool_env).strip().splitlines()[-1])
    assert tgz.name == f"jira-drift-operator-{VERSION}.tgz"
    with tarfile.open(tgz) as t:
        names = t.getnames()
        meta = yaml.safe_load(t.extractfile("jira-drift-operator/Chart.yaml").read())  # type: ignore[union-attr]
    assert meta["version"] == meta["appVersion"] == VERSION
    assert "jira-drift-operator/values.schema.json" in names and "jira-drift-operator/README.md" in names
    # release-only files stay out of the package
    assert not any(n.endswith(("artifacthub-repo.yml", "icon.svg", ".gotmpl")) or "/ci/" in n for n in names)


def test_the_static_manifest_applies_to_a_real_api_server(
    stamped: Path, tmp_path: Path, tool_env: dict[str, str], control_plane: ControlPlane
) -> None:
    ns = f"t-{uuid.uuid4().hex[:10]}"
    manifest = Path(run(stamped, "manifest.sh", str(tmp_path / "dist"), env={**tool_env, "NAMESPACE": ns}).strip())
    docs = [d for d in yaml.safe_load_all(manifest.read_text()) if d]
    assert docs[0] == {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
    kinds = [d["kind"] for d in docs]
    assert kinds.count("CustomResourceDefinition") == 3  # JiraTenant, Snapshot, SiteComparison
    # the admission guards (a tenant's host allowlist, the chart identities' spec guard) are in it
    assert kinds.count("ValidatingAdmissionPolicy") >= 2 and "ValidatingAdmissionPolicyBinding" in kinds
    (deployment,) = (d for d in docs if d["kind"] == "Deployment")
    assert deployment["metadata"]["namespace"] == ns
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == f"ghcr.io/jiradrift/jira-drift-operator:{VERSION}"
    # What `kubectl apply --server-side -f install.yaml` does, checked by the API server itself
    # (dry run: the chart's admission policies must not reach the other tests' tenants).
    control_plane.kubectl("create", "namespace", ns)
    applied = control_plane.kubectl(
        "apply", "--server-side", "--force-conflicts", "--dry-run=server", "-f", str(manifest), check=False
    )
    assert applied.returncode == 0, applied.stderr
    assert "deployment.apps/jira-drift-operator serverside-applied (server dry run)" in applied.stdout


def test_release_sh_builds_the_local_artifacts_with_an_sbom(
    stamped: Path, tmp_path: Path, tool_env: dict[str, str]
) -> None:
    """release.sh without a registry: the steps in the workflow's order, the SBOM included (the wheel
    and its dependencies installed into a scratch virtualenv as the Dockerfile installs them)."""
    started = time.monotonic()
    out = run(stamped, "release.sh", str(tmp_path / "dist"), env={**tool_env, "PYTHON": sys.executable})
    lines = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    assert lines["version"] == VERSION
    for key in ("wheel", "sbom", "chart", "manifest"):
        assert Path(lines[key]).is_file(), key
    bom = json.loads(Path(lines["sbom"]).read_text())
    assert bom["bomFormat"] == "CycloneDX"
    names = {c["name"].lower(): c["version"] for c in bom["components"]}
    assert names["jira-drift-operator"] == VERSION
    normal = {re.sub(r"[-_.]+", "-", name) for name in names}
    assert {"kopf", "pydantic", "httpx", "kubernetes-asyncio"} <= normal
    assert "kubernetes" not in normal  # the sync client is the dev extra's, never the image's (issue 25)
    assert "pip" not in names  # the image has none
    assert time.monotonic() - started < 480
