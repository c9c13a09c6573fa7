"""Audit attribution: the emulator's audit log names who changed a drifted item."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from jiradrift.jira.audit import AuditEntry, attribute, audit_entries
from jiradrift.jira.auth import ApiTokenAuth
from jiradrift.jira.client import JiraClient


def entry(name: str = "", type_: str = "", id_: str = "", summary: str = "s") -> AuditEntry:
    return AuditEntry(summary, "acct-1", "2026-01-01T00:00:00.000+0000", name, type_, id_)


def test_matches_by_name_then_by_id_of_the_same_kind() -> None:
    entries = [
        entry("Bug workflow", "Workflow", summary="newest"),
        entry("bug WORKFLOW", "Workflow", summary="older"),
        entry("", "Status", "10001", summary="status"),
        entry("", "Field configuration", "10002", summary="fieldconf"),
    ]
    found = attribute(
        [("workflow/abc", "Bug workflow"), ("status/10001", None), ("status/10002", None), ("field/x", "Other")],
        entries,
    )
    assert found["workflow/abc"].summary == "newest"  # newest first wins
    assert found["status/10001"].summary == "status"
    assert "status/10002" not in found  # id 10002 belongs to a field configuration, not a status
    assert "field/x" not in found
    assert entries[0].describe() == "'newest' by acct-1 at 2026-01-01T00:00:00.000+0000"


async def test_reads_the_window_from_the_emulator(jira_sim: Any) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    workflow = next(w for w in jira_sim.site.workflows if w["scope"]["type"] == "GLOBAL")
    jira_sim.admin.change_workflow(workflow["id"], description="audited")
    creds = jira_sim.credentials
    async with await JiraClient.connect(jira_sim.base_url, ApiTokenAuth(creds.email, creds.api_token)) as client:
        entries = await audit_entries(client, before, datetime.now(UTC) + timedelta(seconds=5))
        old = await audit_entries(client, before - timedelta(days=3650), before - timedelta(days=3000))
    found = attribute([(f"workflow/{workflow['id']}", workflow["name"])], entries)
    assert found[f"workflow/{workflow['id']}"].object_name == workflow["name"]
    assert all(e.object_name != workflow["name"] or "audited" not in e.summary for e in old)
