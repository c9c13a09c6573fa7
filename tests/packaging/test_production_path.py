"""The production commands load production code only (issue 25, "production code alone on the production path").

`jiradrift run` is the image's command and `jiradrift refresh-tokens` the token CronJob's: each runs
in a fresh interpreter from the console script's entry (`jiradrift.cli:main`), and what it left in
`sys.modules` is checked. The emulator (`jiradrift.sim`), the developer tooling (`jiradrift.dev`),
the CRD / chart / API-reference generators and the synchronous `kubernetes` client must not be
among it; the developer commands still work where their extra is installed, and say how to get it
where it is not.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from jiradrift.cli import COMMANDS, app
from jiradrift.cmd.lazy import load_command

# Runs the CLI entry on argv, then prints what was imported. BLOCK names top-level packages made
# unimportable first, as in an installation without them.
PROBE = """
import json, sys
for name in {block!r}:
    sys.modules[name] = None
from jiradrift.cli import main
sys.argv = ["jiradrift", *{argv!r}]
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
print(json.dumps({{"code": code, "modules": sorted(sys.modules)}}), file=sys.__stderr__)
"""

NOT_PRODUCTION = (
    "jiradrift.sim",
    "jiradrift.dev",
    "jiradrift.generate.crds",
    "jiradrift.generate.chart",
    "jiradrift.generate.apidocs",
)


def probe(argv: list[str], block: tuple[str, ...] = ()) -> tuple[int, list[str], str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(argv=argv, block=block)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    *_, last = proc.stderr.strip().splitlines() or ["{}"]
    seen = json.loads(last)
    return int(seen["code"] or 0), seen["modules"], proc.stdout + proc.stderr


def loaded(modules: list[str], prefixes: tuple[str, ...]) -> list[str]:
    return [m for m in modules if any(m == p or m.startswith(f"{p}.") for p in prefixes)]


def test_the_token_cronjob_loads_no_emulator_dev_tooling_generator_or_sync_kubernetes() -> None:
    code, modules, output = probe(["refresh-tokens", "--help"])
    assert code == 0, output
    assert "jiradrift.tokens.cli" in modules  # the probe saw the command load
    assert loaded(modules, (*NOT_PRODUCTION, "kubernetes")) == []


def test_the_operator_command_loads_no_emulator_dev_tooling_or_generator() -> None:
    code, modules, output = probe(["run", "--help"])
    assert code == 0, output
    assert "jiradrift.cmd.run" in modules
    assert loaded(modules, NOT_PRODUCTION) == []


def test_the_operator_command_runs_without_the_sync_kubernetes_client() -> None:
    # kopf imports `kubernetes` opportunistically when it is installed (the dev venv has it, as the
    # dev extra's dependency); a production install has no such package, and `run` must not need it.
    code, modules, output = probe(["run", "--help"], block=("kubernetes",))
    assert code == 0, output
    assert "Run the operator" in output
    assert loaded(modules, NOT_PRODUCTION) == []


def test_a_dev_command_without_its_extra_says_how_to_install_it() -> None:
    code, _, output = probe(["dev", "--help"], block=("kubernetes",))
    assert code == 2, output
    assert "error: `jiradrift dev` needs the module kubernetes" in output
    assert "pip install 'jira-drift-operator[dev]'" in output
    assert "Traceback" not in output


def test_top_level_help_lists_every_command_without_loading_one() -> None:
    code, modules, output = probe(["--help"], block=("kubernetes",))
    assert code == 0, output
    for name in COMMANDS:
        assert f" {name} " in output, name
    assert loaded(modules, ("jiradrift.cmd.run", "jiradrift.tokens", *NOT_PRODUCTION)) == []


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_listed_help_line_is_the_commands_own(name: str) -> None:
    spec = COMMANDS[name]
    command = load_command(name, spec)
    own = (command.help or "").strip().splitlines()[0]
    assert spec.help == own, f"cli.COMMANDS[{name!r}].help differs from the command's: {own!r}"
    result = CliRunner().invoke(app, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
