"""`jiradrift diff`: the forms of its arguments, both formats, exit codes and errors."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
import yaml
from tests.store.builders import put_snapshot
from typer.testing import CliRunner

from jiradrift.cli import app
from jiradrift.store.filesystem import FilesystemStore

OLD = {
    "workflow/1": {"name": "Flow", "statuses": ["To Do", "Done"]},
    "field/f1": {"name": "Team", "description": "a"},
}
NEW = {
    "workflow/1": {"name": "Flow 2", "statuses": ["To Do", "Review", "Done"]},
    "field/f1": {"name": "Team", "description": "b"},
}

runner = CliRunner()


@pytest.fixture
def two_stores(tmp_path: Path) -> tuple[Path, Path]:
    asyncio.run(put_snapshot(FilesystemStore(tmp_path / "a", durable=False), "s1", OLD, hours=0))
    asyncio.run(put_snapshot(FilesystemStore(tmp_path / "b", durable=False), "s2", NEW, hours=1))
    return tmp_path / "a", tmp_path / "b"


@pytest.fixture
def one_store(tmp_path: Path) -> Path:
    store = FilesystemStore(tmp_path / "s", durable=False)
    asyncio.run(put_snapshot(store, "s1", OLD, hours=0))
    asyncio.run(put_snapshot(store, "s2", NEW, hours=1))
    return tmp_path / "s"


def changes(output: str) -> list[tuple[str, str, str]]:
    [report] = orjson.loads(output)["reports"]
    return [(c["key"], c["op"], c["path"]) for c in report["changes"]]


EXPECTED = [
    ("field/f1", "modified", "description"),
    ("workflow/1", "renamed", "name"),
    ("workflow/1", "added", "statuses[1]"),
]


def test_diff_of_two_store_directories_as_json(two_stores: tuple[Path, Path]) -> None:
    result = runner.invoke(app, ["diff", str(two_stores[0]), str(two_stores[1]), "-o", "json"])
    assert result.exit_code == 0, result.output
    assert changes(result.stdout) == EXPECTED


def test_diff_within_one_store_compares_the_newest_with_its_predecessor(one_store: Path) -> None:
    result = runner.invoke(app, ["diff", str(one_store), "-o", "json"])
    assert result.exit_code == 0, result.output
    assert changes(result.stdout) == EXPECTED
    reverse = runner.invoke(app, ["diff", str(one_store), "--from", "s2", "--to", "s1", "-o", "json"])
    assert ("workflow/1", "removed", "statuses[1]") in changes(reverse.stdout)


def test_diff_of_snapshot_directories(one_store: Path) -> None:
    a, b = one_store / "snapshots" / "s1", one_store / "snapshots" / "s2"
    result = runner.invoke(app, ["diff", str(a), str(b), "-o", "json"])
    assert result.exit_code == 0, result.output
    assert changes(result.stdout) == EXPECTED


def test_table_format_shows_the_summary_and_each_change(two_stores: tuple[Path, Path]) -> None:
    result = runner.invoke(app, ["diff", str(two_stores[0]), str(two_stores[1])], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "acme/workflows" in result.stdout and "1 changed items" not in result.stdout
    assert "2 changed items" in result.stdout and "renamed" in result.stdout and "statuses[1]" in result.stdout


def test_ignore_rules_apply(two_stores: tuple[Path, Path]) -> None:
    result = runner.invoke(app, ["diff", *map(str, two_stores), "--ignore", "field/*:description", "-o", "json"])
    assert ("field/f1", "modified", "description") not in changes(result.stdout)


def test_exit_code_option_reports_drift(two_stores: tuple[Path, Path], one_store: Path) -> None:
    assert runner.invoke(app, ["diff", *map(str, two_stores), "--exit-code"]).exit_code == 1
    same = runner.invoke(app, ["diff", str(one_store), "--from", "s2", "--to", "s2", "--exit-code"])
    assert same.exit_code == 0, same.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{tmp}/missing"], "not a jiradrift store"),
        (["{store}", "--from", "nope", "--to", "s2"], "'nope' is not in the store"),
        (["{store}", "--to", "s1"], "no earlier snapshot"),
        (["{store}", "--ignore", "field/*:"], "KEY_GLOB:PATH_GLOB"),
    ],
)
def test_errors_exit_2_with_a_message_that_says_what_to_do(
    tmp_path: Path, one_store: Path, args: list[str], message: str
) -> None:
    argv = ["diff", *(a.format(tmp=tmp_path, store=one_store) for a in args)]
    result = runner.invoke(app, argv, terminal_width=400)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


@pytest.fixture
def many_types(tmp_path: Path) -> Path:
    """Five snapshot types: one high-severity change in schemes, one low in screens, three quiet."""
    store = FilesystemStore(tmp_path / "m", durable=False)
    grant = {"permission": "BROWSE_PROJECTS", "holder": {"type": "group", "parameter": "jira-users"}}
    anyone = {"permission": "ADMINISTER_PROJECTS", "holder": {"type": "anyone"}}
    before: dict[str, dict[str, dict[str, object]]] = {
        "priorities": {"priority/1": {"name": "High"}},
        "screens": {"screen/1": {"name": "Default screen", "description": "a"}},
        "schemes": {"permission-scheme/0": {"name": "Default Permission Scheme", "permissions": [grant]}},
        "statuses": {"status/1": {"name": "Done"}},
        "workflows": {"workflow/1": {"name": "jira"}},
    }
    after = {**before}
    after["screens"] = {"screen/1": {"name": "Default screen", "description": "b"}}
    after["schemes"] = {"permission-scheme/0": {"name": "Default Permission Scheme", "permissions": [anyone, grant]}}
    for stype in before:
        asyncio.run(put_snapshot(store, f"{stype}-1", before[stype], type=stype, hours=0))
        asyncio.run(put_snapshot(store, f"{stype}-2", after[stype], type=stype, hours=1))
    return tmp_path / "m"


def test_the_table_leads_with_the_most_severe_change_and_sums_up(many_types: Path) -> None:
    result = runner.invoke(app, ["diff", str(many_types)], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    out = result.stdout
    # The high-severity grant first, whole and named by what it grants to whom, with its scheme's name.
    assert out.index("acme/schemes: 1 change (high)") < out.index("acme/screens: 1 change (low)")
    assert "permissions[permission=ADMINISTER_PROJECTS,holder.type=anyone]" in " ".join(out.split()), out
    assert "Default Permission Scheme" in out and "permission-scheme/0" not in out
    # Types without changes share one line; a total ends it; no "1 changes".
    assert "no changes: acme/priorities, acme/statuses, acme/workflows" in out
    assert "0 changes" not in out and "1 changes" not in out
    assert out.rstrip().splitlines()[-1] == "total: 2 changes in 2 of 5 snapshot types (highest: high)"


def test_output_yaml_and_wide(many_types: Path) -> None:
    as_yaml = runner.invoke(app, ["diff", str(many_types), "-o", "yaml"])
    data = yaml.safe_load(as_yaml.stdout)
    assert data["change_count"] == 2 and len(data["reports"]) == 5
    wide = runner.invoke(app, ["diff", str(many_types), "-o", "wide"], env={"COLUMNS": "300"})
    assert "permission-scheme/0" in wide.stdout
