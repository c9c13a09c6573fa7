"""Nothing blocks the operator's event loop: the operator runs with asyncio's debug mode and a
slow-callback threshold through a full cycle (health check, scheduled captures into the Secret
store, a drift with audit attribution, the accepted-baseline comparison, retention) and must log
no callback that held the loop longer than the threshold.

The threshold is 0.5 s: a sync Kubernetes call per captured item (the old store: 2,001 LISTs for
2,000 items) or a thread join on the loop holds it for seconds; ordinary CPU work between awaits
stays far below even on a loaded 2-core machine.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from tests.operator.kube import drift_by_hand, make_secret, make_tenant, snapshots

from jiradrift.cmd.run import SLOW_CALLBACK_ENV
from jiradrift.dev.controlplane import ControlPlane
from jiradrift.dev.operator_process import running_operator, wait_for

pytestmark = pytest.mark.k8s
THRESHOLD = "0.5"


def slow_callbacks(lines: list[dict[str, Any]]) -> list[str]:
    """asyncio debug mode's report of a callback that blocked the loop."""
    return [
        str(x["message"]) for x in lines if "Executing" in str(x.get("message")) and " took " in str(x.get("message"))
    ]


def test_the_detector_sees_a_blocking_call(caplog: pytest.LogCaptureFixture) -> None:
    """The log line this module looks for is the one asyncio writes for a blocking call."""

    async def blocks() -> None:
        asyncio.get_running_loop().slow_callback_duration = float(THRESHOLD)
        time.sleep(0.6)  # a blocking call on the loop

    with caplog.at_level(logging.WARNING, logger="asyncio"):
        asyncio.run(blocks(), debug=True)
    found = slow_callbacks([{"message": r.getMessage()} for r in caplog.records])
    assert len(found) == 1 and "took 0.6" in found[0]


def test_no_callback_blocks_the_event_loop(
    control_plane: ControlPlane, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: Any, tmp_path: Path
) -> None:
    ns, creds = k8s_namespace, jira_sim.credentials
    make_secret(k8s_api, ns, "jira", {"email": creds.email, "token": creds.api_token})
    make_tenant(k8s_api, ns, "acme", jira_sim.base_url, "jira", ["workflows", "fields"], retention={"keepLast": 1})
    with running_operator(control_plane, [ns], tmp_path, env={SLOW_CALLBACK_ENV: THRESHOLD}) as op:
        wait_for(
            lambda: (
                len(s := snapshots(k8s_api, ns)) == 2
                and all((x.get("status") or {}).get("phase") == "Completed" for x in s)
            ),
            "the window's Snapshots Completed",
            op=op,
            timeout=120,
        )
        drift_by_hand(
            control_plane, k8s_api, ns, jira_sim, op, "the drift seen through the accepted-baseline comparison"
        )
        assert f"event loop in debug mode: callbacks over {THRESHOLD} s are logged" in op.text()
    assert slow_callbacks(op.lines()) == [], slow_callbacks(op.lines())[:5]
