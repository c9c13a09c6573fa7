"""Which replica owns which tenant: rendezvous hashing with bounded loads, and who is alive.

    members = live_members(observations, now=time.monotonic(), duration_seconds=15)
    owners = assign(members, ["team-a/acme", "team-b/globex", ...])   # {tenant: member}

Every replica computes the same answer from the same inputs (the live members, from their
membership Leases, and the tenants, from its watch), so no replica tells another what to do.

- **Rendezvous (highest random weight) hashing**: each tenant ranks the members by
  ``hash(member, tenant)`` and goes to the first. A member that joins takes only the tenants that
  now rank it first (about 1/N of them); one that leaves gives up only its own.
- **Bounded loads** (Mirrokni, Thorup, Zadimoghaddam, "Consistent Hashing with Bounded Loads"):
  no member takes more than ``ceil(load_factor * tenants / members)``. Tenants are placed in a
  fixed order (by their own hash), each with the first member in its ranking that has room, so a
  bad hash draw never piles work onto one replica.
- **Liveness** is client-go's: a member is alive while its Lease record keeps changing, as measured
  on *our* monotonic clock since we first saw that record (:func:`jiradrift.kube.lease.observe`).
  Timestamps written by other pods are never compared with our clock.

Pure functions, no I/O: ``handlers/shard.py`` reads and writes the Leases.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Collection, Iterable, Mapping

from jiradrift.kube.lease import Observation

DEFAULT_LOAD_FACTOR = 1.25


def _weight(member: str, tenant: str) -> int:
    digest = hashlib.blake2b(f"{member}\x00{tenant}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _order(tenant: str) -> int:
    return int.from_bytes(hashlib.blake2b(tenant.encode(), digest_size=8).digest(), "big")


def capacity(tenants: int, members: int, load_factor: float = DEFAULT_LOAD_FACTOR) -> int:
    """The most tenants one member may own."""
    if members < 1:
        return 0
    return max(1, math.ceil(load_factor * tenants / members))


def assign(
    members: Collection[str], tenants: Iterable[str], *, load_factor: float = DEFAULT_LOAD_FACTOR
) -> dict[str, str]:
    """Each tenant's owner among ``members``; empty when there are no members."""
    if load_factor < 1:
        raise ValueError(f"load_factor={load_factor} must be at least 1 (1: perfectly even)")
    keys = sorted(set(tenants), key=lambda t: (_order(t), t))
    pool = sorted(set(members))
    if not pool:
        return {}
    cap = capacity(len(keys), len(pool), load_factor)
    load = dict.fromkeys(pool, 0)
    owners: dict[str, str] = {}
    for tenant in keys:
        for member in sorted(pool, key=lambda m: (-_weight(m, tenant), m)):
            if load[member] < cap:
                owners[tenant] = member
                load[member] += 1
                break
    return owners


def live_members(
    observations: Mapping[str, Observation], *, now: float, grace_seconds: float | None = None
) -> set[str]:
    """The holders whose membership record changed within its duration (plus ``grace_seconds``).

    A record with an empty holder (released: the replica left) is not a member.
    """
    alive = set()
    for observation in observations.values():
        record = observation.record
        if not record.holder:
            continue
        duration = record.duration_seconds + (grace_seconds or 0.0)
        if now - observation.observed_time < duration:
            alive.add(record.holder)
    return alive


def moves(before: Mapping[str, str], after: Mapping[str, str], member: str) -> tuple[set[str], set[str]]:
    """The tenants ``member`` gained and lost between two assignments."""
    had = {t for t, m in before.items() if m == member}
    has = {t for t, m in after.items() if m == member}
    return has - had, had - has
