"""The emulated audit log: a record per audited admin mutation, with Jira's categories, object
types, ids and changed values; nothing for kinds Atlassian does not document as audited; records
that show up late; and ``from``/``to``/``offset``/``limit``/``filter`` as documented."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from jiradrift.sim import Emulator, RunningEmulator
from jiradrift.sim.auditlog import AUDIT_TYPES, DEFAULT_UNAUDITED
from jiradrift.sim.clock import ManualClock
from jiradrift.sim.mutations import example_calls
from jiradrift.sim.site import timestamp


def _records(sim: RunningEmulator, **params: Any) -> dict[str, Any]:
    response = httpx.get(
        sim.api_url + "/auditing/record",
        params=params,
        auth=(sim.credentials.email, sim.credentials.api_token),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_every_audited_mutation_writes_one_record_naming_its_object(jira_sim: RunningEmulator) -> None:
    before = len(jira_sim.site.audit_records)
    for call in example_calls(jira_sim.site):
        seen = len(jira_sim.site.audit_records)
        result = jira_sim.admin.call(call.mutation, call.kwargs)
        new = jira_sim.site.audit_records[seen:]
        if call.kind in DEFAULT_UNAUDITED:
            assert new == [], f"{call.mutation} changes a {call.kind}, which Jira does not audit"
            continue
        assert len(new) == 1, call.mutation
        record = new[0]
        category, type_name = AUDIT_TYPES[call.kind]
        assert record["category"] == category and record["objectItem"]["typeName"] == type_name, record
        assert record["objectItem"]["id"] == (call.object_id or result["id"]), record
        assert record["changedValues"], record
    # newest first over HTTP, ids unique
    body = _records(jira_sim, limit=1000)
    ids = [r["id"] for r in body["records"]]
    assert len(set(ids)) == len(ids) and ids == sorted(ids, reverse=True)
    assert body["total"] == len(jira_sim.site.audit_records) > before


def test_renames_carry_before_and_after_and_options_their_context() -> None:
    with Emulator(unaudited_kinds=frozenset()).running() as sim:
        calls = {c.mutation: c for c in example_calls(sim.site)}
        old = sim.site.statuses[0]["name"]
        sim.admin.call("rename_status", calls["rename_status"].kwargs)
        status = sim.site.audit_records[-1]
        assert status["objectItem"] == {"id": sim.site.statuses[0]["id"], "name": "Status x", "typeName": "STATUS"}
        assert status["changedValues"] == [{"fieldName": "name", "changedFrom": old, "changedTo": "Status x"}]
        option = calls["add_field_option"]
        sim.admin.call("add_field_option", option.kwargs)
        record = sim.site.audit_records[-1]
        context = sim.site.contexts(option.object_id)[0].body
        assert record["associatedItems"][0]["id"] == context["id"]
        assert record["associatedItems"][0]["parentId"] == option.object_id
        # every kind audited once nothing is excluded
        sim.admin.call("rename_priority", calls["rename_priority"].kwargs)
        assert sim.site.audit_records[-1]["objectItem"]["typeName"] == "PRIORITY"


def test_records_show_up_late_but_keep_the_time_of_the_change() -> None:
    clock = ManualClock()
    with Emulator(clock=clock, audit_delay_seconds=120).running() as sim:
        changed_at = datetime.fromtimestamp(clock.now(), UTC)
        workflow = sim.site.workflows[0]
        sim.admin.change_workflow(workflow["id"], description="late in time")
        window = {
            "from": timestamp(changed_at - timedelta(minutes=1)),
            "to": timestamp(changed_at + timedelta(hours=1)),
            "filter": "late time",
        }
        assert _records(sim, **window)["records"] == []
        clock.advance(119)
        assert _records(sim, **window)["records"] == []
        clock.advance(1)
        late = _records(sim, **window)["records"]
        assert [r["objectItem"]["id"] for r in late] == [workflow["id"]]
        assert late[0]["created"] == timestamp(changed_at)
        sim.set_audit(delay_seconds=0)
        sim.admin.change_workflow(workflow["id"], description="on time")
        assert len(_records(sim, **{**window, "filter": "on time"})["records"]) == 1


def test_from_to_offset_limit_and_filter(jira_sim: RunningEmulator) -> None:
    records = jira_sim.site.audit_records
    middle = records[len(records) // 2]["created"]
    newer = _records(jira_sim, **{"from": middle})
    assert newer["total"] == len(records) - len(records) // 2
    older = _records(jira_sim, to=middle)
    assert older["total"] == len(records) // 2 + 1  # both bounds are inclusive
    assert _records(jira_sim, **{"from": middle, "to": records[0]["created"]})["records"] == []  # from after to
    page = _records(jira_sim, offset=5, limit=7)
    assert page["offset"] == 5 and page["limit"] == 7 and len(page["records"]) == 7
    assert [r["id"] for r in page["records"]] == [r["id"] for r in records[::-1][5:12]]
    jira_sim.admin.add_field_option(
        next(c.kwargs for c in example_calls(jira_sim.site) if c.mutation == "add_field_option")["field_id"],
        "Filtered",
    )
    found = _records(jira_sim, filter="custom_field filtered")["records"]
    assert len(found) == 1 and found[0]["changedValues"][0]["changedTo"] == "Filtered"


def test_audit_settings_over_http(jira_sim: RunningEmulator) -> None:
    url = jira_sim.base_url + "/_sim/audit"
    set_ = httpx.post(url, json={"delay_seconds": 30, "unaudited": ["status"]})
    assert set_.json() == {"delay_seconds": 30.0, "unaudited": ["status"]}
    assert jira_sim.site.audit_policy.audits("priority") and not jira_sim.site.audit_policy.audits("status")
    bad = httpx.post(url, json={"unaudited": ["statuses"]})
    assert bad.status_code == 400 and "unknown kinds ['statuses']" in bad.json()["errorMessages"][0]
    assert httpx.post(url, json={"delay_seconds": -1}).status_code == 400
    assert jira_sim.site.audit_policy.delay_seconds == 30  # a refused change leaves the policy as it was
