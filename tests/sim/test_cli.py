"""``jiradrift sim`` starts on loopback and prints the URL and credentials."""

from __future__ import annotations

import re

import typer
from typer.testing import CliRunner

from jiradrift.sim.cli import sim_command


def test_sim_command_prints_site_url_and_credentials() -> None:
    app = typer.Typer()
    app.command()(sim_command)
    result = CliRunner().invoke(app, ["--size", "xl", "--port", "0", "--latency-ms", "30", "--run-for", "0.2"])
    assert result.exit_code == 0, result.output
    assert re.search(r"site URL\s+http://127\.0\.0\.1:\d+", result.output)
    assert "api_token=sim-api-token-" in result.output and "refresh_token=rt-" in result.output
    started = float(re.search(r"started in ([\d.]+)s", result.output).group(1))  # type: ignore[union-attr]
    assert started < 5.0  # the start-time budget for xl


def test_sim_command_rejects_unknown_size() -> None:
    app = typer.Typer()
    app.command()(sim_command)
    result = CliRunner().invoke(app, ["--size", "huge", "--port", "0"])
    assert result.exit_code != 0 and "huge" in result.output


def test_sim_command_sets_the_audit_delay_and_cost_quota() -> None:
    app = typer.Typer()
    app.command()(sim_command)
    args = ["--port", "0", "--run-for", "0.1", "--audit-delay-seconds", "45", "--cost-points", "500"]
    result = CliRunner().invoke(app, [*args, "--cost-window-seconds", "60"])
    assert result.exit_code == 0, result.output
    assert "records visible after 45 s; quota 500 points per 60 s" in result.output
    bad = CliRunner().invoke(app, ["--port", "0", "--cost-points", "-1"])
    assert bad.exit_code != 0 and "--cost-points" in bad.output
