"""Every error the token lifecycle raises, in one hierarchy.

Each message names the tenant or Secret, what was expected and what to do. None of them ever
carries a token: they end up in logs, Events and status conditions.
"""

from __future__ import annotations


class TokenError(Exception):
    """Base class: the tenant has no usable access token right now.

    ``reason`` is the stable CamelCase reason used for the ``TokenFresh`` condition.
    """

    reason = "TokenUnavailable"

    def __init__(self, tenant: str, message: str) -> None:
        self.tenant = tenant
        self.message = message
        super().__init__(f"JiraTenant {tenant}: {message}")


class UnsupportedAuth(TokenError):
    """The tenant authenticates with an API token or PAT (nothing to refresh) or has no auth at all."""

    reason = "NotRefreshable"


class SecretNotFound(TokenError):
    reason = "SecretNotFound"

    def __init__(self, tenant: str, namespace: str, secret: str) -> None:
        super().__init__(
            tenant,
            f"Secret {namespace}/{secret} named in spec.auth does not exist; create it with "
            f"`jiradrift auth login --tenant {tenant.rpartition('/')[2]} -n {namespace}` (oauth) or "
            f"`kubectl create secret generic {secret} "
            "--from-literal=client_id=... --from-literal=client_secret=...` (serviceAccount)",
        )


class MalformedSecret(TokenError):
    """The Secret exists but a key is missing or unreadable; no refresh is attempted."""

    reason = "MalformedSecret"

    def __init__(self, tenant: str, namespace: str, secret: str, problem: str) -> None:
        self.problem = problem
        super().__init__(tenant, f"Secret {namespace}/{secret} is unusable: {problem}")


class ReauthorizationPending(TokenError):
    """The grant was revoked (invalid_grant / unauthorized_client) and the Secret has not changed since.

    Terminal until a person re-authorises: nothing retries while the credentials stay the same.
    """

    reason = "ReauthorizationRequired"


class RefreshFailed(TokenError):
    """The token endpoint could not be used this time (network, 5xx, 429); a later run may succeed."""

    reason = "RefreshFailed"


class SecretConflict(TokenError):
    """Someone else kept rewriting the Secret while we tried to persist a rotation."""

    reason = "SecretConflict"


class LeaseUnavailable(TokenError):
    """Another refresher held the tenant's refresh Lease for longer than we were willing to wait."""

    reason = "RefreshInProgress"


class WriteScopesRefused(TokenError):
    """The token could write to Jira and ``spec.auth.allowWriteScopes`` is not true: captures are refused."""

    reason = "WriteScopesGranted"


class SecretNotOptedIn(TokenError):
    """The Secret does not list the tenant in ``jiradrift.io/allowed-tenants``: it is neither used nor written."""

    reason = "SecretNotOptedIn"


class TokenHostRefused(TokenError):
    """The tenant's tokenUrl is not on the cluster admin's host allowlist: no credential is posted there."""

    def __init__(self, tenant: str, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(tenant, message)
