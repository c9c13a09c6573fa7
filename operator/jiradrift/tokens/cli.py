"""``jiradrift refresh-tokens`` (the CronJob's command) and ``jiradrift auth login``."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
from datetime import timedelta
from pathlib import Path

import typer

from jiradrift import logs
from jiradrift.api.windows import parse_duration
from jiradrift.jira.errors import OAuthError
from jiradrift.kube.client import Kube
from jiradrift.kube.kubeconfig import context_namespace
from jiradrift.net.egress import ALLOWED_CIDRS_ENV, default_policy
from jiradrift.net.hosts import ALLOWED_HOSTS_ENV, DEFAULT_ALLOWED_HOSTS, HostAllowlist
from jiradrift.tokens.errors import TokenError
from jiradrift.tokens.job import run_refresh_job
from jiradrift.tokens.login import DEFAULT_PORT, LoginError, LoginResult, login
from jiradrift.tokens.scopes import LOGIN_SCOPES


def parse_window(text: str) -> timedelta:
    """``24h``, ``90m``, ``1h30m``, ``2d``, ``45s`` -> timedelta."""
    try:
        return parse_duration(text, days=True)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def refresh_tokens_command(
    namespace: list[str] = typer.Option(
        [], "--namespace", "-n", help="Namespace to visit (repeatable). Default: all namespaces."
    ),
    all_namespaces: bool = typer.Option(False, "--all-namespaces", "-A", help="Visit every namespace."),
    window: str = typer.Option(
        "24h", help="Refresh tokens that expire within this duration (e.g. 24h, 90m); the rest are skipped."
    ),
    concurrency: int = typer.Option(20, min=1, max=256, help="Tenants refreshed at the same time."),
    lease_wait: float = typer.Option(
        30.0, help="Seconds to wait for a tenant's refresh Lease held by the operator before giving up."
    ),
    kubeconfig: Path | None = typer.Option(None, help="Kubeconfig file (default: in-cluster, then KUBECONFIG)."),
    context: str | None = typer.Option(None, "--context", help="Kubeconfig context to use (default: the current one)."),
    log_format: str = typer.Option("json", help="json or plain (logs go to stderr)."),
    allowed_hosts: str = typer.Option(
        ",".join(DEFAULT_ALLOWED_HOSTS),
        envvar=ALLOWED_HOSTS_ENV,
        help="Hosts a tenant's tokenUrl may name, comma-separated (the same list as `jiradrift run`).",
    ),
) -> None:
    """Refresh the OAuth / service-account tokens of every JiraTenant that needs it (the CronJob).

    Visits each JiraTenant using spec.auth.oauth or spec.auth.serviceAccount, refreshes those whose
    access token expires within --window under the tenant's refresh Lease, skips the rest, and
    carries on past failures. The last line of stdout is exactly
    `Token refresh job: N refreshed, M skipped, K failed`; the exit status is 0 when K is 0.
    """
    if namespace and all_namespaces:
        raise typer.BadParameter("pass either --namespace (repeatable) or --all-namespaces, not both")
    span = parse_window(window)
    try:
        allowlist = HostAllowlist.parse(allowed_hosts)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--allowed-hosts") from None
    try:
        default_policy()  # the admin's allowedNetworks: refused at start, not at the first connection
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=ALLOWED_CIDRS_ENV) from None
    logs.configure(logging.INFO, json_format=log_format == "json")
    # One line per refreshed tenant is enough; the Lease's acquired/released lines would triple it.
    logging.getLogger("jiradrift.api.locks").setLevel(logging.WARNING)

    async def main() -> int:
        # In-cluster credentials in a pod, else --kubeconfig / KUBECONFIG / ~/.kube/config.
        async with await Kube.connect(kubeconfig, context) as kube:
            summary = await run_refresh_job(
                kube,
                namespaces=namespace or None,
                window=span,
                concurrency=concurrency,
                lease_wait=lease_wait,
                allowlist=allowlist,
            )
        sys.stderr.flush()
        typer.echo(summary.line())
        return summary.exit_code

    raise typer.Exit(asyncio.run(main()))


auth_app = typer.Typer(help="OAuth consent for JiraTenants (writes the credential Secret).", no_args_is_help=True)


@auth_app.command("login")
def login_command(
    tenant: str = typer.Option(..., "--tenant", help="The JiraTenant's name (spec.auth.oauth), with -n."),
    tenant_namespace: str | None = typer.Option(
        None, "--namespace", "-n", help="Namespace of the JiraTenant (default: the kubeconfig context's)."
    ),
    context: str | None = typer.Option(None, "--context", help="Kubeconfig context to use (default: the current one)."),
    client_id: str | None = typer.Option(
        None, help="OAuth client ID of the Atlassian app (default: the one already in the Secret)."
    ),
    client_secret_env: str = typer.Option(
        "JIRADRIFT_CLIENT_SECRET",
        help="Environment variable holding the app's client secret (default: the one already in the Secret).",
    ),
    port: int = typer.Option(
        DEFAULT_PORT,
        min=0,
        max=65535,
        help="Loopback port; the app's callback must be http://127.0.0.1:<port>/callback (0: any).",
    ),
    scopes: str | None = typer.Option(
        None, help="Space- or comma-separated scopes (default: the granular read scopes + offline_access)."
    ),
    auth_url: str | None = typer.Option(
        None, help="Authorization server base URL (default: derived from the tenant's tokenUrl)."
    ),
    timeout: float = typer.Option(300.0, help="Seconds to wait for the consent."),
    open_browser: bool = typer.Option(False, "--open", help="Also open the URL in a browser."),
    kubeconfig: Path | None = typer.Option(None, help="Kubeconfig file (default: KUBECONFIG, ~/.kube/config)."),
    allowed_hosts: str = typer.Option(
        ",".join(DEFAULT_ALLOWED_HOSTS),
        envvar=ALLOWED_HOSTS_ENV,
        help="Hosts the tenant's tokenUrl may name, comma-separated (the operator's list).",
    ),
) -> None:
    """Consent to the Atlassian app (3LO) and write the tenant's Secret; prints the URL to open."""
    if "/" in tenant:  # the older NAMESPACE/NAME form
        namespace, _, name = tenant.partition("/")
        typer.echo(f"warning: --tenant NAMESPACE/NAME is deprecated; use --tenant {name} -n {namespace}", err=True)
    else:
        namespace, name = tenant_namespace or context_namespace(kubeconfig, context), tenant
    if not namespace or not name or "/" in name:
        raise typer.BadParameter(f"--tenant {tenant!r} must be a JiraTenant name (with -n NAMESPACE)")
    wanted = tuple(s for s in re.split(r"[\s,]+", scopes or "") if s) or LOGIN_SCOPES
    try:
        allowlist = HostAllowlist.parse(allowed_hosts)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--allowed-hosts") from None

    def announce(url: str) -> None:
        typer.echo("Open this URL, sign in and accept (waiting for the callback):", err=True)
        typer.echo(url)
        sys.stdout.flush()
        if open_browser:
            import webbrowser

            webbrowser.open(url)

    async def main() -> LoginResult:
        async with await Kube.connect(kubeconfig, context) as kube:
            return await login(
                kube,
                namespace,
                name,
                client_id=client_id,
                client_secret=os.environ.get(client_secret_env) or None,
                scopes=wanted,
                port=port,
                auth_base=auth_url,
                timeout=timeout,
                announce=announce,
                allowlist=allowlist,
            )

    try:
        result = asyncio.run(main())
    except (LoginError, TokenError, OAuthError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    verb = "created" if result.created else "updated"
    typer.echo(f"Secret {result.secret} {verb}; access token valid until {result.expires_at:%Y-%m-%dT%H:%M:%SZ}")
    if result.write_scopes:
        typer.echo(
            f"warning: granted write-capable scope(s) {' '.join(result.write_scopes)}; captures are refused "
            "unless spec.auth.allowWriteScopes is true. Give the app only the granular read scopes.",
            err=True,
        )
