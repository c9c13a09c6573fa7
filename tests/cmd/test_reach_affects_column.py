"""``jiradrift diff`` and ``jiradrift drift list`` show the projects each change affects, and reach
raises severity; both against two real captures of an emulated site with an admin change between."""

from __future__ import annotations

from pathlib import Path

import orjson
from typer.testing import CliRunner

from jiradrift.cli import app
from jiradrift.sim.emulator import Emulator
from jiradrift.sim.usages import workflow_projects


def snapshot(base_url: str, email: str, token: str, out: Path) -> None:
    args = ["snapshot", "--site", base_url, "--auth", "basic", "--email", email, "--out", str(out)]
    result = CliRunner().invoke(
        app, [*args, "--types", "workflows,projects", "--tenant", "acme"], env={"JIRA_API_TOKEN": token}
    )
    assert result.exit_code == 0, result.output


def test_diff_and_drift_list_show_what_a_workflow_change_affects(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with Emulator(size="small", seed=1).running() as sim:
        c = sim.credentials
        snapshot(sim.base_url, c.email, c.api_token, store)
        # The workflow used by the most projects, as the emulator's own usage model says.
        workflow = max(
            (w for w in sim.site.workflows if w["scope"]["type"] == "GLOBAL"),
            key=lambda w: len(workflow_projects(sim.site, w)),
        )
        used_by = workflow_projects(sim.site, workflow)
        keys = sorted(sim.site.project_by_key[p]["key"] for p in used_by)
        sim.admin.change_workflow(workflow["id"], description="changed by the test")
        snapshot(sim.base_url, c.email, c.api_token, store)
    assert len(used_by) >= 2

    result = CliRunner().invoke(app, ["diff", str(store), "--type", "workflows", "--format", "json"])
    assert result.exit_code == 0, result.output
    [report] = orjson.loads(result.stdout)["reports"]
    [change] = [c for c in report["changes"] if c["key"] == f"workflow/{workflow['id']}"]
    assert change["affects"] == {"count": len(used_by), "first": keys[:5]}
    assert change["severity"] == "medium"

    raised = CliRunner().invoke(
        app, ["diff", str(store), "--type", "workflows", "--format", "json", "--reach-high", str(len(used_by))]
    )
    [report] = orjson.loads(raised.stdout)["reports"]
    assert {c["severity"] for c in report["changes"]} == {"high"}

    table = CliRunner().invoke(
        app, ["diff", str(store), "--type", "workflows"], terminal_width=250, env={"COLUMNS": "250"}
    )
    assert "Affects" in table.stdout and f"{len(used_by)}: {keys[0]}" in table.stdout

    listed = CliRunner().invoke(app, ["drift", "list", str(store), "--format", "json"])
    assert listed.exit_code == 0, listed.output
    events = [e for e in orjson.loads(listed.stdout)["items"] if e["key"] == f"workflow/{workflow['id']}"]
    assert events and all(e["affects"]["count"] == len(used_by) for e in events)
    listed = CliRunner().invoke(app, ["drift", "list", str(store)], terminal_width=250, env={"COLUMNS": "250"})
    assert "Affects" in listed.stdout
