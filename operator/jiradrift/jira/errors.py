"""Every error the Jira layer raises, in one hierarchy.

Messages name the endpoint (method and path), what was expected, and what to do, so a
status condition or a log line is actionable without reading the code.
"""

from __future__ import annotations

from jiradrift.net import errors as net_errors


class JiraError(Exception):
    """Base class: anything that went wrong talking to Jira or its token endpoint."""


class ConfigurationError(JiraError):
    """The client was configured with something unusable (a bad URL, a missing credential)."""


class WriteRefused(JiraError):
    """A request that could change Jira was attempted; it was refused before a byte was sent."""

    def __init__(self, method: str, url: str) -> None:
        self.method = method
        self.url = url
        super().__init__(
            f"refused {method} {url}: jiradrift is read-only towards Jira and only sends GET, plus POST to "
            "the allowlisted bulk-read endpoints (/workflows, /workflows/preview, /workflowscheme/read, "
            "/field/{id}/context/mapping, /permissions/project, /permissions/check, "
            "/priorityscheme/mappings). This is a bug in the caller, not a Jira problem."
        )


class ForeignHostRefused(JiraError):
    """A request to a host the client was not configured for; credentials never leave for it."""

    def __init__(self, url: str, allowed: frozenset[str]) -> None:
        self.url = url
        super().__init__(
            f"refused request to {url}: the client only talks to {sorted(allowed)}; "
            "a Jira response pointed elsewhere (check the site URL and gateway URL)"
        )


class AddressRefused(JiraError, net_errors.AddressRefused):
    """The egress policy refused the address a Jira host resolved to (:mod:`jiradrift.net.egress`):
    refused before connecting, never retried. A :class:`JiraError`, so a capture treats it like
    every other failure of the site."""

    @classmethod
    def of(cls, refusal: net_errors.AddressRefused) -> AddressRefused:
        return cls(refusal.host, refusal.why, refusal.allowed, refusal.what)


class JiraHTTPError(JiraError):
    """Jira answered with an error status."""

    hint = "see the Jira error detail above"

    def __init__(self, status: int, method: str, url: str, detail: str, hint: str | None = None) -> None:
        self.status = status
        self.method = method
        self.url = url
        self.detail = detail
        super().__init__(f"{method} {url} -> HTTP {status}: {detail or '(no detail)'}; {hint or self.hint}")


class BadRequest(JiraHTTPError):
    hint = "Jira rejected the request parameters; the endpoint may not support them on this site"


class AuthenticationFailed(JiraHTTPError):
    hint = (
        "the credentials were rejected: check the email/API token, that the OAuth token has not expired, "
        "or that the PAT is still valid, then update the Secret"
    )


class PermissionDenied(JiraHTTPError):
    hint = (
        "the account lacks permission: most configuration reads need the 'Administer Jira' global "
        "permission and the matching read scope"
    )


class NotFound(JiraHTTPError):
    hint = "the object or endpoint does not exist on this site (it may have been deleted, or the site is Data Center)"


class RateLimited(JiraHTTPError):
    hint = "Jira kept answering 429 after all retries: lower rateLimit.requestsPerSecond / maxConcurrency"


class ServerError(JiraHTTPError):
    hint = "Jira failed without Retry-After, so the read was not retried; try the snapshot again later"


class JiraTimeout(JiraError):
    """No response within the timeout, after all retries."""

    def __init__(self, method: str, url: str, attempts: int) -> None:
        self.method = method
        self.url = url
        super().__init__(
            f"{method} {url} timed out {attempts} time(s); the site is slow or unreachable: "
            "raise the timeout or check connectivity"
        )


class JiraUnreachable(JiraError):
    """The connection failed (DNS, refused, reset), after all retries."""

    def __init__(self, method: str, url: str, cause: str) -> None:
        self.method = method
        self.url = url
        super().__init__(f"{method} {url} failed: {cause}; check the site URL and network access")


class MalformedResponse(JiraError):
    """Jira answered 2xx but the body was not the JSON expected (truncated, HTML, wrong shape)."""

    def __init__(self, method: str, url: str, problem: str) -> None:
        self.method = method
        self.url = url
        super().__init__(
            f"{method} {url} returned an unusable body: {problem}; retrying later usually helps, "
            "otherwise report the endpoint"
        )


class SiteMisbehaved(JiraError):
    """The site sent what no Jira sends -- a runaway body, nesting, listing or wait -- so the read was
    abandoned rather than let one site stall or exhaust the operator. Never retried."""

    limit_hint = "the site (or whatever answers at its URL) is broken or hostile"

    def __init__(self, method: str, url: str, what: str) -> None:
        self.method = method
        self.url = url
        self.what = what
        super().__init__(f"{method} {url}: {what}; {self.limit_hint}")


class ResponseTooLarge(SiteMisbehaved):
    limit_hint = (
        "no Jira configuration response is that big, so the site is broken or hostile "
        "(if it is a genuine Jira, raise the response size limit)"
    )


class ResponseTooDeep(SiteMisbehaved):
    limit_hint = "Jira configuration nests far less, so the site is broken or hostile"


class DeadlineExceeded(SiteMisbehaved):
    limit_hint = (
        "the site is trickling its answer or hanging; if it is a genuine but slow Jira, raise the request deadline"
    )


class RunawayListing(SiteMisbehaved):
    limit_hint = "the listing would never end, so it was abandoned and the snapshot is incomplete"


class MemoryBudgetExceeded(SiteMisbehaved):
    limit_hint = (
        "responses in flight across all tenants filled the process's response memory budget "
        "(--max-inflight-bytes); no genuine Jira sends pages that large, so a site is sending huge bodies"
    )


class CaptureLimitExceeded(SiteMisbehaved):
    limit_hint = (
        "the capture as a whole passed its bound, so it was stopped and the snapshot is incomplete; "
        "if the site is genuine and that large, raise the capture limits (--max-capture-pages, "
        "--max-capture-items, --capture-deadline)"
    )


class WaitTooLong(SiteMisbehaved):
    limit_hint = "the request was abandoned instead of waiting; the snapshot is incomplete and is retried later"


class DiscoveryError(JiraError):
    """The cloudId of a site could not be determined."""


class OAuthError(JiraError):
    """The token endpoint refused a request."""

    def __init__(self, error: str, description: str, status: int, hint: str = "") -> None:
        self.error = error
        self.description = description
        self.status = status
        super().__init__(
            f"token endpoint answered HTTP {status} {error}: {description or '(no description)'}"
            + (f"; {hint}" if hint else "")
        )


class ReauthorizationRequired(OAuthError):
    """Terminal: the grant is gone (invalid_grant / unauthorized_client). Never retry with the same token."""

    def __init__(self, error: str, description: str, status: int) -> None:
        super().__init__(
            error,
            description,
            status,
            hint="the refresh token or client credentials are no longer valid; a user must re-authorise the "
            "app (or a new service-account credential must be issued) and the Secret updated",
        )
