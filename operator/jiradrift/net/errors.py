"""Refusals of the egress policy (:mod:`jiradrift.net.egress`)."""

from __future__ import annotations


def refusal_of(exc: BaseException | None) -> AddressRefused | None:
    """The egress refusal behind a transport error (httpx wraps it in its own errors), or None."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, AddressRefused):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


class AddressRefused(Exception):
    """A host name resolved to an address credentials may not go to (private, loopback,
    link-local, reserved): refused before connecting, never retried."""

    def __init__(self, host: str, why: str, allowed: tuple[object, ...] = (), what: str = "") -> None:
        self.host = host
        self.why = why
        self.allowed = allowed
        self.what = what  # what the host is, when not the request's own host: "the proxy (HTTPS_PROXY)"
        networks = ", ".join(str(n) for n in allowed) or "none"
        super().__init__(
            f"refused to connect to {what + ' ' if what else ''}{host}: it {why}; credentials only go to "
            "public addresses unless the "
            f"cluster admin allows the network (Helm value allowedNetworks, JIRADRIFT_ALLOWED_CIDRS; "
            f"allowed now: {networks}). If the name should be public, its DNS answer is wrong or hostile"
        )
