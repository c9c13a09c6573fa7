"""A tenant's conditions from the problems its health check found (pure: no I/O)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jiradrift.api import conditions as cond
from jiradrift.api.conditions import ConditionType, Problem, Reason
from jiradrift.api.resources import JiraTenantSpec

CT = ConditionType
CHECKED = (CT.CREDENTIALS_VALID, CT.REACHABLE, CT.TOKEN_FRESH, CT.SCOPES_READ_ONLY)
# Refreshable tokens: jiradrift.tokens owns these two (it knows expiry and granted scopes).
TOKEN_OWNED = (CT.TOKEN_FRESH, CT.SCOPES_READ_ONLY)


def auth_is_static(spec: JiraTenantSpec) -> bool:
    """API tokens and PATs: nothing to refresh, no OAuth scopes."""
    return spec.auth.oauth is None and spec.auth.service_account is None


def healthy(type_: ConditionType, spec: JiraTenantSpec) -> tuple[Reason, str]:
    """Reason and message of a checked condition that holds."""
    static = auth_is_static(spec)
    return {
        CT.CREDENTIALS_VALID: (Reason.ACCEPTED, "the site accepted the credentials"),
        CT.REACHABLE: (Reason.REACHABLE, f"{spec.site} answered as a Jira site"),
        CT.TOKEN_FRESH: (
            (Reason.NOT_APPLICABLE, "API tokens and PATs are not refreshed; the site is checked instead")
            if static
            else (Reason.FRESH, "the access token is valid")
        ),
        CT.SCOPES_READ_ONLY: (
            (
                Reason.NOT_APPLICABLE,
                "API tokens and PATs carry no OAuth scopes; the client refuses every write regardless",
            )
            if static
            else (Reason.READ_ONLY, "no granted scope can write to Jira")
        ),
    }[type_]


def conditions_from(
    previous: list[dict[str, Any]],
    problems: list[Problem],
    spec: JiraTenantSpec,
    generation: int,
    now: datetime,
) -> list[dict[str, Any]]:
    """The checked conditions: False with the problem's reason, else True (or, for a refreshable
    token whose module has not reported yet, Unknown/Pending)."""
    conditions = list(previous)
    failing = {p.condition: p for p in problems}
    for type_ in CHECKED:
        if type_ in failing:
            p = failing[type_]
            conditions = cond.set_condition(
                conditions, type_, False, p.reason, p.message, generation=generation, now=now
            )
        elif not auth_is_static(spec) and type_ in TOKEN_OWNED:
            if cond.find(conditions, type_) is None:
                conditions = cond.set_condition(
                    conditions,
                    type_,
                    "Unknown",
                    Reason.PENDING,
                    "no token has been obtained yet",
                    generation=generation,
                    now=now,
                )
        else:
            reason, message = healthy(type_, spec)
            conditions = cond.set_condition(conditions, type_, True, reason, message, generation=generation, now=now)
    return conditions


def ready_condition(
    conditions: list[dict[str, Any]], spec: JiraTenantSpec, generation: int, now: datetime
) -> list[dict[str, Any]]:
    """Ready is the first checked condition that does not hold (its reason and message), else True."""
    for type_ in CHECKED:
        c = cond.find(conditions, type_)
        if c is None or c["status"] != "True":
            if type_ == CT.SCOPES_READ_ONLY and spec.auth.allow_write_scopes:
                continue
            reason = c["reason"] if c else Reason.PENDING
            message = c["message"] if c else f"{type_} not checked yet"
            return cond.set_condition(conditions, CT.READY, False, reason, message, generation=generation, now=now)
    message = "paused: no Snapshots are scheduled (spec.paused)" if spec.paused else "snapshots are scheduled"
    reason = Reason.PAUSED if spec.paused else Reason.READY
    return cond.set_condition(conditions, CT.READY, True, reason, message, generation=generation, now=now)
