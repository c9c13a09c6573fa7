"""Missed changes: >= 200 random mutations of every kind (unaudited ones too), audit records shown
late, incremental windows between them; the full capture at the end finds nothing they missed."""

from __future__ import annotations

import random

import pytest
from tests.snapshot.conftest import Site

from jiradrift.model.manifest import CaptureMode, Manifest
from jiradrift.sim.mutations import example_calls
from jiradrift.snapshot.incremental import capture_window
from jiradrift.snapshot.missed import missed_changes, missed_counts

AUDIT_DELAY = 150.0  # seconds: records show up two or three windows late
WINDOW = 60.0


async def test_random_mutations_none_missed(site: Site) -> None:
    site.sim.set_audit(delay_seconds=AUDIT_DELAY)
    rng = random.Random(26)
    chains: dict[str, list[Manifest]] = {}
    await site.window()
    mutated: dict[str, int] = {}
    read_ids: set[int] = set()
    late = 0  # records first served after the window their change belonged to
    previous = site.now()
    n = 0
    while n < 200:
        for _ in range(rng.randint(3, 7)):
            call = rng.choice(example_calls(site.sim.site, f"r{n}"))
            getattr(site.sim.admin, call.mutation)(**call.kwargs)
            mutated[call.kind] = mutated.get(call.kind, 0) + 1
            n += 1
        site.clock.advance(WINDOW)
        window = await site.window()
        assert all(m.capture.mode is CaptureMode.INCREMENTAL and m.complete for m in window.manifests)
        assert window.audit is not None and window.audit.status.value == "ok"
        late += sum(1 for r in window.audit.records if r.id not in read_ids and r.created < previous)
        read_ids |= {r.id for r in window.audit.records}
        previous = site.now()
        for m in window.manifests:
            chains.setdefault(m.type, []).append(m)
    assert late > 0, "no audit record came late: the delay was not exercised"
    assert set(mutated) == {c.kind for c in example_calls(site.sim.site, "all")}
    # past the audit delay: every late record is visible to the next window, inside its overlap
    site.clock.advance(AUDIT_DELAY + 1)
    last = await site.window()
    now = site.now()
    full = await capture_window(
        site.jira,
        site.store("full"),
        tenant="t",
        types=[m.type for m in last.manifests],
        captured_at=now,
        snapshot_id=lambda t: f"full-{t}",
        full=True,
    )
    missed: dict[str, int] = {}
    for inc, ful in zip(last.manifests, full.manifests, strict=True):
        missed |= missed_counts(missed_changes(ful, [*chains[inc.type], inc]))
    assert missed == {}


async def test_missed_changes_counts_what_the_chain_did_not_see(site: Site) -> None:
    """A chain that did not see a change (here: a window that carried the base unchanged) against
    a full capture at the same moment: the change is reported as missed, by kind."""
    first = await site.window()
    base = {m.type: m for m in first.manifests}["screens"]
    call = next(c for c in example_calls(site.sim.site, "m") if c.kind == "field-configuration")
    getattr(site.sim.admin, call.mutation)(**call.kwargs)
    site.clock.advance(WINDOW)
    carried = base.capture.model_copy(update={"mode": CaptureMode.INCREMENTAL})
    stale = base.model_copy(update={"snapshot_id": "stale", "captured_at": site.now(), "capture": carried})
    full = (await site.window("full", full=True)).manifests
    screens = next(m for m in full if m.type == "screens")
    missed = missed_changes(screens, [stale])
    assert missed == {"field-configuration": [f"field-configuration/{call.object_id}"]}
    assert missed_counts(missed) == {"field-configuration": 1}
    with pytest.raises(ValueError, match="at the full capture's moment"):
        missed_changes(screens, [base])
