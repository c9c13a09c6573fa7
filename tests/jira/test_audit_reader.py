"""The incremental audit reader against the emulator: overlapping windows find records that show
up late, a record served by two overlapping reads is acted on once, and a read that is cut short,
forbidden or failing says so (so the window becomes a full capture)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jiradrift.jira.audit import ReadStatus, read_audit_log
from jiradrift.jira.auth import ApiTokenAuth
from jiradrift.jira.client import ClientSettings, JiraClient
from jiradrift.jira.ratelimit import RetryPolicy
from jiradrift.model.snapshot_types import ALL_SNAPSHOT_TYPES
from jiradrift.sim import Emulator, RunningEmulator
from jiradrift.sim.clock import ManualClock
from jiradrift.sim.mutations import example_calls
from jiradrift.snapshot.changes import AuditCursor, decide, kinds_by_type

START = 1_767_700_000.0  # a day after the generated history: only this test's changes are in range
OVERLAP = timedelta(minutes=10)
KINDS = kinds_by_type(["workflows", "projects"])


async def _client(sim: RunningEmulator) -> JiraClient:
    creds = sim.credentials
    settings = ClientSettings(retry=RetryPolicy(max_retries=0))
    return await JiraClient.connect(sim.base_url, ApiTokenAuth(creds.email, creds.api_token), settings=settings)


def _now(clock: ManualClock) -> datetime:
    return datetime.fromtimestamp(clock.now(), UTC)


async def test_overlapping_windows_catch_late_records_and_act_on_each_once() -> None:
    clock = ManualClock(START)
    with Emulator(clock=clock, audit_delay_seconds=60).running() as sim:
        a, b = sim.site.workflows[0], sim.site.workflows[1]
        cursor = AuditCursor(_now(clock))
        async with await _client(sim) as jira:
            clock.advance(10)
            sim.admin.change_workflow(a["id"], description="first")  # visible only at +70 s
            clock.advance(20)
            read = await read_audit_log(jira, *cursor.read_range(_now(clock), OVERLAP))
            first = decide(read, cursor, KINDS, overlap=OVERLAP)
            assert first.types["workflows"].reread == {} and first.full == []  # not shown yet: not lost either

            clock.advance(60)  # A is visible now, created before the first window ended
            sim.admin.change_workflow(b["id"], description="second")  # visible only at +150 s
            second = decide(
                await read_audit_log(jira, *first.next_cursor.read_range(_now(clock), OVERLAP)),
                first.next_cursor,
                KINDS,
                overlap=OVERLAP,
            )
            assert second.types["workflows"].reread == {"workflow": {a["id"]}}

            clock.advance(60)  # B visible; A is served again by the overlap
            read = await read_audit_log(jira, *second.next_cursor.read_range(_now(clock), OVERLAP))
            assert {r.object_id for r in read.records} == {a["id"], b["id"]}
            third = decide(read, second.next_cursor, KINDS, overlap=OVERLAP)
            assert third.types["workflows"].reread == {"workflow": {b["id"]}}
            assert third.duplicates == 1 and third.new_records == 1

            quiet = decide(
                await read_audit_log(jira, *third.next_cursor.read_range(_now(clock), OVERLAP)),
                third.next_cursor,
                KINDS,
                overlap=OVERLAP,
            )
            assert quiet.new_records == 0 and quiet.duplicates == 2
            assert all(p.objects == 0 for p in quiet.types.values())


async def test_pages_and_truncation() -> None:
    clock = ManualClock(START)
    with Emulator(clock=clock).running() as sim:
        since = _now(clock)
        for i in range(5):
            clock.advance(1)
            sim.admin.rename_project(sim.site.projects[0]["key"], f"Renamed {i}")
        async with await _client(sim) as jira:
            paged = await read_audit_log(jira, since, _now(clock), page_size=2)
            assert paged.status is ReadStatus.OK and paged.requests == 3 and len(paged.records) == 5
            assert len({r.id for r in paged.records}) == 5
            cut = await read_audit_log(jira, since, _now(clock), page_size=2, max_records=3)
        assert cut.status is ReadStatus.TRUNCATED and "more than 3" in cut.detail
        plan = decide(cut, AuditCursor(since + OVERLAP), KINDS)
        assert plan.types["projects"].mode == "full" and "truncated" in plan.types["projects"].reason


async def test_a_forbidden_or_failing_audit_log_is_reported_not_raised(jira_sim: RunningEmulator) -> None:
    now = datetime.now(UTC)
    async with await _client(jira_sim) as jira:
        jira_sim.faults.fail_object("/rest/api/3/auditing/record", status=403, times=1)
        forbidden = await read_audit_log(jira, now - OVERLAP, now)
        jira_sim.faults.fail_object("/rest/api/3/auditing/record", status=500, times=1)
        failed = await read_audit_log(jira, now - OVERLAP, now)
        ok = await read_audit_log(jira, now - OVERLAP, now)
    assert forbidden.status is ReadStatus.FORBIDDEN and "403" in forbidden.detail
    assert failed.status is ReadStatus.FAILED and "500" in failed.detail
    assert ok.status is ReadStatus.OK
    plan = decide(forbidden, AuditCursor(now), KINDS)
    assert set(plan.full) == {"workflows", "projects"}


async def test_every_mutation_is_named_by_the_audit_log_or_its_kind_is_probed() -> None:
    """The detector's coverage agrees with the emulator's model: no change of any kind is left to
    an audit record that never comes."""
    clock = ManualClock(START)
    kinds = kinds_by_type(ALL_SNAPSHOT_TYPES)
    type_of = {k: t for t, ks in kinds.items() for k in ks}
    named, probed = set(), set()
    with Emulator(clock=clock).running() as sim:
        async with await _client(sim) as jira:
            for call in example_calls(sim.site):
                cursor = AuditCursor(_now(clock))
                clock.advance(1)
                result = sim.admin.call(call.mutation, call.kwargs)
                clock.advance(1)
                read = await read_audit_log(jira, *cursor.read_range(_now(clock), OVERLAP))
                plan = decide(read, cursor, kinds, overlap=OVERLAP).types[type_of[call.kind]]
                if call.kind in plan.probe:
                    probed.add(call.kind)
                else:
                    assert (call.object_id or result["id"]) in plan.reread.get(call.kind, ()), call
                    named.add(call.kind)
    assert probed == {"status", "priority", "resolution", "field-configuration", "configuration"}
    assert named == {"workflow", "field", "field-context", "permission-scheme", "project"}
