"""Open a read-only Jira client for a JiraTenant, and turn Jira failures into condition reasons."""

from __future__ import annotations

from datetime import timedelta

from jiradrift.api.conditions import ConditionType, Problem, Reason, ReconcileError
from jiradrift.api.credentials import TenantSecret, check_tenant_urls, read_tenant_secret
from jiradrift.api.resources import JiraTenant, JiraTenantSpec
from jiradrift.handlers import metrics
from jiradrift.handlers.context import OperatorContext
from jiradrift.jira import errors as jira_errors
from jiradrift.jira.auth import ApiTokenAuth, Credentials, OAuthAuth, PatAuth
from jiradrift.jira.budget import ByteBudget, ItemBudget
from jiradrift.jira.client import ClientSettings, JiraClient
from jiradrift.jira.limits import DEFAULT_LIMITS, ResponseLimits
from jiradrift.jira.probe import probe_settings
from jiradrift.redact import redact
from jiradrift.tokens import ensure_fresh_token
from jiradrift.tokens.errors import TokenError


async def credentials_for(ctx: OperatorContext, tenant: JiraTenant) -> tuple[Credentials, TenantSecret]:
    """Read the Secret (and for OAuth / service accounts make sure the access token is fresh).

    Both token kinds go through ``jiradrift.tokens`` -- the same code the CronJob runs -- so the
    Secret, the refresh Lease and the tenant's TokenFresh / ScopesReadOnly status stay in one place.
    """
    namespace, name, spec = tenant.metadata.namespace, tenant.metadata.name, tenant.spec
    check_tenant_urls(ctx.settings.allowed_hosts, spec)  # before the Secret is even read
    secret = await read_tenant_secret(ctx.kube, namespace, name, spec)
    data = secret.data
    if secret.method == "apiToken":
        return ApiTokenAuth(email=data["email"], api_token=data["token"]), secret
    if secret.method == "pat":
        return PatAuth(token=data["token"]), secret
    try:
        state = await ensure_fresh_token(
            ctx.kube,
            tenant,
            window=timedelta(seconds=ctx.settings.token_window_seconds),
            allowlist=ctx.settings.allowed_hosts,
        )
    except TokenError as exc:
        metrics.TOKEN_REFRESH_FAILURES.labels(namespace, name, exc.reason).inc()
        raise
    return OAuthAuth(access_token=state.access_token), secret


def token_url(spec: JiraTenantSpec) -> str:
    auth = spec.auth.oauth or spec.auth.service_account
    return auth.token_url if auth else "https://auth.atlassian.com/oauth/token"


async def open_client(
    spec: JiraTenantSpec,
    credentials: Credentials,
    *,
    probe: bool = False,
    limits: ResponseLimits = DEFAULT_LIMITS,
    budget: ByteBudget | None = None,
    items: ItemBudget | None = None,
) -> JiraClient:
    """A client honouring the tenant's rate limits and the operator's ``limits`` on what a site may
    cost, taking its responses' memory from the process's ``budget`` and its captures' manifest
    items from ``items``. ``probe``: a quick health check that gives up after one short retry, so a
    dead site costs the reconciler seconds, not minutes of backoff."""
    settings = ClientSettings(
        max_concurrency=spec.rate_limit.max_concurrency,
        requests_per_second=spec.rate_limit.requests_per_second,
        endpoint_requests_per_second=ENDPOINT_REQUESTS_PER_SECOND,
        limits=limits,
        budget=budget,
        items=items,
    )
    if probe:
        settings = probe_settings(settings)
    return await JiraClient.connect(
        spec.site,
        credentials,
        cloud_id=spec.cloud_id,
        gateway=spec.api_gateway,
        token_url=token_url(spec),
        settings=settings,
    )


# Jira Cloud's burst limit is 100 GET/s per endpoint (jira-api.md 3.1); stay below it.
ENDPOINT_REQUESTS_PER_SECOND = 80.0

# The condition a token error falsifies (TokenFresh unless listed).
TOKEN_CONDITION: dict[str, ConditionType] = {
    Reason.WRITE_SCOPES_GRANTED: ConditionType.SCOPES_READ_ONLY,
    Reason.SECRET_NOT_FOUND: ConditionType.CREDENTIALS_VALID,
    Reason.MALFORMED_SECRET: ConditionType.CREDENTIALS_VALID,
    Reason.SECRET_NOT_OPTED_IN: ConditionType.CREDENTIALS_VALID,
    Reason.HOST_NOT_ALLOWED: ConditionType.CREDENTIALS_VALID,
    Reason.NON_CANONICAL_URL: ConditionType.CREDENTIALS_VALID,
    Reason.INSECURE_URL: ConditionType.CREDENTIALS_VALID,
    Reason.INVALID_URL: ConditionType.CREDENTIALS_VALID,
}

CV, RE, TF = ConditionType.CREDENTIALS_VALID, ConditionType.REACHABLE, ConditionType.TOKEN_FRESH


def classify(exc: BaseException, spec: JiraTenantSpec) -> Problem:
    """Any failure -> the condition it falsifies, its reason and a message that says what to fix.

    The one place errors become status: our own errors carry their condition (:class:`ReconcileError`),
    token errors their reason, Jira errors are mapped here.
    """

    site = spec.site
    if isinstance(exc, ReconcileError):
        return exc.problem
    if isinstance(exc, TokenError):
        return Problem(TOKEN_CONDITION.get(exc.reason, TF), exc.reason, str(exc))
    if isinstance(exc, jira_errors.AuthenticationFailed):
        return Problem(
            CV,
            Reason.CREDENTIALS_REJECTED,
            f"{site} rejected the credentials (401); check the Secret's values or re-create the token",
        )
    if isinstance(exc, jira_errors.PermissionDenied):
        return Problem(
            CV,
            Reason.PERMISSION_DENIED,
            f"{site} refused access (403): the account needs the Administer Jira permission and the read scopes",
        )
    if isinstance(exc, jira_errors.ReauthorizationRequired):
        return Problem(
            TF,
            Reason.REAUTHORIZATION_REQUIRED,
            f"the OAuth grant was revoked or expired ({exc}); run `jiradrift auth login --tenant NAME -n NAMESPACE`",
        )
    if isinstance(exc, jira_errors.AddressRefused):
        return Problem(RE, Reason.HOST_NOT_ALLOWED, str(exc))
    if isinstance(exc, jira_errors.OAuthError):
        return Problem(CV, Reason.TOKEN_REQUEST_FAILED, f"the token endpoint refused: {exc}")
    if isinstance(exc, jira_errors.WaitTooLong):
        return Problem(RE, Reason.RATE_LIMITED, f"{site} is rate limiting us: {exc}")
    if isinstance(exc, jira_errors.SiteMisbehaved):
        return Problem(RE, Reason.SITE_MISBEHAVED, f"{site} answered like no Jira does: {exc}")
    if isinstance(exc, TimeoutError):
        return Problem(RE, Reason.TIMEOUT, f"{site} did not finish answering in time; check the site")
    if isinstance(exc, jira_errors.MalformedResponse):
        return Problem(
            RE,
            Reason.NOT_JIRA,
            f"{site} answered but not like Jira ({exc}); check spec.site points at a Jira site",
        )
    if isinstance(exc, jira_errors.NotFound):
        return Problem(RE, Reason.NOT_JIRA, f"{site} has no Jira REST API ({exc}); check spec.site")
    if isinstance(exc, jira_errors.JiraUnreachable | jira_errors.JiraTimeout):
        return Problem(RE, Reason.UNREACHABLE, f"cannot reach {site}: {exc}")
    if isinstance(exc, jira_errors.DiscoveryError):
        return Problem(RE, Reason.CLOUD_ID_UNKNOWN, f"{exc}; or set spec.cloudId")
    if isinstance(exc, jira_errors.RateLimited):
        return Problem(RE, Reason.RATE_LIMITED, f"{site} is rate limiting us: {exc}")
    if isinstance(exc, jira_errors.JiraHTTPError):
        return Problem(RE, Reason.JIRA_ERROR, f"{site}: {exc}")
    if isinstance(exc, jira_errors.ConfigurationError):
        return Problem(RE, Reason.INVALID_SITE, str(exc))
    return Problem(RE, Reason.UNEXPECTED_ERROR, redact(f"{type(exc).__name__}: {exc}"))
