"""``jiradrift compare``: production against its sandbox, both captured from the emulator.

The emulators are stopped before any comparison runs: a comparison that made a Jira request
would fail, so every passing test here is also proof that it makes none.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from tests.plugins.sites import CapturedSite
from typer.testing import CliRunner

from jiradrift.cli import app
from jiradrift.sim.usages import workflow_projects
from jiradrift.sim.variant import RENAMED_GROUP, sandbox_differences

GROUP_MAP = f"group:{RENAMED_GROUP[0]}={RENAMED_GROUP[1]}"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["compare", *args], env={"COLUMNS": "200"})
    return result.exit_code, result.output


def as_json(*args: str) -> tuple[int, dict[str, Any]]:
    code, out = run(*args, "--format", "json")
    assert code in (0, 1), out
    return code, orjson.loads(out)


def test_sandbox_equals_production_but_for_its_known_differences(
    production: CapturedSite, sandbox: CapturedSite
) -> None:
    code, report = as_json(str(production.store), str(sandbox.store), "--map", GROUP_MAP)
    assert code == 1
    expected = {(d.op, f"{d.kind}/{d.key}") for d in sandbox_differences(production.site)}
    assert {(c["op"], c["key"]) for c in report["changes"]} == expected
    renamed = [d for d in sandbox_differences(production.site) if d.op == "renamed"]
    assert [(r["kind"], r["left"], r["right"]) for r in report["renames"]] == [
        ("workflow", renamed[0].key, renamed[0].key + " (sandbox)")
    ]
    # Each change carries the projects it affects on the left site (Jira's usage model agrees).
    workflow = next(w for w in production.site.workflows if w["name"] == renamed[0].key)
    [change] = [c for c in report["changes"] if c["op"] == "renamed"]
    assert change["affects"]["count"] == len(workflow_projects(production.site, workflow)) > 0
    # Duplicate names are matched, never dropped: each one is reported with its count on both sides.
    assert report["duplicates"] and all(d["left"] >= 2 and d["right"] >= 2 for d in report["duplicates"])
    assert report["equal"] > 300 and report["unresolved_references"]["left"] == report["unresolved_references"]["right"]


def test_without_the_group_mapping_the_renamed_group_is_a_difference(
    production: CapturedSite, sandbox: CapturedSite
) -> None:
    _, report = as_json(str(production.store), str(sandbox.store))
    known = {f"{d.kind}/{d.key}" for d in sandbox_differences(production.site)}
    extra = [c for c in report["changes"] if c["key"] not in known]
    assert extra
    assert {c["kind"] for c in extra} <= {"permission-scheme", "issue-security-scheme", "project", "application-role"}
    assert any(RENAMED_GROUP[0] in orjson.dumps(c).decode() for c in extra)


def test_a_site_compared_with_itself_is_in_sync(production: CapturedSite) -> None:
    code, out = run(str(production.store), str(production.store))
    assert code == 0, out
    assert "in sync" in out


def test_ignore_rules_and_pins_on_natural_keys(production: CapturedSite, sandbox: CapturedSite) -> None:
    diffs = sandbox_differences(production.site)
    rename = next(d for d in diffs if d.op == "renamed")
    args = [str(production.store), str(sandbox.store), "--map", GROUP_MAP]
    args += ["--ignore", "status/*:description", "--ignore", "issue-link-type/*", "--ignore", "resolution/*"]
    args += ["--pin", f"workflow/{rename.key}={rename.key} (sandbox)"]
    code, report = as_json(*args)
    assert code == 1
    assert [(c["op"], c["key"]) for c in report["changes"]] == [("renamed", f"workflow/{rename.key}")]
    assert report["renames"][0]["how"] == "pinned"
    assert report["ignored"] == 3
    code, report = as_json(*args, "--ignore", "workflow/*:name")
    assert code == 0 and report["in_sync"] and report["changes"] == []


def test_markdown_for_a_change_ticket(production: CapturedSite, sandbox: CapturedSite) -> None:
    code, out = run(str(production.store), str(sandbox.store), "--map", GROUP_MAP, "--format", "markdown")
    assert code == 1
    assert out.startswith("## ") and "4 difference(s)" in out
    assert "| Severity | Op | Item | Path | Left | Right |" in out
    assert "| low | added | resolution/Sandbox Only |" in out
    assert "Renamed: workflow `" in out


def test_errors_exit_2_and_say_what_to_do(production: CapturedSite, tmp_path: Path) -> None:
    code, out = run(str(tmp_path / "missing"), str(production.store))
    assert code == 2 and "neither a store directory" in out
    code, out = run(str(production.store), str(production.store), "--map", "team:a=b")
    assert code == 2 and "KIND:LEFT=RIGHT" in out
    code, out = run(str(production.store), str(production.store), "--pin", "workflow-no-equals")
    assert code == 2 and "KIND/LEFT=RIGHT" in out
    code, out = run(str(production.store), f"{production.store}@nobody")
    assert code == 2 and "holds no complete snapshot" in out
