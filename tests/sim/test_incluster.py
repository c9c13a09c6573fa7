"""The emulator binds every address only when asked to by name, as its own pod does."""

from __future__ import annotations

from pathlib import Path

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


def test_the_in_cluster_entry_point_takes_a_variant_and_refuses_an_unknown_one_in_one_line(tmp_path: Path) -> None:
    # The demo runs the sandbox (--variant sandbox) as a second pod; a typo is a one-line error.
    from typer.testing import CliRunner

    from jiradrift.dev.controlplane import _CA, _pem_cert, _pem_key
    from jiradrift.sim.incluster import app

    key, cert = _CA.create("test-ca").issue("sandbox.emulator.test", server=True, sans=["sandbox.emulator.test"])
    (tmp_path / "tls.crt").write_bytes(_pem_cert(cert))
    (tmp_path / "tls.key").write_bytes(_pem_key(key))
    result = CliRunner().invoke(
        app,
        [
            f"--tls-cert={tmp_path / 'tls.crt'}",
            f"--tls-key={tmp_path / 'tls.key'}",
            "--public-url=https://sandbox.emulator.test",
            "--variant=sandbx",
        ],
        env={"JIRA_EMULATOR_API_TOKEN": "t"},
    )
    assert result.exit_code == 2
    assert "unknown site variant 'sandbx'" in result.output and "Traceback" not in result.output
