"""The one CLI: ``jiradrift ...`` (also ``python -m jiradrift``).

Each layer owns its commands in its own module; this file only assembles them, so
``jiradrift --help`` lists everything and each command's ``--help`` is its manual.
"""

from __future__ import annotations

import sys

import typer

from jiradrift import __version__
from jiradrift.cmd.errors import EXIT_CODES_HELP, run

app = typer.Typer(
    name="jiradrift",
    help="Snapshot Jira site configuration, detect drift, and report it (read-only towards Jira).\n\n"
    + EXIT_CODES_HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"jiradrift {__version__}")  # the one version (tools/release/versions.py stamps it)
        raise typer.Exit()


@app.callback()
def _root(
    show_version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Snapshot Jira site configuration, detect drift, and report it (read-only towards Jira).

    Also a kubectl plugin: `kubectl jiradrift ...` runs this CLI.
    """


# --- foundation: CRDs and the local control plane -------------------------------------------
from jiradrift.dev.cli import dev_app  # noqa: E402
from jiradrift.k8s.chartgen import crds_command  # noqa: E402

app.command("crds")(crds_command)
app.add_typer(dev_app, name="dev")
from jiradrift.dev.demo import demo_command  # noqa: E402

app.command("demo")(demo_command)

# --- emulator (jiradrift.sim) ---------------------------------------------------------------
from jiradrift.sim.cli import sim_command  # noqa: E402

app.command("sim")(sim_command)

# --- core: snapshot / diff / drift (jiradrift.snapshot) -------------------------------------
from jiradrift.cmd.snapshot import snapshot_command  # noqa: E402

app.command("snapshot")(snapshot_command)
from jiradrift.cmd.drift import diff_command, drift_app  # noqa: E402

app.command("diff")(diff_command)
app.add_typer(drift_app, name="drift")
from jiradrift.cmd.accept import accept_command  # noqa: E402

app.command("accept")(accept_command)
from jiradrift.cmd.compare import compare_command  # noqa: E402

app.command("compare")(compare_command)
from jiradrift.cmd.history import history_app  # noqa: E402

app.add_typer(history_app, name="history")

# --- operator (jiradrift.handlers) ----------------------------------------------------------
from jiradrift.cmd.run import run_command  # noqa: E402

app.command("run")(run_command)
# --- tokens (jiradrift.tokens) --------------------------------------------------------------
from jiradrift.tokens.cli import auth_app, refresh_tokens_command  # noqa: E402

app.command("refresh-tokens")(refresh_tokens_command)
app.add_typer(auth_app, name="auth")


def main() -> None:
    """The entry point: every command behind the error boundary (one line and a documented code)."""
    sys.exit(run(app))
