"""Refresh one tenant's token: the single code path of the CronJob and of the operator.

    refresher = TokenRefresher(kube, http=http)
    result = await refresher.refresh(tenant, window=timedelta(hours=24))   # never raises TokenError
    state = await ensure_fresh_token(kube, tenant, window=timedelta(minutes=5))  # raises TokenError

The steps, and why:

1. Unless status already says a refresh is due, read the Secret without the Lease: a token good
   beyond the window is skipped, and skipping writes nothing, so it needs no lock.
2. Take the tenant's refresh Lease (``token_refresh:{namespace}/{name}``; renewed while the
   refresh runs; a Lease left by a dead holder is taken over within one lease duration) and
   **re-read the Secret**: the other caller may have rotated it a moment ago. Decide again (``decide``); a token
   someone refreshed since we looked (and that lasts 5 more minutes) is used, not rotated again.
3. Refresh: 3LO rotates the refresh token (the old one is spent), a service account re-mints.
4. Persist the rotation with the Secret's resourceVersion as precondition **before** the new access
   token is handed out. On 409 re-read: if the credentials are still the ones we spent, the change
   was unrelated and we write again on the new version; if they changed, someone else rotated or
   replaced them, and their Secret wins (never overwritten). An API server that does not answer
   (or answers 5xx / 429) is retried with backoff for as long as Atlassian's 10-minute reuse
   window of the old refresh token allows (``persist_window``). Steps 3-4 are shielded from
   cancellation, so a rotated refresh token is never dropped half-way.
5. Update ``status.token`` and the ``TokenFresh`` / ``ScopesReadOnly`` conditions (merge patch of
   ``/status`` with the tenant's resourceVersion; 409 re-reads and recomputes).

``invalid_grant`` / ``unauthorized_client`` mark the Secret with a fingerprint of the rejected
credentials, set ``TokenFresh=False, reason=ReauthorizationRequired`` and post one Warning Event;
until the Secret's credentials change nothing calls the token endpoint for that tenant again.
Tokens never reach logs, Events or status.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import httpx

from jiradrift.api import conditions as cond
from jiradrift.api.locks import LeaseError, LeaseLock, holder_identity
from jiradrift.api.objects import involved
from jiradrift.api.resources import ConditionStatus, JiraTenant
from jiradrift.clock import SystemClock, WallClock
from jiradrift.jira.errors import OAuthError, ReauthorizationRequired
from jiradrift.jira.oauth import (
    TokenResponse,
    refresh_access_token,
    request_client_credentials_token,
    write_scopes,
)
from jiradrift.kube import events
from jiradrift.kube.client import Kube, KubeError, retry_on_conflict
from jiradrift.net.backoff import NO_JITTER, Backoff
from jiradrift.net.hosts import HostAllowlist, HostRefused
from jiradrift.net.transport import outbound_client
from jiradrift.redact import redact, remember_secrets
from jiradrift.tokens.decision import Action, Decision, decide
from jiradrift.tokens.errors import (
    LeaseUnavailable,
    MalformedSecret,
    ReauthorizationPending,
    RefreshFailed,
    SecretConflict,
    SecretNotFound,
    SecretNotOptedIn,
    TokenError,
    TokenHostRefused,
    UnsupportedAuth,
    WriteScopesRefused,
)
from jiradrift.tokens.kube import KubeOps
from jiradrift.tokens.refresh_lock import refresh_lease
from jiradrift.tokens.secret import (
    ACCESS_TOKEN,
    EXPIRES_AT,
    REAUTH_ANNOTATION,
    REFRESH_TOKEN,
    SCOPE,
    AuthKind,
    SecretFormatError,
    TokenSecret,
    format_time,
    parse_secret,
    updated_secret_body,
)
from jiradrift.tokens.tenant import (
    REAUTHORIZATION_REQUIRED,
    TenantAuthRef,
    TenantObject,
    TokenFreshness,
    read_tenant,
    tenant_auth,
    token_status_patch,
)

log = logging.getLogger("jiradrift.tokens")

FRESH = TokenFreshness(True, "Fresh", "the access token is valid")
LEASE_DURATION_SECONDS = 60
PERSIST_WINDOW_SECONDS = 540.0
"""How long a rotated token is retried into the Secret: inside Atlassian's 10-minute reuse window of
the old refresh token (counted from the token endpoint's answer), with a minute to spare."""
PERSIST_CONFLICTS = 5
PERSIST_MAX_PAUSE = 15.0
PERSIST_BACKOFF = Backoff(base=0.5, cap=PERSIST_MAX_PAUSE, jitter=NO_JITTER)
"""Pauses between tries to save a rotated token (or re-read its Secret): 0.5 s doubling to 15 s."""
STATUS_ATTEMPTS = 4
MIN_REMAINING = timedelta(minutes=5)
"""A token someone else just minted is used if it lasts at least this long."""


@dataclass(frozen=True)
class _Seen:
    """What we knew before taking the Lease: the Secret we read, or only the expiry status reported."""

    resource_version: str | None
    expires_at: datetime | None


@dataclass(frozen=True)
class TokenState:
    """A usable access token. ``repr`` never shows it."""

    tenant: str
    access_token: str = field(repr=False)
    expires_at: datetime
    scopes: tuple[str, ...]
    refreshed: bool

    @property
    def write_scopes(self) -> list[str]:
        return write_scopes(self.scopes)

    @property
    def authorization(self) -> str:
        return f"Bearer {self.access_token}"


class Outcome(StrEnum):
    REFRESHED = "refreshed"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True)
class RefreshResult:
    tenant: str
    outcome: Outcome
    reason: str
    message: str
    state: TokenState | None = None
    error: TokenError | None = None


def _state(ref: TenantAuthRef, secret: TokenSecret, *, refreshed: bool) -> TokenState:
    assert secret.access_token is not None and secret.expires_at is not None
    return TokenState(
        tenant=ref.key,
        access_token=secret.access_token,
        expires_at=secret.expires_at,
        scopes=tuple((secret.scope or "").split()),
        refreshed=refreshed,
    )


class TokenRefresher:
    """Refreshes tenants' tokens through one :class:`Kube` and one HTTP client (share both across tenants)."""

    def __init__(
        self,
        kube: Kube,
        *,
        http: httpx.AsyncClient,
        clock: WallClock | None = None,
        lease_wait: float = 30.0,
        lease_duration: int = LEASE_DURATION_SECONDS,
        holder_prefix: str | None = None,
        allowlist: HostAllowlist | None = None,
        persist_window: float = PERSIST_WINDOW_SECONDS,
    ) -> None:
        self.kube = kube
        self.allowlist = allowlist or HostAllowlist()
        self.ops = KubeOps(kube)
        self.http = http
        self.persist_window = persist_window
        self.clock: WallClock = clock or SystemClock()
        self.lease_wait = lease_wait
        self.lease_duration = lease_duration
        self.holder_prefix = holder_prefix

    # --- entry points ---------------------------------------------------------------------

    async def refresh(self, tenant: TenantObject, *, window: timedelta) -> RefreshResult:
        """Refresh when needed; every failure comes back as a ``FAILED`` result, never raised."""
        key = _key_of(tenant)
        try:
            return await self._refresh(read_tenant(tenant), window)
        except TokenError as exc:
            return RefreshResult(exc.tenant, Outcome.FAILED, exc.reason, exc.message, error=exc)
        except KubeError as exc:
            error = RefreshFailed(key, f"the Kubernetes API refused a call: {exc}")
            return RefreshResult(key, Outcome.FAILED, "KubernetesError", error.message, error=error)
        except Exception as exc:  # a bug or an unexpected library error must not sink the other tenants
            log.exception("token refresh of JiraTenant %s failed unexpectedly", key)
            error = RefreshFailed(key, f"unexpected {type(exc).__name__}: {redact(str(exc))}")
            return RefreshResult(key, Outcome.FAILED, "UnexpectedError", error.message, error=error)

    # --- the steps ------------------------------------------------------------------------

    async def _refresh(self, tenant: JiraTenant, window: timedelta) -> RefreshResult:
        ref = tenant_auth(tenant)
        if not ref.kind.refreshable:
            raise UnsupportedAuth(ref.key, f"spec.auth.{ref.kind.value} has no token to refresh")
        try:  # before anything is read: a client secret never goes to a host the admin did not allow
            self.allowlist.check(ref.token_url, f"spec.auth.{ref.kind.value}.tokenUrl")
        except HostRefused as exc:
            error = TokenHostRefused(ref.key, exc.reason, exc.message)
            await self._set_status(tenant, ref, TokenFreshness(False, error.reason, error.message))
            raise error from None
        reported = self._status_expiry(tenant)
        if reported is not None and reported - self.clock.now() <= window:
            # Status says a refresh is due: go straight to the Lease (the Secret is read under it).
            seen = _Seen(None, reported)
        else:
            # Reading and skipping write nothing to the Secret, so they need no lock.
            first = await self._read_and_decide(ref, window)
            if first.action is Action.SKIP:
                return await self._skipped(tenant, ref, first)
            if first.action is Action.FAIL:
                raise await self._failed(tenant, ref, first)
            assert first.secret is not None
            seen = _Seen(first.secret.resource_version, first.secret.expires_at)
        lock = refresh_lease(
            self.kube,
            ref.namespace,
            ref.name,
            holder_identity(self.holder_prefix),
            duration_seconds=self.lease_duration,
        )
        # Never refreshed: no Lease is expected yet, so try creating it before reading it.
        token = tenant.status.token if tenant.status else None
        never_refreshed = token is None or token.last_refresh_time is None
        try:
            # A refresh takes well under a second: poll briefly. A holder that stops renewing is
            # waited out (at most one lease duration) and taken over, however short lease_wait is.
            acquired = await lock.acquire(self.lease_wait, 0.02, max_retry_period=1.0, create_first=never_refreshed)
        except LeaseError as exc:
            raise RefreshFailed(ref.key, str(exc)) from None
        if not acquired:
            # The other refresher held it all along; what it wrote may be all we need.
            decision = await self._read_and_decide(ref, window)
            if decision.action is Action.SKIP or self._refreshed_meanwhile(seen, decision):
                return await self._skipped(tenant, ref, decision, reason="RefreshedConcurrently")
            holder = lock.record.holder if lock.record else "?"
            duration = lock.record.duration_seconds if lock.record else self.lease_duration
            raise LeaseUnavailable(
                ref.key,
                f"the refresh Lease {ref.namespace}/{lock.name} stayed held by {holder}, which kept renewing "
                f"it, for {self.lease_wait:.0f}s; once its holder stops, the next run takes it over within "
                f"{duration}s and refreshes",
            )
        try:
            async with lock.held(release=False):  # renewed while the refresh (and its persisting) runs
                return await self._refresh_locked(tenant, ref, window, seen)
        finally:
            await self._release(lock, ref)

    async def _release(self, lock: LeaseLock, ref: TenantAuthRef) -> None:
        try:
            await lock.release(delete=True)  # the next run creates it in one call
        except LeaseError as exc:  # the Lease expires on its own; never mask the result
            log.warning("could not release refresh Lease of JiraTenant %s: %s", ref.key, exc)

    def _status_expiry(self, tenant: JiraTenant) -> datetime | None:
        token = tenant.status.token if tenant.status else None
        if token is None or token.expires_at is None:
            return None
        expires = token.expires_at  # a time without offset is UTC, as parse_time reads the Secret's
        return expires if expires.tzinfo else expires.replace(tzinfo=UTC)

    def _refreshed_meanwhile(self, seen: _Seen, latest: Decision) -> bool:
        """Someone refreshed since we looked (Secret read, or status), and left a usable token.

        Then the need that made us want to refresh has been met, even if the new token still falls
        within our (possibly long) window: refreshing again would only rotate for nothing.
        """
        after = latest.secret
        if after is None or after.access_token is None or after.expires_at is None:
            return False
        if seen.resource_version is None and seen.expires_at is None:
            return False  # we knew nothing before: nothing to compare with
        if seen.resource_version is not None and after.resource_version == seen.resource_version:
            return False
        if seen.expires_at is not None and after.expires_at <= seen.expires_at:
            return False
        return after.expires_at - self.clock.now() > MIN_REMAINING

    async def _read_and_decide(self, ref: TenantAuthRef, window: timedelta) -> Decision:
        body = await self.ops.get_secret(ref.namespace, ref.secret_name)
        return decide(body, ref.kind, now=self.clock.now(), window=window, secret_ref=ref.secret_key, tenant=ref.name)

    async def _failed(self, tenant: JiraTenant, ref: TenantAuthRef, decision: Decision) -> TokenError:
        error = self._decision_error(ref, decision)
        reported = cond.find(tenant.status.conditions if tenant.status else None, cond.TOKEN_FRESH)
        if (
            isinstance(error, ReauthorizationPending)
            and reported is not None
            and (reported.status, reported.reason) == (ConditionStatus.FALSE, REAUTHORIZATION_REQUIRED)
        ):
            # Status already carries what the token endpoint said; repeat it, rewrite nothing.
            return ReauthorizationPending(ref.key, reported.message)
        await self._set_status(tenant, ref, TokenFreshness(False, error.reason, error.message))
        return error

    async def _refresh_locked(
        self, tenant: JiraTenant, ref: TenantAuthRef, window: timedelta, seen: _Seen
    ) -> RefreshResult:
        decision = await self._read_and_decide(ref, window)
        if decision.action is Action.SKIP:
            return await self._skipped(tenant, ref, decision)
        if decision.action is Action.FAIL:
            raise await self._failed(tenant, ref, decision)
        if self._refreshed_meanwhile(seen, decision):
            return await self._skipped(tenant, ref, decision, reason="RefreshedConcurrently")
        assert decision.secret is not None
        # Rotation and persistence must finish together even if our caller is cancelled.
        task = asyncio.ensure_future(self._rotate_and_persist(ref, decision.secret))
        try:
            stored, refreshed_at = await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.done():
                await asyncio.wait([task], timeout=60)
            raise
        except ReauthorizationRequired as exc:
            await self._mark_reauthorization(tenant, ref, decision.secret, exc)
            raise ReauthorizationPending(ref.key, self._reauth_message(ref, exc)) from exc
        except OAuthError as exc:
            error = RefreshFailed(ref.key, f"the token endpoint {ref.token_url} failed: {redact(str(exc))}")
            current_expiry = decision.secret.expires_at
            if current_expiry is not None and current_expiry > self.clock.now():
                freshness = TokenFreshness(
                    True,
                    "RefreshDeferred",
                    f"{error.message}; the current token stays valid until {format_time(current_expiry)}",
                )
            else:
                freshness = TokenFreshness(False, error.reason, error.message)
            await self._set_status(tenant, ref, freshness)
            raise error from exc
        if stored is None:  # someone else rotated or replaced the credentials meanwhile: theirs win
            return await self._after_conflict(tenant, ref, window)
        await self._set_status(
            tenant, ref, FRESH, expires_at=stored.expires_at, refreshed_at=refreshed_at, scopes=stored.scope
        )
        log.info(
            "JiraTenant %s: token refreshed (%s), valid until %s",
            ref.key,
            decision.reason,
            format_time(stored.expires_at) if stored.expires_at else "?",
        )
        state = _state(ref, stored, refreshed=True)
        return RefreshResult(ref.key, Outcome.REFRESHED, decision.reason, decision.message, state=state)

    def _decision_error(self, ref: TenantAuthRef, decision: Decision) -> TokenError:
        if decision.reason == "SecretNotFound":
            return SecretNotFound(ref.key, ref.namespace, ref.secret_name)
        if decision.reason == "SecretNotOptedIn":
            return SecretNotOptedIn(ref.key, decision.message)
        if decision.reason == REAUTHORIZATION_REQUIRED:
            return ReauthorizationPending(
                ref.key,
                f"the token endpoint rejected the credentials in Secret {ref.secret_key} as revoked "
                "(invalid_grant / unauthorized_client); captures are paused and nothing is retried until "
                f"the Secret changes. Fix: {self._reauth_fix(ref)}",
            )
        return MalformedSecret(ref.key, ref.namespace, ref.secret_name, decision.message)

    async def _call_token_endpoint(self, ref: TenantAuthRef, secret: TokenSecret) -> TokenResponse:
        if ref.kind is AuthKind.OAUTH:
            assert secret.refresh_token is not None
            return await refresh_access_token(
                client_id=secret.client_id,
                client_secret=secret.client_secret,
                refresh_token=secret.refresh_token,
                token_url=ref.token_url,
                http=self.http,
            )
        return await request_client_credentials_token(
            client_id=secret.client_id,
            client_secret=secret.client_secret,
            token_url=ref.token_url,
            http=self.http,
        )

    async def _rotate_and_persist(self, ref: TenantAuthRef, secret: TokenSecret) -> tuple[TokenSecret | None, datetime]:
        """Call the token endpoint and save the answer; ``None`` when another writer's Secret won."""
        started = self.clock.now()
        tokens = await self._call_token_endpoint(ref, secret)
        remember_secrets([tokens.access_token, tokens.refresh_token or ""])
        # Count the lifetime from before the request: the token never outlives what we record.
        expires_at = started + timedelta(seconds=max(0, tokens.expires_in))
        values = {ACCESS_TOKEN: tokens.access_token, EXPIRES_AT: format_time(expires_at), SCOPE: tokens.scope}
        if ref.kind is AuthKind.OAUTH and tokens.refresh_token:
            values[REFRESH_TOKEN] = tokens.refresh_token
        stored = await self._persist(ref, secret, values)
        return stored, started

    async def _persist(self, ref: TenantAuthRef, spent: TokenSecret, values: dict[str, str]) -> TokenSecret | None:
        """Write ``values`` into the Secret; ``None`` when another writer's credentials won.

        A rotated refresh token exists only in memory until this succeeds, and the old one is
        accepted for Atlassian's 10-minute reuse window only. So an API server that does not answer,
        or answers 5xx or 429, is retried with backoff for ``persist_window`` seconds; each failure
        is logged (without the token). A 409 re-reads; other refusals (403, 422, ...) are final.
        """
        current = spent.raw
        deadline = time.monotonic() + self.persist_window
        conflicts = 0
        failures = 0
        while True:
            body = updated_secret_body(current, values, annotations={REAUTH_ANNOTATION: None})
            try:
                written = await self.ops.replace_secret(body)
                if failures:
                    log.info("JiraTenant %s: the new token was saved to Secret %s", ref.key, ref.secret_key)
                return parse_secret(written, ref.kind)
            except KubeError as exc:
                error = exc
            if error.conflict:
                conflicts += 1
                latest = await self._read_secret_retrying(ref, deadline)
                if latest is None:
                    raise SecretNotFound(ref.key, ref.namespace, ref.secret_name) from None
                try:
                    same = parse_secret(latest, ref.kind).fingerprint == spent.fingerprint
                except SecretFormatError:
                    same = False
                if not same:
                    log.info(
                        "JiraTenant %s: Secret %s changed while refreshing; keeping the other writer's",
                        ref.key,
                        ref.secret_key,
                    )
                    return None
                if conflicts < PERSIST_CONFLICTS:
                    current = latest  # an unrelated change (labels, annotations): write ours on top of it
                    continue
                detail = " (it kept changing)"
            elif error.not_found:
                raise SecretNotFound(ref.key, ref.namespace, ref.secret_name) from None
            elif _transient(error) and time.monotonic() + (pause := PERSIST_BACKOFF.delay(failures)) < deadline:
                failures += 1
                log.warning(
                    "JiraTenant %s: could not save the new token to Secret %s (attempt %d, retrying in %.1fs, "
                    "%.0fs left of the refresh token's reuse window): %s",
                    ref.key,
                    ref.secret_key,
                    failures,
                    pause,
                    deadline - time.monotonic(),
                    redact(str(error)),
                )
                await asyncio.sleep(pause)
                continue
            else:
                detail = f": {redact(str(error))}"
            log.error(
                "JiraTenant %s: the new token could not be saved to Secret %s%s. For 3LO the previous refresh "
                "token remains usable for 10 minutes after the refresh; run `jiradrift refresh-tokens` again "
                "within that time",
                ref.key,
                ref.secret_key,
                detail,
            )
            raise SecretConflict(ref.key, f"the refreshed token could not be saved to Secret {ref.secret_key}{detail}")

    async def _read_secret_retrying(self, ref: TenantAuthRef, deadline: float) -> dict[str, Any] | None:
        """The Secret, read again after a 409, through outages until ``deadline``."""
        for attempt in itertools.count():
            try:
                return await self.ops.get_secret(ref.namespace, ref.secret_name)
            except KubeError as exc:
                pause = PERSIST_BACKOFF.delay(attempt)
                if not _transient(exc) or time.monotonic() + pause >= deadline:
                    raise
                log.warning("JiraTenant %s: could not re-read Secret %s: %s", ref.key, ref.secret_key, exc)
                await asyncio.sleep(pause)
        raise AssertionError("unreachable")

    async def _after_conflict(self, tenant: JiraTenant, ref: TenantAuthRef, window: timedelta) -> RefreshResult:
        decision = await self._read_and_decide(ref, window)
        if decision.action is Action.SKIP:
            return await self._skipped(tenant, ref, decision, reason="RefreshedConcurrently")
        raise SecretConflict(
            ref.key,
            f"Secret {ref.secret_key} was changed by someone else during the refresh and its token is "
            f"not fresh ({decision.reason}: {decision.message}); the next run refreshes it",
        )

    async def _skipped(
        self, tenant: JiraTenant, ref: TenantAuthRef, decision: Decision, *, reason: str | None = None
    ) -> RefreshResult:
        secret = decision.secret
        assert secret is not None and secret.expires_at is not None
        await self._set_status(tenant, ref, FRESH, expires_at=secret.expires_at, scopes=secret.scope)
        state = _state(ref, secret, refreshed=False)
        return RefreshResult(ref.key, Outcome.SKIPPED, reason or decision.reason, decision.message, state=state)

    # --- revoked grants -------------------------------------------------------------------

    def _reauth_fix(self, ref: TenantAuthRef) -> str:
        if ref.kind is AuthKind.OAUTH:
            return f"run `jiradrift auth login --tenant {ref.name} -n {ref.namespace}` to consent again"
        return f"issue new service-account OAuth credentials and update Secret {ref.secret_key}"

    def _reauth_message(self, ref: TenantAuthRef, exc: OAuthError) -> str:
        fix = self._reauth_fix(ref)
        return (
            f"the token endpoint answered {exc.error} ({redact(exc.description)}) for the credentials in "
            f"Secret {ref.secret_key}; captures are paused and nothing is retried until the Secret changes. "
            f"Fix: {fix}"
        )

    async def _mark_reauthorization(
        self, tenant: JiraTenant, ref: TenantAuthRef, secret: TokenSecret, exc: OAuthError
    ) -> None:
        message = self._reauth_message(ref, exc)
        log.warning("JiraTenant %s: %s", ref.key, message)
        reads = 0

        async def mark() -> None:
            nonlocal reads
            current = secret.raw
            if reads:  # after a conflict: mark the Secret as it is now, unless its credentials changed
                latest = await self.ops.get_secret(ref.namespace, ref.secret_name)
                try:
                    if latest is None or parse_secret(latest, ref.kind).fingerprint != secret.fingerprint:
                        return  # already replaced by someone: those credentials deserve a try
                except SecretFormatError:
                    return
                current = latest
            reads += 1
            await self.ops.replace_secret(
                updated_secret_body(current, {}, annotations={REAUTH_ANNOTATION: secret.fingerprint})
            )

        try:
            await retry_on_conflict(mark, attempts=3)
        except KubeError as err:
            log.warning("JiraTenant %s: could not mark Secret %s: %s", ref.key, ref.secret_key, err)
        await self._set_status(tenant, ref, TokenFreshness(False, REAUTHORIZATION_REQUIRED, message))
        try:  # Events are advisory: one that cannot be posted is logged, never raised
            await self.ops.create_event(
                ref.namespace, events.event_body(involved(tenant), "Warning", REAUTHORIZATION_REQUIRED, message)
            )
        except KubeError as err:
            log.warning("JiraTenant %s: could not post the %s Event: %s", ref.key, REAUTHORIZATION_REQUIRED, err)

    # --- status ---------------------------------------------------------------------------

    async def publish(self, tenant: TenantObject, secret: TokenSecret, *, refreshed_at: datetime) -> None:
        """Mirror a token just written by someone else (``jiradrift auth login``) into the status."""
        obj = read_tenant(tenant)
        await self._set_status(
            obj,
            tenant_auth(obj),
            FRESH,
            expires_at=secret.expires_at,
            refreshed_at=refreshed_at,
            scopes=secret.scope,
        )

    async def _set_status(
        self,
        tenant: JiraTenant,
        ref: TenantAuthRef,
        freshness: TokenFreshness,
        *,
        expires_at: datetime | None = None,
        refreshed_at: datetime | None = None,
        scopes: str | None = None,
    ) -> None:
        """Best effort: the Secret is the record of truth; status mirrors it for people and the operator."""
        current = tenant
        for _ in range(STATUS_ATTEMPTS):
            patch = token_status_patch(
                current,
                ref,
                freshness=freshness,
                now=self.clock.now(),
                expires_at=expires_at,
                refreshed_at=refreshed_at,
                scopes=scopes,
            )
            if patch is None:
                return
            try:
                await self.ops.patch_tenant_status(ref.namespace, ref.name, patch)
                return
            except KubeError as exc:
                if not exc.conflict:
                    log.warning("JiraTenant %s: could not update status: %s", ref.key, exc)
                    return
            try:
                latest = await self.ops.get_tenant(ref.namespace, ref.name)
                if latest is None:
                    return
                current = read_tenant(latest)
            except (KubeError, UnsupportedAuth) as exc:  # gone unreadable meanwhile: status waits for a fix
                log.warning("JiraTenant %s: could not update status: %s", ref.key, exc)
                return
        log.warning("JiraTenant %s: status kept changing; token status not updated this time", ref.key)


def _key_of(tenant: TenantObject) -> str:
    """``namespace/name`` of a tenant, also of one whose spec does not read."""
    if isinstance(tenant, JiraTenant):
        return tenant.metadata.key
    meta = tenant.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}"


def _transient(error: KubeError) -> bool:
    """No answer, or an answer that says "later": worth retrying while the reuse window lasts."""
    return error.status is None or error.status == 429 or error.status >= 500


async def ensure_fresh_token(
    kube: Kube,
    tenant: TenantObject,
    *,
    window: timedelta,
    http: httpx.AsyncClient | None = None,
    clock: WallClock | None = None,
    lease_wait: float = 30.0,
    allowlist: HostAllowlist | None = None,
) -> TokenState:
    """The operator's call before a capture: an access token valid for longer than ``window``.

    Refreshes under the tenant's Lease when needed (the same code the CronJob runs). Raises a
    :class:`~jiradrift.tokens.errors.TokenError`: ``ReauthorizationPending`` (grant revoked; captures
    paused), ``WriteScopesRefused`` (write scope without ``allowWriteScopes``), ``MalformedSecret``,
    ``SecretNotFound``, ``RefreshFailed``, ``LeaseUnavailable``, ``SecretConflict``, ``UnsupportedAuth``.
    """
    try:
        obj = read_tenant(tenant)
    except UnsupportedAuth:
        obj = None  # refresh() reports it, as a FAILED result
    own = http is None
    client = http or outbound_client(timeout=30.0)
    try:
        refresher = TokenRefresher(kube, http=client, clock=clock, lease_wait=lease_wait, allowlist=allowlist)
        result = await refresher.refresh(obj or tenant, window=window)
    finally:
        if own:
            await client.aclose()
    if result.error is not None:
        raise result.error
    assert result.state is not None
    writes = result.state.write_scopes
    if writes and not tenant_auth(obj or tenant).allow_write_scopes:
        raise WriteScopesRefused(
            result.tenant,
            f"the token was granted write-capable scope(s) {' '.join(writes)} and spec.auth.allowWriteScopes "
            "is not true; re-consent with only the granular read scopes (`jiradrift auth login`)",
        )
    return result.state
