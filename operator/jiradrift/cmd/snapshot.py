"""``jiradrift snapshot``: capture a site's configuration into a local store directory."""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Awaitable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from jiradrift.cmd.errors import EXIT_FAILED, EXIT_INCOMPLETE, one_line
from jiradrift.cmd.limits import LIMIT_OPTIONS, with_response_limits
from jiradrift.cmd.output import LEGACY_FORMAT, OUTPUT, OutputFormat, deprecated, output_format, plural, write_data
from jiradrift.jira.auth import (
    DEFAULT_GATEWAY,
    ApiTokenAuth,
    Credentials,
    OAuthAuth,
    PatAuth,
    ServiceAccountAuth,
)
from jiradrift.jira.client import ClientSettings, JiraClient
from jiradrift.jira.errors import JiraError
from jiradrift.jira.limits import ResponseLimits
from jiradrift.jira.oauth import DEFAULT_TOKEN_URL
from jiradrift.jira.probe import probe_settings, probe_site
from jiradrift.model.manifest import Manifest
from jiradrift.model.snapshot_types import SnapshotType
from jiradrift.snapshot.capture import CaptureProgress
from jiradrift.snapshot.incremental import WindowResult, capture_window
from jiradrift.store.filesystem import FilesystemStore

PLAIN_PROGRESS_SECONDS = 10.0


class AuthMethod(StrEnum):
    basic = "basic"
    oauth = "oauth"
    service_account = "service-account"
    pat = "pat"


def read_secret(what: str, env: str | None, file: Path | None) -> str:
    """A secret from a file (preferred) or an environment variable; never from the command line."""
    if file is not None:
        try:
            value = file.read_text().strip()
        except OSError as exc:
            raise typer.BadParameter(f"cannot read {what} from {file}: {exc.strerror}") from exc
        if value:
            return value
        raise typer.BadParameter(f"{what} file {file} is empty")
    if env:
        value = os.environ.get(env, "").strip()
        if value:
            return value
    raise typer.BadParameter(f"no {what}: set the environment variable {env} or pass a --*-file option")


def build_credentials(
    auth: AuthMethod,
    *,
    email: str | None,
    token_env: str | None,
    token_file: Path | None,
    client_id: str | None,
    client_secret_env: str,
    client_secret_file: Path | None,
) -> Credentials:
    if auth is AuthMethod.basic:
        if not email:
            raise typer.BadParameter("--auth basic needs --email")
        return ApiTokenAuth(email=email, api_token=read_secret("API token", token_env or "JIRA_API_TOKEN", token_file))
    if auth is AuthMethod.oauth:
        return OAuthAuth(access_token=read_secret("OAuth access token", token_env or "JIRA_ACCESS_TOKEN", token_file))
    if auth is AuthMethod.pat:
        return PatAuth(token=read_secret("personal access token", token_env or "JIRA_PAT", token_file))
    if not client_id:
        raise typer.BadParameter("--auth service-account needs --client-id")
    return ServiceAccountAuth(
        client_id=client_id, client_secret=read_secret("client secret", client_secret_env, client_secret_file)
    )


def _types(values: list[str] | None) -> list[SnapshotType]:
    if not values:
        return list(SnapshotType)
    out: list[SnapshotType] = []
    for value in values:
        for name in value.split(","):
            try:
                out.append(SnapshotType(name.strip()))
            except ValueError:
                choices = ", ".join(t.value for t in SnapshotType)
                raise typer.BadParameter(f"unknown snapshot type {name!r}; choose from {choices}") from None
    return list(dict.fromkeys(out))


_REQUEST = re.compile(r"^[A-Z]+ \S+ (-> )?")  # "GET https://.../field -> ": the endpoint, said apart


def error_lines(manifests: list[Manifest], limit: int = 10) -> list[str]:
    """One line per cause (the same 401 on 28 endpoints is one line), with how often and where first."""
    causes: dict[str, list[str]] = {}
    for m in manifests:
        for err in m.errors:
            cause = one_line(_REQUEST.sub("", err.message))
            causes.setdefault(cause, []).append(f"{m.type} {err.kind} {err.endpoint}")
    lines = [
        f"{len(where)} read(s) failed: {cause} (first: {where[0]})"
        for cause, where in sorted(causes.items(), key=lambda c: -len(c[1]))
    ]
    if len(lines) > limit:
        lines[limit:] = [f"... and {len(lines) - limit} other cause(s); the manifests list every error"]
    return lines


def _tenant_from(site: str) -> str:
    host = re.sub(r"^https?://", "", site).split("/")[0].split(":")[0]
    return re.sub(r"[^A-Za-z0-9.-]", "-", host.split(".")[0] or "site")


async def run_snapshot(
    client: JiraClient,
    out: Path,
    *,
    tenant: str,
    types: list[SnapshotType],
    console: Console,
    captured_at: datetime | None = None,
    full: bool = False,
) -> WindowResult:
    """Capture every type (concurrently; the client paces the tenant) into a FilesystemStore at ``out``:
    incrementally from the store's newest complete snapshot of each type where it holds one
    (``jiradrift.snapshot.incremental``), in full otherwise or with ``full``."""

    store = FilesystemStore(out)  # create it (or refuse a directory that is not a store) before reading Jira
    now = captured_at or datetime.now(UTC)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    taken = set(await store.list_manifests(tenant))
    if any(f"{tenant}-{t.value}-{stamp}" in taken for t in types):  # a second run within the second
        stamp = now.strftime("%Y%m%dT%H%M%S.%fZ")
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.fields[stype]:<11}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} sources  {task.fields[items]} items  {task.fields[errors]} errors"),
        TextColumn("{task.fields[source]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
        disable=not console.is_terminal,
    ) as bar:
        tasks = {t: bar.add_task(t.value, total=None, stype=t.value, items=0, errors=0, source="") for t in types}

        last_line = [time.monotonic()]
        done: set[str] = set()

        def on_progress(p: CaptureProgress) -> None:
            # Without a terminal (CI logs, kubectl logs) the bar draws nothing: plain lines instead,
            # one per finished type and at most one every PLAIN_PROGRESS_SECONDS otherwise.
            finished = bool(p.sources_total) and p.sources_done == p.sources_total and p.snapshot_type not in done
            now = time.monotonic()
            if not console.is_terminal and (finished or now - last_line[0] >= PLAIN_PROGRESS_SECONDS):
                last_line[0] = now
                if finished:
                    done.add(p.snapshot_type)
                state = "done" if finished else f"{p.sources_done}/{p.sources_total} sources"
                console.print(
                    f"{p.snapshot_type}: {state}, {plural(p.items, 'item')}, {plural(p.errors, 'error')}",
                    highlight=False,
                    soft_wrap=True,
                )
            bar.update(
                tasks[SnapshotType(p.snapshot_type)],
                total=p.sources_total,
                completed=p.sources_done,
                items=p.items,
                errors=p.errors,
                source=p.source,
            )

        window = await capture_window(
            client,
            FilesystemStore(out),
            tenant=tenant,
            types=types,
            captured_at=now,
            snapshot_id=lambda t: f"{tenant}-{t}-{stamp}",
            full=full,
            progress=on_progress,
            store_for=lambda _t: FilesystemStore(out),  # one store object per capture: it tracks its capture
        )
        return window


@with_response_limits
def snapshot_command(
    site: str = typer.Option(
        ..., "--site", help="Jira site URL, e.g. https://acme.atlassian.net (Data Center: its base URL)."
    ),
    auth: AuthMethod = typer.Option(
        AuthMethod.basic,
        "--auth",
        help="basic = email + API token; oauth = 3LO access token; "
        "service-account = client credentials; pat = Data Center PAT.",
    ),
    out: Path = typer.Option(
        ..., "--out", help="Store directory (created if missing; reused across runs, content-addressed)."
    ),
    types: list[str] | None = typer.Option(
        None, "--type", help="Snapshot types, comma-separated or repeated (default: all)."
    ),
    legacy_types: list[str] | None = typer.Option(None, "--types", hidden=True, help="Deprecated: use --type."),
    output: OutputFormat | None = OUTPUT,
    legacy_format: OutputFormat | None = LEGACY_FORMAT,
    email: str | None = typer.Option(None, "--email", help="Atlassian account email (basic auth)."),
    token_env: str | None = typer.Option(
        None,
        "--token-env",
        help="Env var holding the API token / access token / PAT "
        "(defaults: JIRA_API_TOKEN, JIRA_ACCESS_TOKEN, JIRA_PAT).",
    ),
    token_file: Path | None = typer.Option(
        None, "--token-file", help="File holding the token (takes precedence over the env var)."
    ),
    client_id: str | None = typer.Option(None, "--client-id", help="Service-account OAuth client id."),
    client_secret_env: str = typer.Option(
        "JIRA_CLIENT_SECRET", "--client-secret-env", help="Env var holding the client secret."
    ),
    client_secret_file: Path | None = typer.Option(
        None, "--client-secret-file", help="File holding the client secret."
    ),
    cloud_id: str | None = typer.Option(None, "--cloud-id", help="Skip cloudId discovery (oauth / service-account)."),
    gateway: str = typer.Option(DEFAULT_GATEWAY, "--gateway", help="API gateway for oauth / service-account."),
    token_url: str = typer.Option(DEFAULT_TOKEN_URL, "--token-url", help="OAuth token endpoint (service-account)."),
    tenant: str | None = typer.Option(
        None, "--tenant", help="Tenant name in the store (default: derived from the site host)."
    ),
    max_concurrency: int = typer.Option(8, "--max-concurrency", min=1, max=64, help="Requests in flight at once."),
    rps: float = typer.Option(50.0, "--rps", min=0.1, help="Requests per second cap."),
    timeout: float = typer.Option(
        30.0, "--timeout", min=0.1, help="Connect/read timeout in seconds (a read timeout restarts with every byte)."
    ),
    limits: ResponseLimits = LIMIT_OPTIONS,
    full: bool = typer.Option(
        False,
        "--full",
        help="Read every object; by default a store that already holds a snapshot of the site is "
        "continued incrementally (the audit log and cheap probes say what to re-read).",
    ),
) -> None:
    """Capture the configuration of a Jira site into a store directory (read-only towards Jira).

    Into a store that already holds a complete snapshot of the site, only what changed since is
    re-read (the audit log, overlapping the last window, and a cheap probe per kind say what) and
    everything else is carried over: the result equals a full capture. ``--full`` reads everything.

    Secrets are read from environment variables or files, never from the command line, and never
    printed. Exit codes: 0 complete, 3 some objects could not be read (the snapshot is stored and
    marked incomplete), 1 the site could not be read at all (unreachable, unknown host, credentials
    rejected: nothing is stored; or every read failed: the snapshots are stored, read nothing, and
    are never anyone's baseline).

    The site is untrusted: every response is read with a size cap after decompression, a JSON
    depth cap and a wall-clock deadline (retries included); listings stop at a page cap, a
    deadline, or when they loop or their total lies; long Retry-After waits are refused. Each ends
    that source with a reason (exit 3). Each capture (snapshot type) as a whole stops at its page,
    item and time bounds, and all responses together stay within one memory budget.
    """
    console = Console(stderr=True)  # progress and diagnostics; the results go to stdout
    if legacy_types:
        deprecated("--types", "--type")
    snapshot_types = _types([*(types or []), *(legacy_types or [])])
    fmt = output_format(output, legacy_format)
    credentials = build_credentials(
        auth,
        email=email,
        token_env=token_env,
        token_file=token_file,
        client_id=client_id,
        client_secret_env=client_secret_env,
        client_secret_file=client_secret_file,
    )
    settings = ClientSettings(max_concurrency=max_concurrency, requests_per_second=rps, timeout=timeout, limits=limits)

    async def main() -> tuple[WindowResult, dict[str, object]]:
        def open_client(client_settings: ClientSettings, known_cloud_id: str | None) -> Awaitable[JiraClient]:
            return JiraClient.connect(
                site,
                credentials,
                cloud_id=known_cloud_id,
                gateway=gateway,
                token_url=token_url,
                settings=client_settings,
            )

        # One quick read first: a site that cannot be read at all (refused, unknown host, rejected
        # credentials) ends the run in seconds with one error, before anything is stored.
        async with await open_client(probe_settings(settings), cloud_id) as probe:
            await probe_site(probe)
        client = await open_client(settings, cloud_id or probe.cloud_id)
        async with client:
            window = await run_snapshot(
                client, out, tenant=tenant or _tenant_from(site), types=snapshot_types, console=console, full=full
            )
            return window, client.stats.as_dict()

    try:
        window, stats = asyncio.run(main())
    except JiraError as exc:
        typer.echo(f"error: {one_line(str(exc))}", err=True)
        raise typer.Exit(EXIT_FAILED) from None

    manifests = window.manifests
    for line in error_lines(manifests):
        console.print(line, soft_wrap=True, highlight=False, markup=False)
    modes = sorted({m.capture.mode.value for m in manifests})
    console.print(
        f"capture: {'/'.join(modes)}; {sum(m.capture.reread or 0 for m in manifests)} object(s) re-read "
        f"of {sum(len(m.items) for m in manifests)}"
        + "".join(f"; full: {r}" for r in sorted({m.capture.reason for m in manifests if m.capture.reason})),
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        f"requests: {stats['requests_total']} by status {stats['requests_by_status']}; "
        f"rate-limit waits {stats['rate_limit_waits']}",
        highlight=False,
    )
    if fmt in (OutputFormat.json, OutputFormat.yaml):
        write_data(
            {
                "site": site,
                "store": str(out),
                "requests": stats["requests_total"],
                # the audit log and the change probes: the window's own reads, not one type's
                "window_requests": window.requests - sum(m.request_count for m in manifests),
                "snapshots": [
                    {
                        "type": m.type,
                        "snapshot_id": m.snapshot_id,
                        "items": len(m.items),
                        "requests": m.request_count,
                        "complete": m.complete,
                        "errors": len(m.errors),
                        "unchanged_from": m.unchanged_from,
                        "mode": m.capture.mode.value,
                        "reread": m.capture.reread,
                        "full_reason": m.capture.reason,
                    }
                    for m in manifests
                ],
            },
            fmt,
        )
    else:
        table = Table(title=f"snapshot of {site} -> {out}")
        for column in (
            "type",
            "snapshot",
            "mode",
            "items",
            "re-read",
            "requests",
            "complete",
            "errors",
            "unchanged from",
        ):
            table.add_column(column)
        for m in manifests:
            table.add_row(
                m.type,
                m.snapshot_id,
                m.capture.mode.value,
                str(len(m.items)),
                str(m.capture.reread),
                str(m.request_count),
                "yes" if m.complete else "[red]no[/red]",
                str(len(m.errors)),
                m.unchanged_from or "",
            )
        Console().print(table)
    if all(m.read_nothing for m in manifests):
        raise typer.Exit(EXIT_FAILED)  # nothing could be read: no baseline for anyone, said by the code too
    if not all(m.complete for m in manifests):
        raise typer.Exit(EXIT_INCOMPLETE)
