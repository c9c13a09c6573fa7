"""The README leads with a user's task, the documentation site builds strictly, and the API reference
is the one the models generate."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

from jiradrift.generate.apidocs import REFERENCE, render_api_reference, stale_api_docs
from jiradrift.generate.crds import build_crds

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
DOCS = REPO / "docs"


def test_the_readme_starts_with_the_two_commands_then_the_users_tasks() -> None:
    text = README.read_text()
    first_block = text.split("```bash\n", 1)[1].split("```", 1)[0].splitlines()
    assert [line.split("#")[0].strip() for line in first_block] == ["bash tools/demo.sh", "bash tools/test.sh"]
    assert text.index("bash tools/demo.sh") < 200, "the commands come first, right under the title"
    headings = re.findall(r"^## (.+)$", text, re.M)
    assert headings[:3] == ["Install in a cluster", "Connect a site", "Read and accept drift"], headings
    assert len(text.splitlines()) < 150, "the long material lives in docs/"
    for machinery in ("How the control plane is built", "Measured", "mmdebstrap", "kube-scheduler"):
        assert machinery not in text, f"{machinery!r} belongs in docs/, not the README"


def test_the_readme_advises_which_auth_method_and_the_jira_permissions() -> None:
    text = README.read_text() + (DOCS / "connect.md").read_text()
    for method in ("serviceAccount", "oauth", "apiToken", "pat"):
        assert f"`{method}`" in text
    assert "Administer Jira" in text and "Browse projects" in text
    assert "writes included" in text, "say that an API token carries its user's write rights"


def test_no_page_claims_the_chart_recreates_a_single_replica() -> None:
    # The chart rolls pods (maxSurge 1, maxUnavailable 0) and recreates only with the filesystem store.
    deployment = (REPO / "charts/jira-drift-operator/templates/deployment.yaml").read_text()
    assert "maxSurge: 1" in deployment and "maxUnavailable: 0" in deployment
    for page in [README, *DOCS.rglob("*.md")]:
        assert "one replica with `strategy: Recreate`" not in page.read_text(), page


def test_every_relative_link_in_the_readme_resolves() -> None:
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README.read_text())
    local = [link for link in links if "://" not in link]
    assert local
    for link in local:
        assert (REPO / link).exists(), link


def test_license_changelog_and_the_pages_a_user_needs_exist() -> None:
    license_text = (REPO / "LICENSE").read_text()
    assert tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["license"] == "Apache-2.0"
    assert "Apache License" in license_text and "Version 2.0, January 2004" in license_text
    changelog = (REPO / "CHANGELOG.md").read_text()
    assert "Keep a Changelog" in changelog and "### Upgrade notes" in changelog
    nav = yaml.safe_load((REPO / "mkdocs.yml").read_text())["nav"]
    pages = set(re.findall(r"[\w/-]+\.md", str(nav)))
    for page in (
        "install.md",
        "connect.md",
        "drift.md",
        "alerts.md",
        "upgrade.md",
        "uninstall.md",
        "security.md",
        "runbook.md",
        "reference/api.md",
        "benchmarks.md",
    ):
        assert page in pages and (DOCS / page).exists(), page
    on_disk = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")}
    assert on_disk == pages, "every page is in the nav, every nav entry exists"


def test_uninstall_page_says_what_helm_uninstall_keeps() -> None:
    text = (DOCS / "uninstall.md").read_text()
    for kept in ("CRDs", "JiraTenant", "Snapshot", "Secrets", "helm.sh/resource-policy: keep"):
        assert kept in text
    assert "tests/chart/test_lifecycle.py::test_install_upgrade_uninstall_reinstall" in text


def test_every_benchmark_script_keeps_its_figures_in_the_docs() -> None:
    benchmarks = (DOCS / "benchmarks.md").read_text()
    for script in sorted((REPO / "bench").glob("*.py")):
        if script.stem in {"benchlib", "capture_common"}:  # helpers, not benchmarks
            continue
        assert f"bench/{script.name}" in benchmarks or script.name in benchmarks, script.name
    assert (REPO / "bench" / "RESULTS.md").exists()
    for figure in ("**12.0x**", "**521x**", "**8.5 ms**", "**397 s**", "**202 MiB**", "cold **12 m 45 s**"):
        assert figure in benchmarks, figure


def test_the_documentation_site_builds_without_a_warning(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},  # Material's end-of-life banner, not a build warning
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert not re.search(r"^WARNING\b", result.stderr, re.M), result.stderr[-4000:]
    api = (tmp_path / "site" / "reference" / "api" / "index.html").read_text()
    assert "spec.auth.apiToken.secretRef.name" in api


def test_the_api_reference_is_what_the_models_generate(tmp_path: Path) -> None:
    assert stale_api_docs(DOCS) == [], "run `jiradrift crds`"
    page = render_api_reference()
    for crd in build_crds().values():
        schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        assert f"## {crd['spec']['names']['kind']}" in page
        for field in schema["properties"]["spec"]["properties"]:
            assert f"`spec.{field}`" in page, field
    # A page that no longer matches the models is reported stale, so CI catches it.
    (tmp_path / REFERENCE).parent.mkdir(parents=True)
    (tmp_path / REFERENCE).write_text(page.replace("spec.site", "spec.url", 1))
    assert stale_api_docs(tmp_path) == [str(REFERENCE)]


def test_jiradrift_crds_check_covers_the_api_reference(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "jiradrift", "crds", "--check", "--out", str(REPO / "crds")],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{DOCS}: up to date" in result.stdout
