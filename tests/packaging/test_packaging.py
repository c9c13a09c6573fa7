"""The package layout promises of issue 2: no `operator` shadowing, one CLI, CRDs in sync."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from jiradrift.cli import COMMANDS, app
from jiradrift.generate.crds import stale_crds

ROOT = Path(__file__).resolve().parents[2]


def test_import_operator_is_the_standard_library() -> None:
    # Run in a fresh interpreter from another directory, as an installed user would.
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import operator, jiradrift; print(operator.__file__); print(operator.add(2, 3))",
        ],
        capture_output=True,
        text=True,
        cwd="/",
        check=True,
    ).stdout.splitlines()
    assert "site-packages" not in out[0] and "/operator/" not in out[0].replace("/lib/python", "")
    assert out[0].endswith("operator.py")
    assert out[1] == "5"


def test_committed_crds_match_the_models() -> None:
    assert stale_crds(ROOT / "crds") == [], "crds/ is out of date: run `jiradrift crds`"


def test_every_command_has_help() -> None:
    runner = CliRunner()
    top = runner.invoke(app, ["--help"])
    assert top.exit_code == 0, top.output
    commands = list(COMMANDS)  # loaded on use (jiradrift.cmd.lazy), so not in app.registered_commands
    assert "crds" in commands and "dev" in commands
    for name in commands:
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0, f"{name} --help: {result.output}"
        assert "Usage" in result.output


def test_python_dash_m_entry_point() -> None:
    proc = subprocess.run([sys.executable, "-m", "jiradrift", "--help"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "crds" in proc.stdout
