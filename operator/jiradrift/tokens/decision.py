"""Whether a tenant's token needs refreshing: a pure function of the Secret, the clock and the window.

| Secret                                            | decision                                   |
|---------------------------------------------------|--------------------------------------------|
| absent                                            | fail ``SecretNotFound``                    |
| does not opt in to the tenant (annotation)        | fail ``SecretNotOptedIn`` (nothing sent)   |
| unreadable / a required key missing / bad expiry  | fail ``MalformedSecret``                   |
| the grant was rejected and the Secret is the same | fail ``ReauthorizationRequired`` (no call) |
| no ``access_token`` or no ``expires_at``          | refresh ``NoExpiryRecorded``               |
| expires within the window                         | refresh ``ExpiresWithinWindow``            |
| otherwise                                         | skip ``Fresh``                             |
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from jiradrift.api.credentials import opt_in_message, secret_opts_in
from jiradrift.tokens.secret import AuthKind, SecretFormatError, TokenSecret, format_time, parse_secret


class Action(StrEnum):
    REFRESH = "refresh"
    SKIP = "skip"
    FAIL = "fail"


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str
    message: str
    secret: TokenSecret | None = None


def decide(
    body: dict[str, Any] | None,
    kind: AuthKind,
    *,
    now: datetime,
    window: timedelta,
    secret_ref: str = "",
    tenant: str | None = None,
) -> Decision:
    """Decide for the Secret ``body`` (the API server's JSON, or ``None`` when it does not exist).

    ``tenant``: the JiraTenant's name; the Secret must opt in to it (``jiradrift.io/allowed-tenants``)
    or nothing is sent to the token endpoint and nothing is written back.
    """
    if body is None:
        return Decision(Action.FAIL, "SecretNotFound", f"Secret {secret_ref} does not exist")
    meta = body.get("metadata") or {}
    if tenant is not None and not secret_opts_in(meta.get("annotations"), tenant):
        message = opt_in_message(
            str(meta.get("namespace", "")), str(meta.get("name", "")), tenant, meta.get("annotations")
        )
        return Decision(Action.FAIL, "SecretNotOptedIn", message)
    try:
        secret = parse_secret(body, kind)
    except SecretFormatError as exc:
        return Decision(Action.FAIL, "MalformedSecret", str(exc))
    if secret.awaiting_reauthorization:
        return Decision(
            Action.FAIL,
            "ReauthorizationRequired",
            "the token endpoint rejected these credentials as revoked; nothing is retried until the "
            "Secret changes (run `jiradrift auth login` or issue new service-account credentials)",
            secret,
        )
    if secret.access_token is None or secret.expires_at is None:
        return Decision(Action.REFRESH, "NoExpiryRecorded", "no access token expiry recorded", secret)
    remaining = secret.expires_at - now
    if remaining <= window:
        state = "expired" if remaining <= timedelta(0) else "expires"
        return Decision(
            Action.REFRESH,
            "ExpiresWithinWindow",
            f"access token {state} at {format_time(secret.expires_at)}, within the {_duration(window)} window",
            secret,
        )
    return Decision(
        Action.SKIP,
        "Fresh",
        f"access token valid until {format_time(secret.expires_at)}, beyond the {_duration(window)} window",
        secret,
    )


def _duration(window: timedelta) -> str:
    seconds = int(window.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = "".join(f"{v}{u}" for v, u in ((hours, "h"), (minutes, "m"), (secs, "s")) if v)
    return text or "0s"
