"""``jiradrift run``: start the operator (kopf) with our settings, metrics and JSON logs."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import kopf
import typer

from jiradrift import logs
from jiradrift.api.locks import holder_identity
from jiradrift.cmd import s3options
from jiradrift.cmd.limits import LIMIT_OPTIONS, limit_option, with_response_limits
from jiradrift.handlers import metrics
from jiradrift.handlers.context import OperatorContext, OperatorSettings
from jiradrift.handlers.readiness import parse_endpoint
from jiradrift.handlers.registry import build_registry
from jiradrift.history.settings import HISTORY_HOSTS_ENV, HistorySettings
from jiradrift.jira.limits import CAPTURE_SLOTS, ResponseLimits
from jiradrift.kube.client import Kube
from jiradrift.net.egress import ALLOWED_CIDRS_ENV, default_policy
from jiradrift.net.hosts import ALLOWED_HOSTS_ENV, DEFAULT_ALLOWED_HOSTS, HostAllowlist
from jiradrift.notify import (
    DEFAULT_NOTIFICATION_HOSTS,
    NOTIFICATION_HOSTS_ENV,
    DeliveryPolicy,
    NotifySettings,
    SendLimits,
)

STORES = ("secret", "configmap", "filesystem", "s3")
# Seconds: run the event loop in debug mode and log each callback that blocks it longer (tests).
SLOW_CALLBACK_ENV = "JIRADRIFT_SLOW_CALLBACK_SECONDS"


async def operate(settings: OperatorSettings, *, all_namespaces: bool, liveness: str) -> None:
    """Connect the one async client, build the handlers' context and run kopf until stopped."""
    slow = os.environ.get(SLOW_CALLBACK_ENV)
    if slow:  # asyncio debug mode: log every callback that holds the loop longer than this
        loop = asyncio.get_running_loop()
        loop.set_debug(True)
        loop.slow_callback_duration = float(slow)
        logging.getLogger("jiradrift").warning("event loop in debug mode: callbacks over %s s are logged", slow)
    kube = await Kube.connect()
    try:
        await kube.get("/version")  # an API server that cannot be reached ends the run now, in one line
        ctx = OperatorContext(kube=kube, settings=settings, holder=holder_identity())
        await kopf.operator(
            registry=build_registry(ctx),
            standalone=settings.standalone,
            clusterwide=all_namespaces,
            namespaces=settings.namespaces,
            liveness_endpoint=liveness or None,
        )
    finally:
        await kube.close()


@with_response_limits
def run_command(
    namespace: list[str] = typer.Option([], "--namespace", "-n", help="Namespace to watch (repeatable)."),
    all_namespaces: bool = typer.Option(False, "--all-namespaces", "-A", help="Watch every namespace."),
    standalone: bool = typer.Option(True, help="Run without kopf peering (use one replica, strategy Recreate)."),
    liveness: str = typer.Option("http://0.0.0.0:8080/healthz", help="kopf liveness endpoint ('' to disable)."),
    readiness: str = typer.Option(
        "",
        help=(
            "Readiness endpoint, e.g. http://0.0.0.0:8081/readyz: 200 once the caches hold every JiraTenant and "
            "Snapshot and the first membership round is done, 503 before and while stopping ('' to disable)."
        ),
    ),
    metrics_port: int = typer.Option(9090, help="Port for Prometheus /metrics (0 to disable)."),
    store: str = typer.Option(
        "secret",
        help=(
            "Where payloads go: secret (Secrets of type jiradrift.io/snapshot-pack, which the namespace `view` "
            "role cannot read), configmap (readable by `view`), filesystem, or s3 (a bucket; --s3-* options)."
        ),
    ),
    store_path: Path = typer.Option(Path("/data"), help="Root of the filesystem store."),
    s3_endpoint: str = s3options.S3_ENDPOINT,
    s3_bucket: str = s3options.S3_BUCKET,
    s3_region: str = s3options.S3_REGION,
    s3_prefix: str = s3options.S3_PREFIX,
    s3_path_style: bool = s3options.S3_PATH_STYLE,
    s3_timeout: float = s3options.S3_TIMEOUT,
    store_max_bytes: int = typer.Option(
        0,
        min=0,
        envvar="JIRADRIFT_STORE_MAX_BYTES",
        help=(
            "Cluster-wide cap on one tenant's stored payload bytes (0: none); a tenant's spec.retention.maxBytes "
            "applies within it. A capture that would exceed the budget stops Incomplete (BudgetExceeded)."
        ),
    ),
    lease_duration: int = typer.Option(90, help="Snapshot lock Lease duration, seconds."),
    shard_namespace: str = typer.Option(
        "",
        envvar="JIRADRIFT_SHARD_NAMESPACE",
        help=(
            "Share tenants between replicas: each holds a membership Lease in this namespace and works only on "
            "the tenants assigned to it by consistent hashing (the chart sets the release namespace). Empty: "
            "this replica works on every tenant."
        ),
    ),
    max_concurrent_captures: int = limit_option(CAPTURE_SLOTS),
    shard_lease_duration: int = typer.Option(
        15,
        min=3,
        max=300,
        help="Membership Lease duration, seconds: a replica that stops renewing loses its tenants after about two.",
    ),
    tenant_interval: float = typer.Option(30.0, help="Seconds between reconciliations of each JiraTenant."),
    limits: ResponseLimits = LIMIT_OPTIONS,
    probe_timeout: float = typer.Option(60.0, min=0.1, help="Overall deadline of a tenant's health check, seconds."),
    audit_timeout: float = typer.Option(60.0, min=0.1, help="Overall deadline of audit-log attribution, seconds."),
    allowed_hosts: str = typer.Option(
        ",".join(DEFAULT_ALLOWED_HOSTS),
        envvar=ALLOWED_HOSTS_ENV,
        help=(
            "Hosts tenants' credentials may be sent to (spec.site, spec.apiGateway, tokenUrl), comma-separated: "
            "exact names or '*.' wildcards. Set by the cluster admin; no JiraTenant can widen it. Loopback "
            "(127.0.0.1, localhost) only when named here: the emulator and tests."
        ),
    ),
    notification_hosts: str = typer.Option(
        ",".join(DEFAULT_NOTIFICATION_HOSTS),
        envvar=NOTIFICATION_HOSTS_ENV,
        help=(
            "Hosts drift notifications may be posted to (the webhook URLs in tenants' Secrets), comma-separated: "
            "exact names or '*.' wildcards, as --allowed-hosts. Loopback only when named here."
        ),
    ),
    history_hosts: str = typer.Option(
        "",
        envvar=HISTORY_HOSTS_ENV,
        help=(
            "Hosts tenants' git history (spec.history.repository) may be pushed to, comma-separated, as "
            "--allowed-hosts. Empty (the default): spec.history is refused."
        ),
    ),
    notify_interval: float = typer.Option(10.0, min=0.05, help="Seconds between passes over pending notifications."),
    notify_backoff: float = typer.Option(10.0, min=0.01, help="First retry delay of a failed notification, seconds."),
    notify_backoff_cap: float = typer.Option(600.0, min=0.01, help="Longest retry delay of a notification, seconds."),
    notify_max_attempts: int = typer.Option(8, min=1, max=100, help="Attempts per notification before giving up."),
    notify_timeout: float = typer.Option(10.0, min=0.1, max=120, help="Deadline of one notification POST, seconds."),
    log_format: str = typer.Option("json", help="json or plain."),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Run the operator: reconcile JiraTenants and Snapshots in the given namespaces."""
    if not namespace and not all_namespaces:
        raise typer.BadParameter("pass --namespace NS (repeatable) or --all-namespaces")
    if store not in STORES:
        raise typer.BadParameter(f"--store must be one of {', '.join(STORES)}, not {store!r}")
    s3 = None
    if store == "s3":
        s3 = s3options.s3_config(s3_endpoint, s3_bucket, s3_region, s3_prefix, s3_path_style, s3_timeout)
        s3options.check_credentials(s3_region)
    try:
        allowlist = HostAllowlist.parse(allowed_hosts)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--allowed-hosts") from None
    try:
        default_policy()  # the admin's allowedNetworks: refused at start, not at the first connection
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=ALLOWED_CIDRS_ENV) from None
    try:
        notification_allowlist = HostAllowlist.parse(notification_hosts)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--notification-hosts") from None
    try:
        # Empty (the default) is allowed here, unlike the other allowlists: it refuses every spec.history.
        history_allowlist = HostAllowlist.parse(history_hosts) if history_hosts.strip() else HostAllowlist(())
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--history-hosts") from None
    if readiness:
        try:
            parse_endpoint(readiness)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--readiness") from None
    logs.configure(logging.DEBUG if verbose else logging.INFO, json_format=log_format == "json")
    settings = OperatorSettings(
        namespaces=list(namespace),
        standalone=standalone,
        store=store,
        store_path=store_path,
        s3=s3,
        store_max_bytes=store_max_bytes or None,
        lease_duration_seconds=lease_duration,
        shard_namespace=shard_namespace or None,
        shard_lease_seconds=shard_lease_duration,
        max_concurrent_captures=max_concurrent_captures,
        readiness_endpoint=readiness or None,
        tenant_timer_seconds=tenant_interval,
        limits=limits,
        probe_timeout_seconds=probe_timeout,
        audit_timeout_seconds=audit_timeout,
        allowed_hosts=allowlist,
        history=HistorySettings(hosts=history_allowlist),
        notify=NotifySettings(
            hosts=notification_allowlist,
            poll_seconds=notify_interval,
            policy=DeliveryPolicy(notify_backoff, max(notify_backoff_cap, notify_backoff), notify_max_attempts),
            limits=SendLimits(timeout_seconds=notify_timeout),
            stop_grace_seconds=notify_timeout + 5,
        ),
    )
    if metrics_port:
        metrics.serve(metrics_port)
    asyncio.run(operate(settings, all_namespaces=all_namespaces, liveness=liveness))
