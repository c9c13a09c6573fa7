"""Incremental capture against the emulator over HTTP: equal to a full capture on every kind the
emulator mutates, quiet windows cheap, and every way the audit log can fail a full capture."""

from __future__ import annotations

import pytest
from tests.snapshot.conftest import Site

from jiradrift.jira.changeprobe import PROBES
from jiradrift.model.kinds import KINDS
from jiradrift.model.manifest import CaptureMode
from jiradrift.sim.mutations import example_calls
from jiradrift.snapshot.capture import capture_snapshot
from jiradrift.snapshot.changes import DEFAULT_COVERAGE

BY_ID_KINDS = {"workflow", "project", "field-configuration"}
SCHEMES_ONLY_AUDITED = {"fields", "workflows", "screens", "schemes", "projects"}  # types with an audited kind


def test_every_kind_the_audit_log_does_not_cover_has_a_probe() -> None:
    unaudited = set(KINDS) - DEFAULT_COVERAGE.kinds
    assert unaudited - set(PROBES) == set()
    assert set(PROBES) <= set(KINDS)


async def test_incremental_equals_full_on_every_kind(site: Site) -> None:
    """Each example mutation, then an incremental window and a full capture of the changed kind's
    type at the same moment (into another store): the same items, hash for hash; every other type
    carried unchanged."""
    before = {m.type: m for m in (await site.window()).manifests}
    for i, call in enumerate(example_calls(site.sim.site, "inc")):
        site.clock.advance(60)
        getattr(site.sim.admin, call.mutation)(**call.kwargs)
        site.clock.advance(1)
        incremental = {m.type: m for m in (await site.window()).manifests}
        stype = KINDS[call.kind].snapshot_type.value
        full = await capture_snapshot(
            site.jira,
            site.store(f"full-{i}"),
            tenant="t",
            snapshot_type=stype,
            snapshot_id=f"full-{i}",
            captured_at=site.now(),
        )
        assert all(m.capture.mode is CaptureMode.INCREMENTAL and m.complete for m in incremental.values())
        assert incremental[stype].items == full.items, f"{call.mutation} ({call.kind}) differs from a full capture"
        assert incremental[stype].digest == full.digest
        assert incremental[stype].items != before[stype].items, f"{call.mutation} changed nothing captured"
        assert 0 < incremental[stype].capture.reread < len(full.items) or stype == "instance"
        if call.kind in BY_ID_KINDS:  # re-read by id, not the whole listing
            assert incremental[stype].capture.reread <= 2, (call.mutation, incremental[stype].capture.reread)
        for t, m in incremental.items():
            if t != stype:
                assert m.items == before[t].items, f"{call.mutation} changed {t} too"
        before = incremental
    # and no type went stale through another's change (a rename shown inside another kind's body)
    everything = await site.window("full-all", full=True)
    for m in everything.manifests:
        assert before[m.type].items == m.items, m.type


async def test_quiet_window_reads_nothing_and_costs_a_few_requests(site: Site) -> None:
    first = await site.window()
    site.clock.advance(300)
    quiet = await site.window()
    assert [m.capture.reread for m in quiet.manifests] == [0] * len(quiet.manifests)
    assert all(m.capture.base is not None for m in quiet.manifests)
    assert [m.items for m in quiet.manifests] == [m.items for m in first.manifests]
    # the audit log, one probe per probed kind, one page of recently updated workflows
    assert quiet.requests <= 1 + sum(len(p) for p in PROBES.values()) + 1
    assert quiet.requests * 5 < first.requests


@pytest.mark.parametrize(
    ("fault", "status", "reason"),
    [("failed", 400, "the audit log read failed"), ("forbidden", 403, "the token may not read the audit log")],
)
async def test_an_audit_read_that_fails_makes_the_audited_types_full(
    site: Site, fault: str, status: int, reason: str
) -> None:
    await site.window()
    call = next(c for c in example_calls(site.sim.site, fault) if c.kind == "workflow")
    getattr(site.sim.admin, call.mutation)(**call.kwargs)
    site.clock.advance(60)
    site.sim.faults.fail_object("/rest/api/3/auditing/record", status=status, times=None)
    window = await site.window()
    assert window.audit is not None and window.audit.status.value == fault
    modes = {m.type: m.capture.mode for m in window.manifests}
    assert {t for t, m in modes.items() if m is CaptureMode.FULL} == SCHEMES_ONLY_AUDITED
    for m in window.manifests:
        if m.type in SCHEMES_ONLY_AUDITED:
            assert m.capture.reason.startswith(reason)
            assert m.capture.reread == len(m.items)


async def test_a_truncated_audit_read_makes_the_audited_types_full(site: Site) -> None:
    await site.window()
    for call in example_calls(site.sim.site, "trunc")[:4]:
        getattr(site.sim.admin, call.mutation)(**call.kwargs)
    site.clock.advance(60)
    window = await site.window(max_audit_records=2, audit_page_size=2)
    assert window.audit is not None and window.audit.status.value == "truncated"
    full = {m.type for m in window.manifests if m.capture.mode is CaptureMode.FULL}
    assert full == SCHEMES_ONLY_AUDITED
    assert all("truncated" in m.capture.reason for m in window.manifests if m.type in full)


async def test_a_capture_that_read_nothing_is_never_a_base(site: Site) -> None:
    site.sim.faults.fail_object("/rest/api/3/*", status=401, times=None)
    broken = await site.window()
    assert all(m.read_nothing for m in broken.manifests)
    site.sim.faults.clear()
    site.clock.advance(60)
    window = await site.window()
    assert all(m.capture.mode is CaptureMode.FULL and m.complete for m in window.manifests)
    assert all(m.capture.reason == "no earlier window to continue from" for m in window.manifests)


async def test_full_forced_and_stored_manifests_without_capture_info_load_as_full(site: Site) -> None:
    await site.window()
    site.clock.advance(60)
    forced = await site.window(full=True)
    assert all(m.capture.mode is CaptureMode.FULL and m.capture.base is None for m in forced.manifests)
    from jiradrift.model.manifest import Manifest

    old = Manifest.model_validate(
        {"snapshot_id": "x", "tenant": "t", "type": "fields", "captured_at": "2026-01-01T00:00:00Z"}
    )
    assert old.capture.mode is CaptureMode.FULL and old.capture.reread is None and old.capture.audit_until is None
