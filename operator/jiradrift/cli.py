"""The one CLI: ``jiradrift ...`` (also ``python -m jiradrift``).

Each layer owns its commands in its own module; this file only names them (:data:`COMMANDS`), so
``jiradrift --help`` lists everything, each command's ``--help`` is its manual, and a command's
module is imported only when that command runs (:mod:`jiradrift.cmd.lazy`).
"""

from __future__ import annotations

import sys

import typer

from jiradrift import __version__
from jiradrift.cmd.errors import EXIT_CODES_HELP, run
from jiradrift.cmd.lazy import LazyCommand, lazy_group

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


# Each command by module name: loaded when called, so `jiradrift run` (the image's command) and
# `jiradrift refresh-tokens` (the CronJob) never import the emulator, the developer tooling or the
# CRD generators. The help line is the command's own (tests/packaging/test_production_path.py keeps them equal).
_DEV = "pip install 'jira-drift-operator[dev]' (from a source checkout: pip install -e '.[dev]')"
_EMULATOR = "the emulator image (Dockerfile.emulator), or pip install jira-drift-operator outside the operator image"
COMMANDS: dict[str, LazyCommand] = {
    # --- build tools: CRDs, chart templates and the API reference from the models (jiradrift.k8s) ----
    "crds": LazyCommand(
        "jiradrift.generate.chart",
        "crds_command",
        "Generate the CRD YAML (crds/ and the chart's templates) and docs/reference/api.md from the pydantic models.",
    ),
    # --- developer tooling and the emulator (jiradrift.dev, jiradrift.sim): not for production ----------
    "demo": LazyCommand(
        "jiradrift.dev.demo",
        "demo_command",
        "Run the demo: a real node, the chart's operator pod, the Jira emulator, then a real drift.",
        install=_DEV,
        requires=("kubernetes",),
    ),
    "dev": LazyCommand(
        "jiradrift.dev.cli",
        "dev_app",
        "Local development helpers: a real kube-apiserver + etcd on loopback.",
        install=_DEV,
        requires=("kubernetes",),
    ),
    "sim": LazyCommand(
        "jiradrift.sim.cli",
        "sim_command",
        "Serve an emulated Jira Cloud site on 127.0.0.1 for tests, benchmarks and the demo.",
        install=_EMULATOR,
    ),
    # --- core: snapshot / diff / drift (jiradrift.snapshot) ---------------------------------------
    "snapshot": LazyCommand(
        "jiradrift.cmd.snapshot",
        "snapshot_command",
        "Capture the configuration of a Jira site into a store directory (read-only towards Jira).",
    ),
    "diff": LazyCommand("jiradrift.cmd.drift", "diff_command", "Show what changed between two snapshots."),
    "drift": LazyCommand("jiradrift.cmd.drift", "drift_app", "Drift events recorded in a store."),
    "accept": LazyCommand(
        "jiradrift.cmd.accept",
        "accept_command",
        "Accept snapshots as the tenant's baseline: its Drifted condition then compares against them.",
    ),
    "compare": LazyCommand(
        "jiradrift.cmd.compare",
        "compare_command",
        "Compare two sites' stored configuration by natural key (no Jira request).",
    ),
    "comparison-report": LazyCommand(
        "jiradrift.cmd.comparison_report",
        "comparison_report_command",
        "Print the full report of a SiteComparison's last comparison (JSON, as jiradrift compare -o json).",
    ),
    "history": LazyCommand(
        "jiradrift.cmd.history",
        "history_app",
        "Configuration history in git: one commit per changed snapshot.",
    ),
    # --- operator (jiradrift.handlers) and tokens (jiradrift.tokens) -------------------------------
    "run": LazyCommand(
        "jiradrift.cmd.run",
        "run_command",
        "Run the operator: reconcile JiraTenants and Snapshots in the given namespaces.",
    ),
    "refresh-tokens": LazyCommand(
        "jiradrift.tokens.cli",
        "refresh_tokens_command",
        "Refresh the OAuth / service-account tokens of every JiraTenant that needs it (the CronJob).",
    ),
    "auth": LazyCommand(
        "jiradrift.tokens.cli", "auth_app", "OAuth consent for JiraTenants (writes the credential Secret)."
    ),
}
app.info.cls = lazy_group(COMMANDS)


def main() -> None:
    """The entry point: every command behind the error boundary (one line and a documented code)."""
    sys.exit(run(app))
