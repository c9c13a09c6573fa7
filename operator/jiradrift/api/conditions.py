"""Condition types, reasons and the errors that carry them; metav1.Condition helpers.

The one place for condition types and reasons: both are stable API (alerts and dashboards match
them), so they are enums here and nowhere else. A failure that should show in status is a
:class:`ReconcileError` -- it names the condition it falsifies and the reason -- so handlers turn
errors into status in one function (``jiradrift.handlers.problems.problem_of``).

The helpers below write conditions as plain dicts (the shape the API server stores), so they serve
merge patches and the status models alike; :func:`find` looks a condition up in either form (the
models read by ``api.objects.read_object``, or the dicts being written).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from jiradrift.api.resources import Condition
from jiradrift.redact import redact


class ConditionType(StrEnum):
    READY = "Ready"
    CREDENTIALS_VALID = "CredentialsValid"
    REACHABLE = "Reachable"
    TOKEN_FRESH = "TokenFresh"
    SCOPES_READ_ONLY = "ScopesReadOnly"
    DRIFTED = "Drifted"  # the newest complete snapshot of some type differs from its accepted one


class Reason(StrEnum):
    """Reasons the operator sets on conditions and Events (token reasons live with the token errors)."""

    # healthy
    READY = "Ready"
    PAUSED = "Paused"
    ACCEPTED = "Accepted"
    REACHABLE = "Reachable"
    FRESH = "Fresh"
    READ_ONLY = "ReadOnly"
    NOT_APPLICABLE = "NotApplicable"
    PENDING = "Pending"
    # the tenant's spec and Secret
    INVALID_SPEC = "InvalidSpec"
    NO_AUTH_METHOD = "NoAuthMethod"
    SECRET_NOT_FOUND = "SecretNotFound"
    SECRET_FORBIDDEN = "SecretForbidden"
    SECRET_NOT_OPTED_IN = "SecretNotOptedIn"
    SECRET_KEY_MISSING = "SecretKeyMissing"
    MALFORMED_SECRET = "MalformedSecret"
    # the site
    CREDENTIALS_REJECTED = "CredentialsRejected"
    PERMISSION_DENIED = "PermissionDenied"
    REAUTHORIZATION_REQUIRED = "ReauthorizationRequired"
    TOKEN_REQUEST_FAILED = "TokenRequestFailed"
    WRITE_SCOPES_GRANTED = "WriteScopesGranted"
    RATE_LIMITED = "RateLimited"
    SITE_MISBEHAVED = "SiteMisbehaved"
    TIMEOUT = "Timeout"
    PROBE_TIMEOUT = "ProbeTimeout"
    NOT_JIRA = "NotJira"
    UNREACHABLE = "Unreachable"
    CLOUD_ID_UNKNOWN = "CloudIdUnknown"
    JIRA_ERROR = "JiraError"
    INVALID_SITE = "InvalidSite"
    HOST_NOT_ALLOWED = "HostNotAllowed"
    NON_CANONICAL_URL = "NonCanonicalURL"
    INSECURE_URL = "InsecureURL"
    INVALID_URL = "InvalidURL"
    UNEXPECTED_ERROR = "UnexpectedError"
    # Snapshots
    TENANT_NOT_FOUND = "TenantNotFound"
    COMPLETED = "Completed"
    INCOMPLETE = "Incomplete"
    DRIFT_DETECTED = "DriftDetected"
    SNAPSHOT_INCOMPLETE = "SnapshotIncomplete"
    BUDGET_EXCEEDED = "BudgetExceeded"
    BASELINE_OF_ANOTHER_TENANT = "BaselineOfAnotherTenant"
    QUOTA_EXCEEDED = "QuotaExceeded"  # the namespace's ResourceQuota refused a scheduled Snapshot
    # accepted baselines (the Drifted condition)
    UNACCEPTED_CHANGES = "UnacceptedChanges"
    MATCHES_ACCEPTED = "MatchesAccepted"
    NO_ACCEPTED_SNAPSHOT = "NoAcceptedSnapshot"


# A Snapshot failing for one of these fails at once: retrying cannot help until a person acts.
TERMINAL_REASONS = frozenset(
    {
        Reason.SECRET_NOT_FOUND,
        Reason.SECRET_KEY_MISSING,
        Reason.CREDENTIALS_REJECTED,
        Reason.REAUTHORIZATION_REQUIRED,
        Reason.PERMISSION_DENIED,
        Reason.NOT_JIRA,
        Reason.INVALID_SITE,
        Reason.WRITE_SCOPES_GRANTED,
        Reason.MALFORMED_SECRET,
        Reason.SECRET_NOT_OPTED_IN,
        Reason.HOST_NOT_ALLOWED,
        Reason.NON_CANONICAL_URL,
        Reason.INSECURE_URL,
        Reason.INVALID_URL,
        Reason.BASELINE_OF_ANOTHER_TENANT,
    }
)


@dataclass(frozen=True)
class Problem:
    """A failure as a condition: which condition it falsifies, its reason and its message."""

    condition: ConditionType
    reason: str  # a Reason, or a reason another module owns (token errors, host refusals)
    message: str


class ReconcileError(Exception):
    """A failure that belongs in status: the condition it falsifies, a stable reason, and a message
    naming the object, the field and the fix."""

    condition: ConditionType = ConditionType.READY

    def __init__(self, reason: str, message: str, condition: ConditionType | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        if condition is not None:
            self.condition = condition

    @property
    def problem(self) -> Problem:
        return Problem(self.condition, self.reason, self.message)


# Aliases kept for the token code, which reads these names.
READY = ConditionType.READY
CREDENTIALS_VALID = ConditionType.CREDENTIALS_VALID
REACHABLE = ConditionType.REACHABLE
TOKEN_FRESH = ConditionType.TOKEN_FRESH
SCOPES_READ_ONLY = ConditionType.SCOPES_READ_ONLY
TENANT_CONDITIONS = tuple(ConditionType)


def now_rfc3339(now: datetime | None = None) -> str:
    """RFC 3339 with seconds precision in UTC (what metav1.Time serialises)."""
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# A condition as read (the model) or as written (the dict :func:`set_condition` builds).
C = TypeVar("C", Condition, dict[str, Any])


def find(conditions: Iterable[C] | None, type_: str) -> C | None:
    """The condition of type ``type_``, if set."""
    for condition in conditions or ():
        if (condition.get("type") if isinstance(condition, dict) else condition.type) == type_:
            return condition
    return None


def written(conditions: Iterable[Condition]) -> list[dict[str, Any]]:
    """Conditions read as models, as the API server stores them: the dicts :func:`set_condition` works on."""
    return [c.model_dump(mode="json", by_alias=True, exclude_none=True) for c in conditions]


def is_true(conditions: list[dict[str, Any]] | None, type_: str) -> bool:
    condition = find(conditions, type_)
    return bool(condition and condition.get("status") == "True")


def set_condition(
    conditions: list[dict[str, Any]] | None,
    type_: str,
    status: bool | str,
    reason: str,
    message: str,
    *,
    generation: int | None = None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Return a new list with ``type_`` set; lastTransitionTime moves only when status flips.

    The message is redacted here, so no caller can put a credential into status.
    """
    status_str = status if isinstance(status, str) else ("True" if status else "False")
    existing = find(conditions, type_)
    transition = (
        existing["lastTransitionTime"]
        if existing and existing.get("status") == status_str and existing.get("lastTransitionTime")
        else now_rfc3339(now)
    )
    entry: dict[str, Any] = {
        "type": str(type_),
        "status": status_str,
        "reason": str(reason),
        "message": redact(message)[:32768],
        "lastTransitionTime": transition,
    }
    if generation is not None:
        entry["observedGeneration"] = generation
    others = [c for c in conditions or [] if c.get("type") != type_]
    return sorted([*others, entry], key=lambda c: _order(c["type"]))


def _order(type_: str) -> tuple[int, str]:
    return (TENANT_CONDITIONS.index(type_), type_) if type_ in TENANT_CONDITIONS else (99, type_)
