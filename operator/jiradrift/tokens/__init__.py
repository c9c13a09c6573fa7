"""The token lifecycle: keep OAuth (3LO) and service-account tokens fresh, rotation-safe and read-only.

For the operator, before a capture::

    verdict = tenant_may_capture(tenant)        # refused: revoked grant, or write scopes not allowed
    state = await ensure_fresh_token(kube, tenant, window=timedelta(minutes=5))
    headers = {"Authorization": state.authorization}

For the CronJob: ``jiradrift refresh-tokens`` (:func:`run_refresh_job`). For the first consent:
``jiradrift auth login --tenant NAME -n NAMESPACE``. See ``docs/tokens.md``.
"""

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
from jiradrift.tokens.job import JobSummary, run_refresh_job
from jiradrift.tokens.refresh import (
    Outcome,
    RefreshResult,
    TokenRefresher,
    TokenState,
    ensure_fresh_token,
)
from jiradrift.tokens.refresh_lock import lease_key
from jiradrift.tokens.secret import AuthKind, TokenSecret, parse_secret
from jiradrift.tokens.tenant import CaptureVerdict, tenant_auth, tenant_may_capture

__all__ = [
    "Action",
    "AuthKind",
    "CaptureVerdict",
    "Decision",
    "JobSummary",
    "LeaseUnavailable",
    "MalformedSecret",
    "Outcome",
    "ReauthorizationPending",
    "RefreshFailed",
    "RefreshResult",
    "SecretConflict",
    "SecretNotFound",
    "SecretNotOptedIn",
    "TokenError",
    "TokenHostRefused",
    "TokenRefresher",
    "TokenSecret",
    "TokenState",
    "UnsupportedAuth",
    "WriteScopesRefused",
    "decide",
    "ensure_fresh_token",
    "lease_key",
    "parse_secret",
    "run_refresh_job",
    "tenant_auth",
    "tenant_may_capture",
]
