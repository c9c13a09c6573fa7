"""Capture against the emulator: completeness, stability, drift visibility, partial failure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import orjson
import pytest

from jiradrift.jira.client import JiraClient
from jiradrift.model.kinds import kinds_for
from jiradrift.model.snapshot_types import SnapshotType
from jiradrift.sim.emulator import RunningEmulator
from jiradrift.snapshot.capture import CaptureProgress, capture_snapshot
from jiradrift.store.filesystem import FilesystemStore

Connect = Callable[[RunningEmulator], Awaitable[JiraClient]]
AT = datetime(2026, 3, 1, tzinfo=UTC)


async def _capture(jira: JiraClient, store: FilesystemStore, stype: SnapshotType, sid: str, **kw: object):  # type: ignore[no-untyped-def]
    return await capture_snapshot(
        jira, store, tenant="acme", snapshot_type=stype, snapshot_id=sid, captured_at=AT, **kw
    )  # type: ignore[arg-type]


async def test_every_type_captures_completely(
    jira_sim: RunningEmulator, store: FilesystemStore, connect: Connect
) -> None:
    async with await connect(jira_sim) as jira:
        for stype in SnapshotType:
            manifest = await _capture(jira, store, stype, f"acme-{stype.value}-1")
            assert manifest.complete, manifest.errors
            kinds = Counter(k.split("/", 1)[0] for k in manifest.items)
            assert set(kinds) == {k.name for k in kinds_for(stype)}, stype
            assert manifest.request_count > 0 and manifest.digest
            assert (await store.get_manifest(manifest.snapshot_id)).digest == manifest.digest
    # Team-managed objects are skipped; company-managed ones are all there.
    site = jira_sim.site
    fields = (await store.get_manifest("acme-fields-1")).items
    assert sum(k.startswith("field/") for k in fields) == sum("scope" not in f for f in site.fields)
    workflows = (await store.get_manifest("acme-workflows-1")).items
    assert sum(k.startswith("workflow/") for k in workflows) == sum(
        w["scope"]["type"] == "GLOBAL" for w in site.workflows
    )
    assert sum(k.startswith("issuetype/") for k in (await store.get_manifest("acme-issuetypes-1")).items) == len(
        site.global_issue_type_ids
    )
    # No write ever reached the emulator.
    assert {r.method for r in jira_sim.requests} <= {"GET", "POST"}
    assert {r.path.rsplit("/rest/api/3", 1)[1] for r in jira_sim.requests if r.method == "POST"} <= {
        "/workflows",
        "/workflowscheme/read",
    }
    assert jira.stats.requests_total == len(jira_sim.requests)


async def test_recapture_is_identical_and_normalised(
    jira_sim: RunningEmulator, store: FilesystemStore, connect: Connect
) -> None:
    async with await connect(jira_sim) as jira:
        first = await _capture(jira, store, SnapshotType.PROJECTS, "acme-projects-1")
        second = await _capture(jira, store, SnapshotType.PROJECTS, "acme-projects-2")
    assert first.digest == second.digest and first.items == second.items
    assert second.unchanged_from == "acme-projects-1"
    body = orjson.loads(await store.get_item(first.items["project/10000"]))
    assert "self" not in body and "avatarUrls" not in body and "insight" not in body and "expand" not in body
    assert set(body["lead"]) == {"accountId"}


async def test_mutation_changes_exactly_one_item(
    jira_sim: RunningEmulator, store: FilesystemStore, connect: Connect
) -> None:
    async with await connect(jira_sim) as jira:
        before = await _capture(jira, store, SnapshotType.FIELDS, "acme-fields-1")
        ctx = jira_sim.site.contexts("customfield_10000")[0]
        jira_sim.admin.add_field_option("customfield_10000", "Brand new")
        after = await _capture(jira, store, SnapshotType.FIELDS, "acme-fields-2")
    changed = {k for k in before.items if before.items[k] != after.items.get(k)}
    assert changed == {f"field-context/{ctx.body['id']}"}
    options = orjson.loads(await store.get_item(after.items[f"field-context/{ctx.body['id']}"]))["options"]
    assert options[-1]["value"] == "Brand new"  # option order is kept


async def test_one_failing_object_makes_snapshot_incomplete(
    jira_sim: RunningEmulator, store: FilesystemStore, connect: Connect
) -> None:
    jira_sim.faults.fail_object("/rest/api/3/field/customfield_10003/context", status=500)
    jira_sim.faults.fail_object("/rest/api/3/screens/*/tabs/*/fields", status=403, times=1)
    async with await connect(jira_sim) as jira:
        fields = await _capture(jira, store, SnapshotType.FIELDS, "acme-fields-1")
        screens = await _capture(jira, store, SnapshotType.SCREENS, "acme-screens-1")
    assert not fields.complete
    [error] = fields.errors
    assert error.kind == "field-context" and error.key == "field/customfield_10003" and error.status == 500
    assert "customfield_10003/context" in error.endpoint
    assert any(k.startswith("field-context/") for k in fields.items)  # siblings still captured
    assert not any(k == "field-context/10012" for k in fields.items)  # the failing field's first context
    assert "field/customfield_10003" in fields.items  # the field itself was read fine
    assert not screens.complete and screens.errors[0].status == 403
    assert (
        len([k for k in screens.items if k.startswith("screen/")])
        == sum("scope" not in s for s in jira_sim.site.screens) - 1
    )
    assert (await store.get_manifest("acme-fields-1")).complete is False


async def test_endpoint_failure_is_recorded_not_raised(
    jira_sim: RunningEmulator, store: FilesystemStore, connect: Connect
) -> None:
    jira_sim.faults.server_error(status=500, times=None, path="/rest/api/3/statuses/search")
    async with await connect(jira_sim) as jira:
        manifest = await _capture(jira, store, SnapshotType.WORKFLOWS, "acme-workflows-1")
    assert not manifest.complete
    assert [e.endpoint for e in manifest.errors] == ["GET /statuses/search"]
    assert not any(k.startswith("status/") for k in manifest.items)
    assert any(k.startswith("workflow/") for k in manifest.items)


async def test_faults_during_capture_still_complete(
    jira_sim: RunningEmulator, store: FilesystemStore, connect: Connect
) -> None:
    jira_sim.faults.rate_limit(times=3, retry_after=1, path="/rest/api/3/field/*/context")
    jira_sim.faults.truncate(times=1, path="/rest/api/3/field/*/context/*/option")
    jira_sim.faults.server_error(status=503, retry_after=1, times=2, path="/rest/api/3/field")
    jira_sim.faults.changing_total(step=3, path="/rest/api/3/field/*/context/*/option")
    async with await connect(jira_sim) as jira:
        clean_run = await _capture(jira, store, SnapshotType.FIELDS, "acme-fields-1")
        jira_sim.faults.clear()
        reference = await _capture(jira, store, SnapshotType.FIELDS, "acme-fields-2")
    assert clean_run.complete and clean_run.digest == reference.digest


async def test_progress_and_kind_filter(jira_sim: RunningEmulator, store: FilesystemStore, connect: Connect) -> None:
    seen: list[CaptureProgress] = []
    async with await connect(jira_sim) as jira:
        manifest = await _capture(
            jira, store, SnapshotType.WORKFLOWS, "acme-wf-1", progress=seen.append, kinds={"status"}
        )
    assert manifest.items and all(k.startswith("status/") for k in manifest.items)
    assert seen[-1].sources_done == seen[-1].sources_total == 1
    assert seen[-1].items == len(manifest.items) and seen[-1].requests == manifest.request_count


@pytest.mark.parametrize("stype", [SnapshotType.SCREENS])
async def test_screens_use_bulk_tabs(
    jira_sim: RunningEmulator, store: FilesystemStore, connect: Connect, stype: SnapshotType
) -> None:
    async with await connect(jira_sim) as jira:
        await _capture(jira, store, stype, "acme-screens-1")
    assert jira_sim.requests.count("GET /rest/api/3/screens/tabs") == -(-len(jira_sim.site.screens) // 100)
    assert jira_sim.requests.count("GET /rest/api/3/screens/{screenId}/tabs") == 0
