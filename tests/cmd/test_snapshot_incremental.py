"""``jiradrift snapshot`` into a store that holds a snapshot of the site continues it incrementally;
``--full`` reads everything; the output says which and how many objects were re-read."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
from typer.testing import CliRunner

from jiradrift.cli import app
from jiradrift.sim.emulator import RunningEmulator
from jiradrift.sim.mutations import example_calls
from jiradrift.store.filesystem import FilesystemStore


def _snapshot(sim: RunningEmulator, out: Path, *extra: str) -> dict[str, object]:
    c = sim.credentials
    result = CliRunner().invoke(
        app,
        [
            *("snapshot", "--site", sim.base_url, "--email", c.email, "--out", str(out), "--tenant", "acme"),
            *("--type", "workflows,priorities", "-o", "json", *extra),
        ],
        env={"JIRA_API_TOKEN": c.api_token, "COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    data: dict[str, object] = orjson.loads(result.stdout)
    data["stderr"] = result.stderr
    return data


def test_second_snapshot_is_incremental_and_full_forces_a_full_one(jira_sim: RunningEmulator, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = _snapshot(jira_sim, out)
    assert [s["mode"] for s in first["snapshots"]] == ["full", "full"]  # type: ignore[index]
    assert "capture: full" in str(first["stderr"])

    call = next(c for c in example_calls(jira_sim.site, "cli") if c.kind == "priority")
    getattr(jira_sim.admin, call.mutation)(**call.kwargs)
    second = _snapshot(jira_sim, out)
    snaps = {s["type"]: s for s in second["snapshots"]}  # type: ignore[attr-defined]
    assert {s["mode"] for s in snaps.values()} == {"incremental"}
    assert snaps["workflows"]["reread"] == 0
    assert 0 < snaps["priorities"]["reread"] < snaps["priorities"]["items"]
    assert "capture: incremental;" in str(second["stderr"])
    assert int(second["requests"]) < int(first["requests"])  # type: ignore[call-overload]
    stored = asyncio.run(FilesystemStore(out).get_manifest(snaps["priorities"]["snapshot_id"]))
    assert stored.capture.mode.value == "incremental" and stored.capture.base is not None

    forced = _snapshot(jira_sim, out, "--full")
    assert {s["mode"] for s in forced["snapshots"]} == {"full"}  # type: ignore[attr-defined]
    assert "a full capture was asked for" in str(forced["stderr"])
    by_type = {s["type"]: s for s in forced["snapshots"]}  # type: ignore[attr-defined]
    for t in ("workflows", "priorities"):
        full = asyncio.run(FilesystemStore(out).get_manifest(by_type[t]["snapshot_id"]))
        inc = asyncio.run(FilesystemStore(out).get_manifest(snaps[t]["snapshot_id"]))
        assert full.items == inc.items
