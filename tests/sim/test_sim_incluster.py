"""The emulator binds every address only when asked to by name, as its own pod does."""

from __future__ import annotations

import pytest

from jiradrift.sim.emulator import Emulator


def test_every_address_only_with_expose() -> None:
    with pytest.raises(ValueError, match="loopback or the dev node's bridge only"):
        Emulator(host="0.0.0.0")
    assert Emulator(host="0.0.0.0", expose=True).host == "0.0.0.0"
    with pytest.raises(ValueError, match="loopback or the dev node's bridge only"):
        Emulator(host="192.0.2.1", expose=True)  # a named address is still refused


def test_the_in_cluster_entry_point_reports_a_missing_certificate_in_one_line(tmp_path: object) -> None:
    from typer.testing import CliRunner

    from jiradrift.sim.incluster import app

    result = CliRunner().invoke(
        app,
        [
            "--tls-cert=/nonexistent/tls.crt",
            "--tls-key=/nonexistent/tls.key",
            "--public-url=https://jira.emulator.test",
        ],
        env={"JIRA_EMULATOR_API_TOKEN": "t"},
    )
    assert result.exit_code == 2
    assert "jira emulator:" in result.output and "Traceback" not in result.output
