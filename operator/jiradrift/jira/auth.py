"""Credentials and the base URL form each one needs.

| auth            | header                 | API base                                              |
|-----------------|------------------------|-------------------------------------------------------|
| ApiTokenAuth    | Basic email:api_token  | ``<site>/rest/api/3``                                 |
| OAuthAuth (3LO) | Bearer access token    | ``<gateway>/ex/jira/<cloudId>/rest/api/3``            |
| ServiceAccount  | Bearer (client creds)  | ``<gateway>/ex/jira/<cloudId>/rest/api/3``            |
| PatAuth (DC)    | Bearer PAT             | ``<site>/rest/api/2``                                 |
"""

from __future__ import annotations

import base64
import ipaddress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from jiradrift.jira.errors import ConfigurationError
from jiradrift.net.hosts import canonical_url

DEFAULT_GATEWAY = "https://api.atlassian.com"


@dataclass(frozen=True)
class ApiTokenAuth:
    """Jira Cloud: Atlassian account email plus API token, sent as HTTP basic auth."""

    email: str
    api_token: str = field(repr=False)

    def header(self) -> str:
        raw = f"{self.email}:{self.api_token}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True)
class OAuthAuth:
    """Jira Cloud OAuth 2.0 (3LO): an access token obtained and refreshed elsewhere (jira.oauth)."""

    access_token: str = field(repr=False)

    def header(self) -> str:
        return f"Bearer {self.access_token}"


@dataclass(frozen=True)
class ServiceAccountAuth:
    """Jira Cloud service account OAuth 2.0 client credentials; the client mints (and re-mints) tokens."""

    client_id: str
    client_secret: str = field(repr=False)
    scope: str | None = None


@dataclass(frozen=True)
class PatAuth:
    """Jira Data Center personal access token, sent as a bearer token (never as basic auth)."""

    token: str = field(repr=False)

    def header(self) -> str:
        return f"Bearer {self.token}"


Credentials = ApiTokenAuth | OAuthAuth | ServiceAccountAuth | PatAuth


def uses_gateway(credentials: Credentials) -> bool:
    return isinstance(credentials, OAuthAuth | ServiceAccountAuth)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def normalise_origin(url: str, what: str) -> str:
    """``https://x.atlassian.net/rest/api/3/`` -> ``https://x.atlassian.net``; http only for loopback.

    A context path (Data Center ``https://host/jira``) is kept.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"{what} {url!r} is not an http(s) URL; use e.g. https://your-site.atlassian.net")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigurationError(
            f"{what} {url!r} uses plain http; credentials would travel unencrypted. Use https "
            "(http is accepted only for loopback test servers)"
        )
    # The canonical origin (lower-case host, no default port): what httpx puts on the wire, so the
    # client's foreign-host check compares like with like.
    canonical = canonical_url(f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}")
    path = parts.path.rstrip("/")
    for suffix in ("/rest/api/3", "/rest/api/2"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
    return f"{canonical}{path}"


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def api_base(site: str, credentials: Credentials, *, cloud_id: str | None, gateway: str = DEFAULT_GATEWAY) -> str:
    """The REST API root for these credentials (see the module table)."""
    if isinstance(credentials, PatAuth):
        return f"{normalise_origin(site, 'site URL')}/rest/api/2"
    if isinstance(credentials, ApiTokenAuth):
        return f"{normalise_origin(site, 'site URL')}/rest/api/3"
    if not cloud_id:
        raise ConfigurationError("OAuth and service-account access go through the gateway and need the cloudId")
    return f"{normalise_origin(gateway, 'gateway URL')}/ex/jira/{cloud_id}/rest/api/3"
