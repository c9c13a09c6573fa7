"""Tenant assignment across replicas (jiradrift.kube.sharding): balanced, stable, and only live members."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from jiradrift.kube.lease import LeaseRecord, Observation
from jiradrift.kube.sharding import assign, capacity, live_members, moves

TENANTS = [f"team-{i % 37}/site-{i}" for i in range(3000)]


def loads(owners: dict[str, str]) -> Counter[str]:
    return Counter(owners.values())


def test_every_tenant_gets_exactly_one_live_member_and_no_member_exceeds_the_bound() -> None:
    members = ["op-a_1", "op-b_2", "op-c_3"]
    owners = assign(members, TENANTS)
    assert set(owners) == set(TENANTS)
    assert set(owners.values()) <= set(members)
    bound = capacity(len(TENANTS), len(members))
    assert bound == math.ceil(1.25 * 1000)
    assert max(loads(owners).values()) <= bound
    assert min(loads(owners).values()) >= 1000 * 0.75, loads(owners)


def test_the_bound_holds_even_when_the_hash_draw_is_lopsided() -> None:
    # two tenants, load factor 1: one each, whatever the hash prefers
    owners = assign(["a", "b"], ["x/1", "x/2"], load_factor=1.0)
    assert sorted(owners.values()) == ["a", "b"]
    owners = assign(["a", "b", "c"], [f"n/{i}" for i in range(30)], load_factor=1.0)
    assert sorted(loads(owners).values()) == [10, 10, 10]


def test_every_replica_computes_the_same_answer_whatever_the_order_of_its_inputs() -> None:
    a = assign(["op-c", "op-a", "op-b"], TENANTS)
    b = assign(["op-b", "op-c", "op-a"], list(reversed(TENANTS)))
    assert a == b


def test_a_joining_replica_takes_about_its_share_and_nothing_else_moves_much() -> None:
    before = assign(["a", "b", "c"], TENANTS)
    after = assign(["a", "b", "c", "d"], TENANTS)
    moved = sum(1 for t in TENANTS if before[t] != after[t])
    taken = sum(1 for t in TENANTS if after[t] == "d")
    assert taken == loads(after)["d"] >= len(TENANTS) / 4 * 0.75
    # ideal is 1/4 of the tenants (all to d); bounded loads may shuffle a few more
    assert moved <= len(TENANTS) * 0.35, moved
    gained, lost = moves(before, after, "d")
    assert len(gained) == taken and not lost


def test_a_leaving_replica_gives_up_only_its_own_tenants_up_to_the_bound_cascade() -> None:
    before = assign(["a", "b", "c"], TENANTS)
    after = assign(["a", "b"], TENANTS)
    orphans = {t for t, m in before.items() if m == "c"}
    moved_others = {t for t in TENANTS if before[t] != "c" and before[t] != after[t]}
    assert set(after.values()) == {"a", "b"}
    assert len(moved_others) <= len(TENANTS) * 0.1, len(moved_others)
    assert all(after[t] in ("a", "b") for t in orphans)


def test_no_members_no_owners_and_a_bad_load_factor_is_refused() -> None:
    assert assign([], TENANTS) == {}
    with pytest.raises(ValueError, match="load_factor"):
        assign(["a"], TENANTS, load_factor=0.5)


def observation(holder: str, duration: int, observed: float) -> Observation:
    return Observation(LeaseRecord(holder, duration, 0, None, None), "1", observed)


def test_live_members_are_those_whose_record_changed_within_its_duration_on_our_clock() -> None:
    seen = {
        "a": observation("op-a", 15, observed=100.0),  # changed 5 s ago
        "b": observation("op-b", 15, observed=84.0),  # unchanged for 21 s: dead
        "c": observation("", 15, observed=104.0),  # released: the replica left
        "d": observation("op-d", 30, observed=80.0),  # its own longer duration: alive
    }
    assert live_members(seen, now=105.0) == {"op-a", "op-d"}
    assert live_members(seen, now=105.0, grace_seconds=7) == {"op-a", "op-b", "op-d"}
