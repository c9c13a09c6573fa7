"""Where credentials may go: the cluster admin's host allowlist, and what is never allowed.

    allowlist = HostAllowlist.parse("*.atlassian.net,api.atlassian.com,auth.atlassian.com")
    allowlist.check("https://acme.atlassian.net", "spec.site")     # returns None
    allowlist.check("https://169.254.169.254", "spec.site")        # raises HostRefused

A JiraTenant author is not the cluster admin, so every URL a tenant names (``spec.site``,
``spec.apiGateway``, ``spec.auth.*.tokenUrl``) must pass :meth:`HostAllowlist.check` before a
Secret is read or a credential is sent. The allowlist comes from the operator's
``--allowed-hosts`` (the chart's ``allowedHosts`` value), never from a tenant.

Entries are exact host names (``api.atlassian.com``) or ``*.`` suffix wildcards (``*.atlassian.net``
matches ``acme.atlassian.net`` and ``a.b.atlassian.net``, not ``atlassian.net``). Whatever the list
says, these are refused:

- IP literals, except loopback when the list names it exactly (the emulator and tests:
  ``127.0.0.1``, ``::1``, ``localhost``); link-local (``169.254.0.0/16``, the cloud metadata
  address), private, shared, multicast and unspecified addresses always;
- cluster-internal names: a single label (``kubernetes``), ``*.svc``, ``*.cluster.local``,
  ``*.local``, ``*.internal``, ``*.localhost``;
- non-canonical URLs (an upper-case host, a default port such as ``:443``, user info, a query or
  fragment): the client compares origins exactly, so these would fail later as a foreign host.
- plain http, except to an allowed loopback host.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_ALLOWED_HOSTS: tuple[str, ...] = ("*.atlassian.net", "api.atlassian.com", "auth.atlassian.com")
"""Atlassian Cloud: sites, the API gateway (OAuth / service accounts) and the token endpoint."""

ALLOWED_HOSTS_ENV = "JIRADRIFT_ALLOWED_HOSTS"
"""Environment variable behind ``--allowed-hosts`` of ``jiradrift run`` and ``jiradrift refresh-tokens``."""

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
INTERNAL_SUFFIXES = (".svc", ".cluster.local", ".local", ".internal", ".localhost")
_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_HOST = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")
_DEFAULT_PORTS = {"https": 443, "http": 80}


class HostRefused(ValueError):
    """A URL names a host credentials may not go to; ``reason`` is the stable condition reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def is_loopback(host: str) -> bool:
    address = _ip(host)
    return host == "localhost" or (address is not None and address.is_loopback)


def internal_reason(host: str) -> str | None:
    """Why ``host`` (lower-case, no port) is never a place for credentials, or None."""
    address = _ip(host)
    if address is not None:
        if address.is_loopback:
            return None  # decided by the allowlist: only when named exactly
        if address.is_link_local:
            return "a link-local address (such as the cloud metadata service 169.254.169.254)"
        if address.is_private or address.is_multicast or address.is_unspecified or address.is_reserved:
            return "a private, cluster-internal or reserved address"
        return "an IP address; name the host instead"
    if host == "localhost":
        return None
    if "." not in host:
        return "a single-label name, which resolves to a cluster-internal Service"
    if host.endswith(INTERNAL_SUFFIXES):
        return "a cluster-internal name"
    return None


def canonical_url(url: str) -> str:
    """``https://Acme.atlassian.net:443/`` -> ``https://acme.atlassian.net`` (the form the client uses)."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(parts.scheme.lower()):
        netloc += f":{parts.port}"
    return f"{parts.scheme.lower()}://{netloc}{parts.path.rstrip('/')}"


@dataclass(frozen=True)
class HostAllowlist:
    """The hosts credentials may be sent to. Build with :meth:`parse`; immutable."""

    entries: tuple[str, ...] = DEFAULT_ALLOWED_HOSTS

    @classmethod
    def parse(cls, spec: str | Iterable[str]) -> HostAllowlist:
        """Comma/space-separated text or an iterable of entries; raises ValueError naming a bad entry."""
        items = re.split(r"[\s,]+", spec) if isinstance(spec, str) else list(spec)
        entries: list[str] = []
        for raw in items:
            entry = raw.strip().lower().strip("[]")
            if not entry:
                continue
            host = entry[2:] if entry.startswith("*.") else entry
            if entry in LOOPBACK_NAMES:
                entries.append(entry)
                continue
            if not _HOST.match(host) or _ip(host) is not None:
                raise ValueError(
                    f"allowed host {raw!r} is not a host name or '*.' wildcard such as *.atlassian.net "
                    "(IP addresses other than loopback are never allowed)"
                )
            why = internal_reason(host)
            if why:
                raise ValueError(f"allowed host {raw!r} is {why}; credentials are never sent there")
            if entry.startswith("*.") and "." not in host:
                raise ValueError(f"allowed host {raw!r} is too wide: use at least two labels, e.g. *.atlassian.net")
            entries.append(entry)
        if not entries:
            raise ValueError("the host allowlist is empty; name at least one host, e.g. *.atlassian.net")
        return cls(tuple(dict.fromkeys(entries)))

    def __str__(self) -> str:
        return ",".join(self.entries)

    def allows_host(self, host: str) -> bool:
        host = host.lower()
        for entry in self.entries:
            if entry.startswith("*."):
                if host.endswith(entry[1:]) and _ip(host) is None:
                    return True
            elif host == entry:
                return True
        return False

    def check(self, url: str, field: str) -> None:
        """Raise :class:`HostRefused` unless credentials may be sent to ``url`` (named by ``field``)."""
        fix = (
            "ask the cluster admin to add the host to the operator's allowedHosts (Helm value) if it is a "
            "Jira site you trust"
        )
        parts = urlsplit(url.strip())
        try:
            port = parts.port
        except ValueError:
            port = -1
        host = parts.hostname or ""
        if parts.scheme not in ("http", "https") or not host or port == -1:
            raise HostRefused("InvalidURL", f"{field} {url!r} is not an https URL; use e.g. https://acme.atlassian.net")
        canonical = canonical_url(url)
        if (
            parts.username is not None
            or parts.query
            or parts.fragment
            or url.strip().rstrip("/") != canonical
            or url != url.strip()
        ):
            raise HostRefused(
                "NonCanonicalURL",
                f"{field} {url!r} is not in canonical form (lower-case host, no default port, no user info, "
                f"query or fragment); write {canonical!r}",
            )
        why = internal_reason(host)
        if why:
            raise HostRefused(
                "HostNotAllowed",
                f"{field} {url!r} names {why}; credentials are never sent there whatever the allowlist says. "
                "Use the site's public https host name",
            )
        if not self.allows_host(host):
            raise HostRefused(
                "HostNotAllowed",
                f"{field} {url!r}: host {host} is not on the operator's host allowlist ({self}); {fix}",
            )
        if parts.scheme == "http" and not is_loopback(host):
            raise HostRefused(
                "InsecureURL", f"{field} {url!r} uses plain http; credentials would travel unencrypted. Use https"
            )
