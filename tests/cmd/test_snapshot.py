"""``jiradrift snapshot`` end to end against the emulator."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
from typer.testing import CliRunner

from jiradrift.cli import app
from jiradrift.sim.emulator import RunningEmulator
from jiradrift.store.filesystem import FilesystemStore


def test_snapshot_command_writes_store_and_never_echoes_secrets(jira_sim: RunningEmulator, tmp_path: Path) -> None:
    c = jira_sim.credentials
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "snapshot",
            "--site",
            jira_sim.base_url,
            "--auth",
            "basic",
            "--email",
            c.email,
            "--out",
            str(out),
            "--types",
            "workflows,priorities",
            "--tenant",
            "acme",
        ],
        env={"JIRA_API_TOKEN": c.api_token, "COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert c.api_token not in result.output
    ids = sorted(asyncio.run(FilesystemStore(out).list_manifests("acme")))
    assert len(ids) == 2 and {i.split("-")[1] for i in ids} == {"workflows", "priorities"}
    assert all(asyncio.run(FilesystemStore(out).get_manifest(i)).complete for i in ids)


def test_service_account_and_incomplete_exit_code(jira_sim: RunningEmulator, tmp_path: Path) -> None:
    c = jira_sim.credentials
    secret = tmp_path / "secret"
    secret.write_text(c.sa_client_secret + "\n")
    jira_sim.faults.server_error(status=500, times=None, path="/rest/api/3/statuses/search")
    result = CliRunner().invoke(
        app,
        [
            "snapshot",
            "--site",
            jira_sim.base_url,
            "--auth",
            "service-account",
            "--client-id",
            c.sa_client_id,
            "--client-secret-file",
            str(secret),
            "--gateway",
            jira_sim.gateway_url,
            "--token-url",
            jira_sim.token_url,
            "--out",
            str(tmp_path / "out"),
            "--types",
            "workflows",
        ],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 3, result.output
    assert c.sa_client_secret not in result.output
    assert any("/ex/jira/" in r.path for r in jira_sim.requests)


def test_missing_secret_says_what_to_set(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["snapshot", "--site", "https://acme.atlassian.net", "--auth", "pat", "--out", str(tmp_path)],
        env={"JIRA_PAT": "", "COLUMNS": "200"},
    )
    assert result.exit_code != 0
    assert "JIRA_PAT" in result.output


def test_one_line_per_cause_however_many_reads_it_failed(jira_sim: RunningEmulator, tmp_path: Path) -> None:
    """Reported: the same 401 paragraph 28 times (106 lines). Many reads failing for one reason are
    one line, saying how many and where first; the snapshot is still stored, incomplete (exit 3)."""
    c = jira_sim.credentials
    jira_sim.faults.fail_object("/rest/api/3/*scheme*", status=403)
    result = CliRunner().invoke(
        app,
        [
            "snapshot",
            "--site",
            jira_sim.base_url,
            "--email",
            c.email,
            "--out",
            str(tmp_path / "out"),
            "--types",
            "issuetypes,screens,schemes,workflows",
        ],
        env={"JIRA_API_TOKEN": c.api_token, "COLUMNS": "200"},
    )
    assert result.exit_code == 3, result.output
    failed = sum(len(asyncio.run(FilesystemStore(tmp_path / "out").get_manifest(i)).errors) for i in _ids(tmp_path))
    lines = [line for line in result.output.splitlines() if "HTTP 403" in line]
    assert failed >= 5 and len(lines) == 1, result.output
    assert lines[0].startswith(f"{failed} read(s) failed: HTTP 403"), lines[0]


def _ids(tmp_path: Path) -> list[str]:
    return asyncio.run(FilesystemStore(tmp_path / "out").list_manifests())


def test_a_run_that_read_nothing_exits_1(jira_sim: RunningEmulator, tmp_path: Path) -> None:
    """The probe passes, but every read of the type fails: the site could not be read (exit 1, as
    --help documents); the snapshot is kept as the record, marked as having read nothing (the stores
    never use it as a reference: tests/store/contract.py)."""
    c = jira_sim.credentials
    for path in ("/rest/api/3/priority*", "/rest/api/3/resolution*", "/rest/api/3/issueLinkType*"):
        jira_sim.faults.fail_object(path, status=403)
    args = ["snapshot", "--site", jira_sim.base_url, "--email", c.email, "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(app, [*args, "--types", "priorities"], env={"JIRA_API_TOKEN": c.api_token})
    assert result.exit_code == 1, result.output
    [info] = asyncio.run(FilesystemStore(tmp_path / "out").list_snapshots())
    assert info.read_nothing and info.unchanged_from is None


def test_results_on_stdout_progress_on_stderr_and_json_output(jira_sim: RunningEmulator, tmp_path: Path) -> None:
    c = jira_sim.credentials
    argv = ["snapshot", "--site", jira_sim.base_url, "--email", c.email, "--out", str(tmp_path / "out")]
    env = {"JIRA_API_TOKEN": c.api_token, "COLUMNS": "200"}
    result = CliRunner().invoke(app, [*argv, "--type", "priorities", "--type", "workflows", "-o", "json"], env=env)
    assert result.exit_code == 0, result.output
    data = orjson.loads(result.stdout)  # stdout is the result alone
    assert sorted(s["type"] for s in data["snapshots"]) == ["priorities", "workflows"]
    assert all(s["complete"] and s["items"] > 0 for s in data["snapshots"])
    # The types were captured at once over one client: each counts its own requests, not a running total.
    assert sum(s["requests"] for s in data["snapshots"]) + data["window_requests"] == data["requests"]
    assert all(s["requests"] > 0 for s in data["snapshots"])
    # Without a TTY the progress bar is replaced by plain lines (CI logs, kubectl logs), on stderr.
    assert "priorities: done" in result.stderr and "workflows: done" in result.stderr
    assert "requests:" in result.stderr
    argv[-1] = str(tmp_path / "other")  # a second capture within the same second would reuse the ids
    table = CliRunner().invoke(app, [*argv, "--types", "priorities"], env=env)
    assert table.exit_code == 0 and "priorities" in table.stdout and "unchanged from" in table.stdout
    assert "warning: --types is deprecated; use --type" in table.stderr
