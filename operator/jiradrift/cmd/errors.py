"""The CLI's error boundary: a user's mistake or environment ends in one line and a documented code.

``jiradrift.cli.main`` runs every command through :func:`run`. Usage errors (a bad flag value), a
missing kubeconfig, an API server or Jira site that cannot be reached, rejected credentials, a busy
port, a missing store: each prints ``error: <what, and what to do>`` on stderr, never a traceback,
and exits with the code ``jiradrift --help`` documents (:data:`EXIT_CODES_HELP`). An unexpected
error (a bug) prints one line too, naming its type; ``--debug`` (anywhere on the command line) or
``JIRADRIFT_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import aiohttp
import typer
from kubernetes_asyncio.config import ConfigException
from kubernetes_asyncio.config.kube_config import KUBE_CONFIG_DEFAULT_LOCATION
from typer._click.exceptions import ClickException, NoArgsIsHelpError  # typer >= 0.29 (pyproject) vendors click

from jiradrift.jira.errors import JiraError
from jiradrift.kube.client import KubeError, UnknownContext
from jiradrift.model.store_errors import StoreError

EXIT_OK = 0
EXIT_FAILED = 1  # the site or the API server could not be read at all; diff --exit-code: drift found
EXIT_USAGE = 2  # a bad flag value, a missing store, snapshot, kubeconfig or port; a meaningless comparison
EXIT_INCOMPLETE = 3  # snapshot: stored, but some objects could not be read

EXIT_CODES_HELP = (
    "Exit codes: 0 success; "
    "1 the Jira site or the Kubernetes API server could not be read at all (unreachable, unknown host, "
    "credentials rejected), or `diff --exit-code` found drift; "
    "2 usage: a bad flag value, a missing store, snapshot or kubeconfig, a busy port, a comparison that "
    "means nothing; "
    "3 `snapshot` stored an incomplete snapshot (some objects could not be read). "
    "--debug or JIRADRIFT_DEBUG=1 shows a traceback instead of the one-line error."
)

DEBUG_FLAG = "--debug"
DEBUG_ENV = "JIRADRIFT_DEBUG"
MAX_LINE = 600


def one_line(text: str) -> str:
    """``text`` on one line (whitespace runs collapsed), at most :data:`MAX_LINE` characters."""
    flat = re.sub(r"\s+", " ", text).strip()
    return flat if len(flat) <= MAX_LINE else flat[: MAX_LINE - 1] + "…"


def describe(exc: BaseException) -> tuple[int, str]:
    """(exit code, message) for an error that reached the boundary."""
    if isinstance(exc, UnknownContext):
        return EXIT_USAGE, f"{exc}; pass one of them to --context, or omit --context for the current one"
    if isinstance(exc, ConfigException):
        fix = "pass --kubeconfig FILE, set KUBECONFIG, or run inside a cluster"
        default = Path(os.path.expanduser(KUBE_CONFIG_DEFAULT_LOCATION))
        if not os.environ.get("KUBECONFIG") and not default.exists():
            return EXIT_USAGE, f"no kubeconfig: KUBECONFIG is not set and {default} does not exist; {fix}"
        return EXIT_USAGE, f"the kubeconfig cannot be used ({exc}); {fix}"
    if isinstance(exc, KubeError):
        if exc.status is None:
            return EXIT_FAILED, (
                f"cannot reach the Kubernetes API server ({exc.message}); check your kubeconfig's server "
                "and that the cluster is running"
            )
        return EXIT_FAILED, f"Kubernetes API: {exc}"
    if isinstance(exc, JiraError):
        return EXIT_FAILED, str(exc)
    if isinstance(exc, aiohttp.ClientError):
        return EXIT_FAILED, f"connection failed: {exc}"
    if isinstance(exc, StoreError):
        return EXIT_USAGE, str(exc)
    if isinstance(exc, OSError):
        if exc.errno == errno.EADDRINUSE:
            return EXIT_USAGE, f"{exc.strerror or exc}: pick another --port (0 picks any free one)"
        where = f" {exc.filename}" if exc.filename else ""
        if exc.strerror:
            return EXIT_USAGE, f"{exc.strerror}:{where}"
        return EXIT_USAGE, str(exc)
    if isinstance(exc, TimeoutError):
        return EXIT_FAILED, f"timed out{f': {exc}' if str(exc) else ''}"
    detail = f": {exc}" if str(exc) else ""
    return EXIT_FAILED, (
        f"unexpected {type(exc).__name__}{detail} (a bug: rerun with {DEBUG_FLAG} for the traceback and report it)"
    )


def _usage_line(exc: ClickException) -> str:
    ctx = getattr(exc, "ctx", None)
    hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
    return f"{exc.format_message()}{hint}"


def run(app: typer.Typer, argv: Sequence[str] | None = None) -> int:
    """Run the CLI on ``argv`` (default: ``sys.argv[1:]``) and return its exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = DEBUG_FLAG in args or os.environ.get(DEBUG_ENV, "") not in ("", "0")
    args = [a for a in args if a != DEBUG_FLAG]
    # kubernetes_asyncio warns "Config not found" before raising: the boundary's line says it better.
    logging.getLogger("kubernetes_asyncio.config.kube_config").setLevel(logging.ERROR)
    try:
        result = app(args=args, prog_name="jiradrift", standalone_mode=False)
    except NoArgsIsHelpError:  # `jiradrift drift`: the help, already printed, is the answer
        return EXIT_USAGE
    except ClickException as exc:  # usage errors, BadParameter raised by a command
        if debug:
            raise
        typer.echo(f"error: {one_line(_usage_line(exc))}", err=True)
        return exc.exit_code
    except typer.Abort:
        typer.echo("error: aborted", err=True)
        return 130
    except KeyboardInterrupt:
        typer.echo("error: interrupted", err=True)
        return 130
    except SystemExit:
        raise
    except Exception as exc:
        if debug:
            raise
        code, message = describe(exc)
        typer.echo(f"error: {one_line(message)}", err=True)
        return code
    return result if isinstance(result, int) else EXIT_OK
