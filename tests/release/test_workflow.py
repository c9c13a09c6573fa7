"""The release workflow: actionlint-clean, and a thin list of steps (what it runs is in tools/release/)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml
from tests.plugins.registry import go_tool

from .releaselib import REPO

WORKFLOW = REPO / ".github" / "workflows" / "release.yaml"


def actionlint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(go_tool("actionlint")), "-no-color", "-oneline", str(path)], capture_output=True, text=True, timeout=120
    )


def test_actionlint_passes_and_catches_a_broken_step(tmp_path: Path) -> None:
    ok = actionlint(WORKFLOW)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    broken = tmp_path / ".github" / "workflows" / "release.yaml"
    broken.parent.mkdir(parents=True)
    broken.write_text(WORKFLOW.read_text().replace("steps.image.outputs.ref", "steps.imgae.outputs.ref", 1))
    bad = actionlint(broken)
    assert bad.returncode != 0 and "imgae" in bad.stdout, bad.stdout


def test_every_build_step_is_a_script_in_tools_release() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert workflow[True]["push"]["tags"]  # `on:` parses as True in YAML 1.1: a tag push cuts a release
    scripts = set()
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            for line in step.get("run", "").splitlines():
                scripts.update(re.findall(r"tools/release/[\w.-]+", line))
    assert scripts, "no step calls tools/release"
    for script in scripts:
        assert (REPO / script).is_file(), f"{script} is called by the workflow but missing"
    called = {Path(s).name for s in scripts}
    needed = {"stamp.sh", "image.sh", "sign.sh", "chart.sh", "push-chart.sh", "manifest.sh", "wheel.sh", "sbom.sh"}
    assert needed <= called, needed - called
    permissions = workflow["jobs"]["release"]["permissions"]
    assert permissions["id-token"] == "write" and workflow["permissions"] == {"contents": "read"}
