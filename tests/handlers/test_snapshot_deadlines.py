"""Every call a handler makes has a deadline: audit-log attribution of drift gives up after
``audit_timeout_seconds`` even when each request's own deadline is much longer (a trickled audit
log must not hold up a Snapshot)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import cast

from jiradrift.handlers.context import OperatorContext, OperatorSettings
from jiradrift.handlers.snapshot import _attribute
from jiradrift.jira.auth import ApiTokenAuth
from jiradrift.jira.client import JiraClient
from jiradrift.kube.client import Kube
from jiradrift.model.report import Change, ChangeOp, DriftReport, Severity
from jiradrift.sim.emulator import RunningEmulator


async def test_audit_attribution_stops_at_its_deadline(jira_sim: RunningEmulator) -> None:
    jira_sim.faults.trickle(seconds=1.0, path="/rest/api/3/auditing/record")
    report = DriftReport("acme", "workflows", "new", "old")
    report.changes.append(Change("workflow/1", ChangeOp.MODIFIED, "description", Severity.MEDIUM))
    now = datetime.now(UTC)
    c = jira_sim.credentials
    async with await JiraClient.connect(jira_sim.base_url, ApiTokenAuth(c.email, c.api_token)) as jira:
        assert jira.settings.limits.request_deadline == 60  # far longer than the attribution may take
        start = time.monotonic()
        ctx = OperatorContext(
            kube=cast(Kube, None), settings=OperatorSettings(audit_timeout_seconds=1), holder="h", clock=lambda: now
        )
        found = await _attribute(jira, report, now - timedelta(hours=1), ctx, jira_sim.base_url)
        elapsed = time.monotonic() - start
    assert found == {}
    assert elapsed < 5, elapsed
