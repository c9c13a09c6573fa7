"""Where a connection may go once the host name passed the allowlist: the addresses the name resolves to.

:class:`~jiradrift.net.hosts.HostAllowlist` checks names. A name is only as good as the DNS answer
for it: an allowed name whose answer is a private, loopback or link-local address (a DNS server the
cluster admin does not control, or rebinding between two lookups) would reach the cloud metadata
service or a cluster-internal Service. So every connection a tenant can steer resolves the name once,
checks **every** address of the answer against :class:`AddressPolicy`, and connects to the addresses
that were checked, never to a second lookup. TLS still verifies the certificate for the name (SNI
and ``Host`` stay the name).

Refused unless the cluster admin allows their network (``JIRADRIFT_ALLOWED_CIDRS``, the chart's
``allowedNetworks``): every address that is not globally routable (private, loopback, link-local,
shared ``100.64.0.0/10``, reserved, documentation ranges) and multicast. Two exceptions, both
already decided by the name allowlist: an IP literal host (no lookup happens; the allowlist refuses
every literal but loopback named exactly) and ``localhost`` resolving to loopback (the allowlist
admits it only when named exactly, as the emulator and the tests do).

One hook into the HTTP stack, connecting to the checked address: :class:`CheckedResolver`, the
resolver of :class:`jiradrift.net.transport.AiohttpTransport`, the one adapter every outbound client
sends through (the Jira client, the token endpoint, notifications, the S3 store and STS).

The S3 endpoint and the STS endpoint are set by the admin, not by a tenant, but they get the same
check: a DNS answer is no more trustworthy for them, and the S3 client carries the store's
credentials. A proxy from the environment (``HTTPS_PROXY``) is checked the same way when it is
connected to: its network must be public or allowed (:data:`PROXY` names it in the refusal).
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import os
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

from aiohttp.abc import AbstractResolver, ResolveResult

from jiradrift.net.errors import AddressRefused

ALLOWED_CIDRS_ENV = "JIRADRIFT_ALLOWED_CIDRS"
"""Networks (comma-separated CIDRs) that names may resolve into though they are not public: set by
the cluster admin (the chart's ``allowedNetworks``), e.g. a Jira Data Center site on a private
network. Never set by a tenant."""

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolve = Callable[[str, int], Awaitable[Sequence[str]]]
"""``(host, port) -> addresses``: how names are looked up; tests inject their own answers."""


async def system_resolve(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives for ``host`` (one lookup), in its order, without repeats."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _kind(address: Address) -> str:
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local (such as the cloud metadata service 169.254.169.254)"
    if address.is_multicast:
        return "multicast"
    if address.is_private:
        return "private"
    return "reserved or not publicly routable"


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


@dataclass(frozen=True)
class AddressPolicy:
    """Which resolved addresses a connection may use. Build with :meth:`parse` or :meth:`from_env`."""

    allowed_networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, spec: str | Iterable[str]) -> AddressPolicy:
        """Comma/space-separated CIDRs (or an iterable of them); raises ValueError naming a bad one."""
        items = spec.replace(",", " ").split() if isinstance(spec, str) else list(spec)
        networks: list[Network] = []
        for raw in items:
            try:
                networks.append(ipaddress.ip_network(raw.strip(), strict=False))
            except ValueError:
                raise ValueError(
                    f"allowed network {raw!r} is not a CIDR such as 10.20.0.0/16 ({ALLOWED_CIDRS_ENV}, "
                    "the chart's allowedNetworks)"
                ) from None
        return cls(tuple(networks))

    @classmethod
    def from_env(cls) -> AddressPolicy:
        return cls.parse(os.environ.get(ALLOWED_CIDRS_ENV, ""))

    def refusal(self, host: str, address: str) -> str | None:
        """Why ``host`` may not be reached at ``address``, or None."""
        ip = _literal(address)
        if ip is None:
            return f"resolved to {address!r}, which is not an IP address"
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1 (older Pythons call it global)
        if any(ip in network for network in self.allowed_networks if network.version == ip.version):
            return None
        if host.lower().rstrip(".") == "localhost" and ip.is_loopback:
            return None  # admitted by name only when the allowlist names localhost exactly
        if ip.is_global and not ip.is_multicast:
            return None
        return f"resolves to {ip}, a {_kind(ip)} address"

    def check(self, host: str, addresses: Sequence[str], what: str = "") -> list[str]:
        """``addresses`` if every one may be used for ``host``; else :class:`AddressRefused` (one bad
        address in an answer refuses the whole answer: a mixed answer is how rebinding starts).
        ``what`` names the host in the refusal when it is not the request's own (a proxy)."""
        if not addresses:
            raise AddressRefused(host, "resolves to no address", what=what)
        for address in addresses:
            why = self.refusal(host, address)
            if why:
                raise AddressRefused(host, why, self.allowed_networks, what)
        return list(addresses)


@functools.cache
def default_policy() -> AddressPolicy:
    """The process's policy, from ``JIRADRIFT_ALLOWED_CIDRS`` (read once)."""
    return AddressPolicy.from_env()


class CheckedResolver(AbstractResolver):
    """An aiohttp resolver that looks a name up once and answers only addresses the policy allows.

    aiohttp connects to exactly the addresses a resolver returns (and caches them as they are), with
    the name kept for SNI, ``Host`` and certificate verification. IP literals never reach a resolver."""

    def __init__(self, policy: AddressPolicy | None = None, resolve: Resolve | None = None) -> None:
        self._policy = policy
        self._resolve = resolve or system_resolve

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        policy = self._policy or default_policy()
        addresses = policy.check(host, await self._resolve(host, port))
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in addresses
        ]

    async def close(self) -> None:
        return None


PROXY = "the proxy (HTTPS_PROXY / HTTP_PROXY / ALL_PROXY)"
"""How a refusal names a proxy from the environment."""
