"""Where a notification may go: the webhook URL from an opted-in Secret, checked like a Jira URL.

A webhook URL is a credential (whoever holds it can post) and a place the operator will connect to,
named by a tenant author the cluster admin does not trust. So, before anything is sent:

- the Secret must opt in to the tenant (``jiradrift.io/allowed-tenants``, as for Jira credentials),
  so a tenant cannot make the operator read (and post to) any URL kept in another workload's Secret;
- the URL is https (http only to loopback when the allowlist names it: tests and local receivers),
  has no user info or fragment, names neither an IP address nor a cluster-internal host, and its host
  is on the cluster admin's notification host allowlist (``--notification-hosts``);
- the URL is remembered as a secret, so :func:`jiradrift.redact.redact` removes it from any log,
  status message or Event; messages name the host only (:func:`describe_url`).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from jiradrift.api.credentials import CredentialsProblem, decode_secret_data, read_opted_in_secret
from jiradrift.api.resources import NotificationDestination
from jiradrift.kube.client import Kube
from jiradrift.net.hosts import HostAllowlist, internal_reason, is_loopback
from jiradrift.redact import remember_secrets

DEFAULT_NOTIFICATION_HOSTS: tuple[str, ...] = ("hooks.slack.com", "*.webhook.office.com", "*.logic.azure.com")
"""Slack incoming webhooks, Teams incoming webhooks (Office 365 connectors) and Teams Workflows."""

NOTIFICATION_HOSTS_ENV = "JIRADRIFT_NOTIFICATION_HOSTS"
MAX_URL_CHARS = 2048


class DestinationProblem(Exception):
    """A destination cannot be used as configured; ``reason`` is a stable CamelCase reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def describe_url(url: str) -> str:
    """What a message may show of a webhook URL: the scheme and host, never the path or query."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}/…"


def check_webhook_url(url: str, allowlist: HostAllowlist, field: str) -> None:
    """Raise :class:`DestinationProblem` unless the operator may post to ``url``.

    Unlike a Jira site, a webhook URL keeps its path and query (Teams Workflows put a signature in
    the query), so this checks the parts that decide *where* the request goes."""
    if len(url) > MAX_URL_CHARS or any(c.isspace() or ord(c) < 32 for c in url):
        raise DestinationProblem(
            "InvalidURL", f"{field} is not a URL of at most {MAX_URL_CHARS} characters without spaces"
        )
    parts = urlsplit(url)
    try:
        _ = parts.port
    except ValueError:
        raise DestinationProblem("InvalidURL", f"{field} has an invalid port") from None
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host:
        raise DestinationProblem("InvalidURL", f"{field} is not an https URL; paste the webhook URL as given")
    shown = describe_url(url)
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise DestinationProblem("NonCanonicalURL", f"{field} ({shown}) must not carry user info (@) or a fragment (#)")
    why = internal_reason(host)
    if why:
        raise DestinationProblem("HostNotAllowed", f"{field} ({shown}) names {why}; notifications are never sent there")
    if not allowlist.allows_host(host):
        raise DestinationProblem(
            "HostNotAllowed",
            f"{field} ({shown}): host {host} is not on the operator's notification host allowlist ({allowlist}); "
            "ask the cluster admin to add it to notificationHosts (--notification-hosts) if it is a receiver you trust",
        )
    if parts.scheme == "http" and not is_loopback(host):
        raise DestinationProblem("InsecureURL", f"{field} ({shown}) uses plain http; use the https URL")


async def webhook_url(
    kube: Kube, namespace: str, tenant: str, destination: NotificationDestination, allowlist: HostAllowlist
) -> str:
    """The destination's URL, from a Secret that opts in to ``tenant``, checked by :func:`check_webhook_url`."""
    ref = destination.url_secret_ref
    field = f"Secret {namespace}/{ref.name} key {ref.key} (spec.notifications[{destination.name}].urlSecretRef)"
    try:
        secret = await read_opted_in_secret(
            kube,
            namespace,
            ref.name,
            tenant,
            f"spec.notifications[{destination.name}].urlSecretRef.name",
            f"key {ref.key} holding the webhook URL",
        )
    except CredentialsProblem as exc:
        raise DestinationProblem(exc.reason, exc.message) from None
    url = decode_secret_data(secret).get(ref.key, "")
    if not url:
        raise DestinationProblem("SecretKeyMissing", f"{field} is missing or empty; put the webhook URL there")
    remember_secrets([url])
    check_webhook_url(url, allowlist, field)
    return url
