"""Refusals of the egress policy (:mod:`jiradrift.net.egress`)."""

from __future__ import annotations


class AddressRefused(Exception):
    """A host name resolved to an address credentials may not go to (private, loopback,
    link-local, reserved): refused before connecting, never retried."""

    def __init__(self, host: str, why: str, allowed: tuple[object, ...] = ()) -> None:
        self.host = host
        self.why = why
        self.allowed = allowed
        networks = ", ".join(str(n) for n in allowed) or "none"
        super().__init__(
            f"refused to connect to {host}: it {why}; credentials only go to public addresses unless the "
            f"cluster admin allows the network (Helm value allowedNetworks, JIRADRIFT_ALLOWED_CIDRS; "
            f"allowed now: {networks}). If the name should be public, its DNS answer is wrong or hostile"
        )
