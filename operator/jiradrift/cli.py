"""The one CLI: ``jiradrift ...`` (also ``python -m jiradrift``).

Each layer owns its commands in its own module; this file only assembles them, so
``jiradrift --help`` lists everything and each command's ``--help`` is its manual.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="jiradrift",
    help="Snapshot Jira site configuration, detect drift, and report it (read-only towards Jira).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

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

# --- operator (jiradrift.handlers) ----------------------------------------------------------
from jiradrift.cmd.run import run_command  # noqa: E402

app.command("run")(run_command)
# --- tokens (jiradrift.tokens) --------------------------------------------------------------
from jiradrift.tokens.cli import auth_app, refresh_tokens_command  # noqa: E402

app.command("refresh-tokens")(refresh_tokens_command)
app.add_typer(auth_app, name="auth")


def main() -> None:
    app()
