"""metav1.Condition helpers: set a condition without losing its lastTransitionTime.

Conditions are plain dicts here (the shape the API server stores), so the same helpers serve
kopf's ``patch.status`` and direct status patches from the token job.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jiradrift.redact import redact

# Condition types and the reasons the operator uses. Reasons are stable API: alerts match them.
READY = "Ready"
CREDENTIALS_VALID = "CredentialsValid"
REACHABLE = "Reachable"
TOKEN_FRESH = "TokenFresh"
SCOPES_READ_ONLY = "ScopesReadOnly"
TENANT_CONDITIONS = (READY, CREDENTIALS_VALID, REACHABLE, TOKEN_FRESH, SCOPES_READ_ONLY)


def now_rfc3339(now: datetime | None = None) -> str:
    """RFC 3339 with seconds precision in UTC (what metav1.Time serialises)."""
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def find(conditions: list[dict[str, Any]] | None, type_: str) -> dict[str, Any] | None:
    for condition in conditions or []:
        if condition.get("type") == type_:
            return condition
    return None


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
        "type": type_,
        "status": status_str,
        "reason": reason,
        "message": redact(message)[:32768],
        "lastTransitionTime": transition,
    }
    if generation is not None:
        entry["observedGeneration"] = generation
    others = [c for c in conditions or [] if c.get("type") != type_]
    return sorted([*others, entry], key=lambda c: _order(c["type"]))


def _order(type_: str) -> tuple[int, str]:
    return (TENANT_CONDITIONS.index(type_), type_) if type_ in TENANT_CONDITIONS else (99, type_)
