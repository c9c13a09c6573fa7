"""One version, from a git tag, in every place: jiradrift.__version__ (the wheel, `jiradrift --version`),
the chart's version, appVersion and Artifact Hub image, and the Dockerfile's label; and CI refuses a
chart change without a version bump (tools/release/versions.py)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import jiradrift

from .releaselib import REPO, git, run, scratch_repo

CHART = Path("charts/jira-drift-operator/Chart.yaml")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return scratch_repo(tmp_path / "repo")


def chart(root: Path) -> dict[str, object]:
    doc: dict[str, object] = yaml.safe_load((root / CHART).read_text())
    return doc


def test_the_repository_agrees_with_itself() -> None:
    out = subprocess.run(
        [sys.executable, str(REPO / "tools/release/versions.py"), "check"], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    doc = chart(REPO)
    assert doc["version"] == doc["appVersion"] == jiradrift.__version__
    images = yaml.safe_load(doc["annotations"]["artifacthub.io/images"])  # type: ignore[index]
    assert images[0]["image"].endswith(f":{jiradrift.__version__}")
    assert f"ARG VERSION={jiradrift.__version__}\n" in (REPO / "Dockerfile").read_text()
    # The wheel takes its version from the package: no second copy in pyproject.toml.
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject and 'attr = "jiradrift.__version__"' in pyproject
    assert not re.search(r"^version = \"", pyproject, re.M)


def test_stamp_writes_every_place_and_pins_the_image(repo: Path) -> None:
    digest = "sha256:" + "ab" * 32
    out = run(repo, "stamp.sh", "2.3.4-rc.1", "--digest", digest)
    assert "versions agree: 2.3.4-rc.1" in out
    doc = chart(repo)
    assert doc["version"] == "2.3.4-rc.1" and doc["appVersion"] == "2.3.4-rc.1"
    assert '__version__ = "2.3.4-rc.1"' in (repo / "operator/jiradrift/__init__.py").read_text()
    assert "ARG VERSION=2.3.4-rc.1\n" in (repo / "Dockerfile").read_text()
    assert "jira-drift-operator:2.3.4-rc.1\n" in (repo / CHART).read_text()
    values = yaml.safe_load((repo / "charts/jira-drift-operator/values.yaml").read_text())
    assert values["image"]["digest"] == digest
    # the chart README (generated, it shows the version) follows
    assert "--version 2.3.4-rc.1 " in (repo / "charts/jira-drift-operator/README.md").read_text()
    # the wheel's spelling of a release candidate
    assert run(repo, "version.sh", "--pep440").strip() == "2.3.4rc1"


def test_check_names_the_place_that_disagrees(repo: Path) -> None:
    dockerfile = repo / "Dockerfile"
    dockerfile.write_text(re.sub(r"^ARG VERSION=.*$", "ARG VERSION=9.9.9", dockerfile.read_text(), flags=re.M))
    out = run(repo, "versions.py", "check", check=False)
    assert "Dockerfile: ARG VERSION=…: 9.9.9" in out and "fix: tools/release/stamp.sh" in out


@pytest.mark.parametrize("bad", ["1.2", "v1.2.3", "1.2.3-beta", "1.2.3+build"])
def test_stamp_refuses_what_is_not_a_release_version(repo: Path, bad: str) -> None:
    out = run(repo, "versions.py", "stamp", bad.removeprefix("v") if bad == "v1.2.3" else bad, check=False)
    if bad == "v1.2.3":  # the leading v of a tag name is dropped, as the workflow passes GITHUB_REF_NAME
        assert "stamped" in out
    else:
        assert "is not a release version" in out


def test_the_version_comes_from_the_tag_at_head(repo: Path) -> None:
    assert run(repo, "version.sh").strip() == jiradrift.__version__  # no tag: the tree's own
    git(repo, "tag", "v3.0.0")
    assert run(repo, "version.sh").strip() == "3.0.0"
    git(repo, "commit", "-q", "--allow-empty", "-m", "after the release")
    assert run(repo, "version.sh").strip() == jiradrift.__version__


def _change_chart(repo: Path) -> None:
    values = repo / "charts/jira-drift-operator/values.yaml"
    values.write_text(values.read_text() + "\n# a change\n")
    git(repo, "commit", "-q", "-am", "change the chart")


def test_a_chart_change_without_a_version_bump_fails(repo: Path) -> None:
    # a clone without release tags: nothing published, nothing to compare against
    assert "no release tag" in run(repo, "check.sh")
    git(repo, "tag", f"v{jiradrift.__version__}")
    assert "unchanged since" in run(repo, "check.sh")
    _change_chart(repo)
    out = run(repo, "check.sh", check=False)
    assert f"the chart changed since v{jiradrift.__version__} but its version" in out and "is not above" in out
    assert "values.yaml" in out and "fix: bump the release version" in out
    run(repo, "stamp.sh", "7.0.0")
    git(repo, "commit", "-q", "-am", "bump")
    assert f"rose {jiradrift.__version__} -> 7.0.0" in run(repo, "check.sh")


def test_a_lower_chart_version_fails_against_an_explicit_base(repo: Path) -> None:
    run(repo, "stamp.sh", "5.0.0")
    git(repo, "commit", "-q", "-am", "5.0.0")
    base = git(repo, "rev-parse", "HEAD").strip()
    run(repo, "stamp.sh", "4.9.9")
    git(repo, "commit", "-q", "-am", "down")
    out = run(repo, "check.sh", "--base", base, check=False)
    assert "its version 4.9.9 is not above 5.0.0" in out
