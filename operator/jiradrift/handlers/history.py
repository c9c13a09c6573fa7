"""The tenant's git history (``spec.history``): after a Snapshot completes with changes, push it.

    queue_history(ctx, HistoryRequest(namespace, tenant, spec, store, previous))
    status = await publish_history(ctx, request)        # what the queue runs, one per tenant at a time

Best effort towards the Snapshot (which is already Completed; a push never fails it) and exact
towards the branch (:mod:`jiradrift.history.sink`: every stored snapshot that the branch lacks is
committed, oldest first, so a push that failed is made up by the next one). Each commit is authored
by the Jira users stored with its Snapshot's drift report (:class:`~jiradrift.history.source.StoreSource`,
as ``jiradrift history export`` reads them): nothing about a push is kept in memory. The outcome is the
tenant's ``status.history`` (last commit, lag, and a reason that says what to fix) and metrics.
The push runs after the Snapshot, outside its capture slot (``ctx.history_pushes``, owned by the
runtime): a slow or unreachable git server holds a push slot for up to ``timeout_seconds``, never a
capture, and one tenant's pushes never overlap or reorder.

Trust: the repository's host must be on the admin's ``--history-hosts``; the credentials Secret
must opt in to the tenant (``jiradrift.io/allowed-tenants``) like every other Secret; SSH host keys
come pinned from that Secret (never trust-on-first-use); the token never reaches a command line.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from jiradrift.api.credentials import CredentialsProblem, decode_secret_data, read_opted_in_secret
from jiradrift.api.resources import HistorySpec, HistoryStatus, JiraTenantSpec, JiraTenantStatus
from jiradrift.handlers import metrics
from jiradrift.handlers.context import OperatorContext
from jiradrift.handlers.objects import patch_status
from jiradrift.handlers.snapshot_status import seconds, status_patch
from jiradrift.handlers.tenant import tenant_key
from jiradrift.history.errors import HistoryError, HistoryReason
from jiradrift.history.gitcli import Credentials, GitRepo, Remote, check_remote
from jiradrift.history.sink import HistorySink
from jiradrift.history.source import StoreSource, candidates
from jiradrift.kube.names import label_value
from jiradrift.model.store import SnapshotStore
from jiradrift.redact import clip, remember_secrets

log = logging.getLogger("jiradrift.history")

SSH_KEY, KNOWN_HOSTS, TOKEN, USERNAME, CA = "ssh-privatekey", "known_hosts", "token", "username", "ca.crt"


async def history_credentials(ctx: OperatorContext, namespace: str, tenant: str, spec: HistorySpec) -> Credentials:
    secret = await read_opted_in_secret(
        ctx.kube,
        namespace,
        spec.secret_ref.name,
        tenant,
        "spec.history.secretRef.name",
        f"keys {SSH_KEY} and {KNOWN_HOSTS} (SSH) or {TOKEN} (HTTPS)",
    )
    data = decode_secret_data(secret)
    remember_secrets([v for k, v in data.items() if k in (SSH_KEY, TOKEN) and v])
    return Credentials(
        ssh_key=data.get(SSH_KEY, ""),
        known_hosts=data.get(KNOWN_HOSTS, ""),
        token=data.get(TOKEN, ""),
        username=data.get(USERNAME) or "x-access-token",
        ca_pem=data.get(CA, ""),
    )


@dataclass(frozen=True)
class HistoryRequest:
    """One tenant's publish: what the branch lacks (every stored snapshot it has not got, authored as
    their stored drift reports say)."""

    namespace: str
    tenant_name: str
    spec: JiraTenantSpec
    store: SnapshotStore
    previous: Mapping[str, Any] | None = None  # the tenant's status.history when asked

    @property
    def tenant(self) -> str:
        return tenant_key(self.namespace, self.tenant_name)


def queue_history(ctx: OperatorContext, request: HistoryRequest) -> bool:
    """Publish ``request`` after the tenant's earlier publishes, outside any capture slot
    (``ctx.history_pushes``); returns at once. A request that comes while the tenant's previous one
    waits replaces it (the newer knows as much: both push what the store holds). False: too many
    tenants waiting, left to the next Snapshot, as is whatever a failed push left behind."""
    return ctx.history_pushes.submit(request.tenant, request, partial(publish_history, ctx))


async def publish_history(ctx: OperatorContext, request: HistoryRequest) -> HistoryStatus | None:
    """Push what the branch lacks; write and return the tenant's ``status.history`` (None: no spec.history).
    Run one at a time per tenant (:func:`queue_history`): the tenant's local mirror is shared; across
    replicas, the server's refusal of a non-fast-forward push decides."""
    history = request.spec.history
    if history is None:
        return None
    namespace, tenant_name, tkey, store = request.namespace, request.tenant_name, request.tenant, request.store
    # what the watch shows now (an earlier push may have finished since the request), else what the request saw
    watched = ((ctx.watched_tenant(tkey) or {}).get("status") or {}).get("history")
    previous = watched or request.previous
    settings = ctx.settings.history
    now = ctx.clock()
    waiting = candidates(await store.list_snapshots(tkey))
    try:
        creds = await history_credentials(ctx, namespace, tenant_name, history)
        remote = Remote(history.repository, history.branch, creds)
        check_remote(remote, settings.hosts)
        workdir = settings.workdir / label_value(namespace) / label_value(tenant_name) / "mirror.git"
        sink = HistorySink(GitRepo.open(workdir, remote), prefix=history.path_prefix, tenant=tkey)
        result = await asyncio.wait_for(sink.publish(waiting, StoreSource(store)), settings.timeout_seconds)
    except Exception as exc:
        reason, message = _problem(exc, settings.timeout_seconds)
        metrics.HISTORY_FAILURES.labels(namespace, tenant_name, reason).inc()
        log.warning("history of %s: %s: %s", tkey, reason, message)
        status = HistoryStatus(
            last_commit=(previous or {}).get("lastCommit"),
            last_snapshot=(previous or {}).get("lastSnapshot"),
            last_push_time=_time((previous or {}).get("lastPushTime")),
            lag=_lag(waiting, (previous or {}).get("lastPushTime")),
            reason=reason,
            message=clip(message, 1024),
            last_failure_time=seconds(now),
        )
    else:
        pushed = result.pushed[-1] if result.pushed else (previous or {}).get("lastSnapshot")
        metrics.HISTORY_LAST_PUSH.labels(namespace, tenant_name).set(now.timestamp())
        metrics.HISTORY_COMMITS.labels(namespace, tenant_name).inc(len(result.pushed))
        if result.pushed:
            log.info("history of %s: pushed %s (tip %s)", tkey, ", ".join(result.pushed), result.tip)
        status = HistoryStatus(
            last_commit=result.tip, last_snapshot=pushed, last_push_time=seconds(now), lag=0, reason="", message=""
        )
    patch = status_patch(JiraTenantStatus(history=status))
    await patch_status(ctx.kube, namespace, "jiratenants", tenant_name, patch)
    return status


def _problem(exc: Exception, timeout: float) -> tuple[str, str]:
    if isinstance(exc, HistoryError):
        return str(exc.reason), exc.message
    if isinstance(exc, CredentialsProblem):
        return str(exc.reason), exc.message
    if isinstance(exc, TimeoutError):
        return str(
            HistoryReason.UNREACHABLE
        ), f"the push did not finish within {timeout:g} s; retried after the next Snapshot"
    return str(HistoryReason.GIT_FAILED), clip(f"{type(exc).__name__}: {exc}", 600)


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None


def _lag(waiting: list[Any], last_push: Any) -> int:
    since = _time(last_push)
    return sum(1 for c in waiting if since is None or c.captured_at > since)
