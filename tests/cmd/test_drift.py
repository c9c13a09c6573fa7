"""`jiradrift drift list`: pages, cursors, tenants and errors on a store directory."""

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

runner = CliRunner()


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    store = FilesystemStore(tmp_path / "store", durable=False)
    for i in range(4):  # 3 snapshots with drift, 5 changes each
        asyncio.run(put_snapshot(store, f"s{i}", {f"field/f{j}": {"name": f"F{j}", "v": i} for j in range(5)}, hours=i))
    asyncio.run(put_snapshot(store, "g0", {"field/x": {"v": 0}}, tenant="globex", hours=0))
    asyncio.run(put_snapshot(store, "g1", {"field/x": {"v": 1}}, tenant="globex", hours=1))
    return tmp_path / "store"


def listing(*args: str) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(app, ["drift", "list", *args, "-o", "json"])
    assert result.exit_code == 0, result.output
    page: dict = orjson.loads(result.stdout)  # type: ignore[type-arg]
    return page


def test_drift_list_pages_through_every_event_with_the_cursor(store_dir: Path) -> None:
    first = listing(str(store_dir), "--tenant", "acme", "--limit", "10")
    assert (first["page"], first["limit"], first["total_count"], first["has_more"]) == (1, 10, 15, True)
    assert [e["snapshot_id"] for e in first["items"]] == ["s3"] * 5 + ["s2"] * 5
    second = listing(str(store_dir), "--tenant", "acme", "--limit", "10", "--cursor", first["next_cursor"])
    assert (second["page"], len(second["items"]), second["has_more"], second["next_cursor"]) == (
        2,
        5,
        False,
        None,
    )
    assert {e["snapshot_id"] for e in second["items"]} == {"s1"}


def test_without_a_tenant_every_tenant_is_listed(store_dir: Path) -> None:
    page = listing(str(store_dir))
    assert page["total_count"] == 16
    order = [(e["tenant"], e["snapshot_id"]) for e in page["items"]]
    assert sorted(set(order), key=order.index) == [
        ("acme", "s3"),
        ("acme", "s2"),
        ("acme", "s1"),
        ("globex", "g1"),
    ]


def test_table_format_prints_events_and_the_next_command(store_dir: Path) -> None:
    result = runner.invoke(
        app, ["drift", "list", str(store_dir), "--tenant", "acme", "--limit", "3"], terminal_width=250
    )
    assert result.exit_code == 0, result.output
    # Items read as what people call them (kind, name); the key is in -o wide and JSON.
    assert " F0 " in result.stdout and "field/f0" not in result.stdout
    assert "page 1 (limit 3): 3 of 15 events" in result.stdout
    assert "--tenant acme --cursor " in result.stdout
    wide = runner.invoke(
        app, ["drift", "list", str(store_dir), "--tenant", "acme", "-o", "wide"], env={"COLUMNS": "300"}
    )
    assert wide.exit_code == 0 and "field/f0" in wide.stdout, wide.output


def test_output_flag_json_yaml_and_the_deprecated_format_flag(store_dir: Path) -> None:
    as_json = runner.invoke(app, ["drift", "list", str(store_dir), "--tenant", "globex", "-o", "json"])
    assert orjson.loads(as_json.stdout)["total_count"] == 1 and as_json.stderr == ""
    as_yaml = runner.invoke(app, ["drift", "list", str(store_dir), "--tenant", "globex", "--output", "yaml"])
    assert yaml.safe_load(as_yaml.stdout)["total_count"] == 1
    legacy = runner.invoke(app, ["drift", "list", str(store_dir), "--tenant", "globex", "--format", "json"])
    assert orjson.loads(legacy.stdout)["total_count"] == 1
    assert legacy.stderr.strip() == "warning: --format is deprecated; use -o/--output"


def test_an_unknown_tenant_in_a_store_is_an_error_naming_the_tenants_there(store_dir: Path) -> None:
    result = runner.invoke(app, ["drift", "list", str(store_dir), "--tenant", "initech"], terminal_width=400)
    assert result.exit_code == 2 and result.stdout == ""
    assert "holds no snapshot of tenant 'initech' (tenants: acme, globex)" in " ".join(result.stderr.split())


def test_a_bad_cursor_exits_2_with_a_way_out(store_dir: Path) -> None:
    result = runner.invoke(app, ["drift", "list", str(store_dir), "--cursor", "garbage"], terminal_width=400)
    assert result.exit_code == 2
    assert "start again without a cursor" in " ".join(result.output.split())
