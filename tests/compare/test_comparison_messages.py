"""SiteComparison notifications share the drift messages' Slack and Teams layout (one formatter,
notify/message.py): escaped untrusted names, a listing capped the same way, the same card shape."""

from __future__ import annotations

from typing import Any

from jiradrift.notify.comparison import ComparisonNotice, comparison_payload_for
from jiradrift.notify.message import DriftNotice, payload_for


def comparison_body(key: str, in_sync: bool = False, listed: int = 10) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "team-a", "name": "prod-vs-sandbox"},
        "spec": {"left": {"name": "prod"}, "right": {"name": "sandbox"}},
        "status": {
            "conditions": [{"type": "InSync", "status": str(in_sync), "lastTransitionTime": "2026-12-07T10:00:00Z"}],
            "differences": {"total": 40, "high": 1, "medium": 39, "low": 0},
            "equal": 100,
            "first": [
                {"key": f"{key} {n}", "op": "modified", "path": "x" * 400, "severity": "medium"} for n in range(listed)
            ],
        },
    }


def drift_body(key: str, listed: int = 10) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "team-a", "name": "snap-1"},
        "spec": {"tenantRef": {"name": "prod"}, "type": "workflows"},
        "status": {
            "phase": "Completed",
            "drift": {
                "total": 40,
                "added": 0,
                "removed": 0,
                "changed": 40,
                "highestSeverity": "high",
                "changes": [
                    {"key": f"{key} {n}", "op": "modified", "path": "x" * 400, "severity": "medium"}
                    for n in range(listed)
                ],
            },
        },
    }


def test_slack_listing_is_escaped_and_capped_like_drift_messages() -> None:
    hostile = "workflow/<!channel> <https://evil.example|click>"
    comparison = comparison_payload_for("slack", ComparisonNotice.from_comparison(comparison_body(hostile), "s"))
    drift = payload_for("slack", DriftNotice.from_snapshot(drift_body(hostile), site="s"))
    for payload in (comparison, drift):
        listing = payload["blocks"][2]["text"]["text"]
        assert "<!channel>" not in listing and "&lt;!channel&gt;" in listing
        assert len(listing) == 2900 and listing.endswith("…"), len(listing)
    assert [b["type"] for b in comparison["blocks"]] == [b["type"] for b in drift["blocks"]]


def test_teams_card_has_the_drift_cards_shape() -> None:
    notice = ComparisonNotice.from_comparison(comparison_body("field/*bold* [link](x)", in_sync=True, listed=2), "s")
    card = comparison_payload_for("teams", notice)["attachments"][0]["content"]
    drift = payload_for("teams", DriftNotice.from_snapshot(drift_body("field/a", listed=2), site="s"))
    assert [b["type"] for b in card["body"]] == [b["type"] for b in drift["attachments"][0]["content"]["body"]]
    assert card["body"][0]["color"] == "Good"  # in sync again
    facts = {f["title"]: f["value"] for f in card["body"][1]["facts"]}
    assert facts["Comparison"] == "team\\-a/prod\\-vs\\-sandbox"
    listed = card["body"][2]["text"]
    assert "\\*bold\\*" in listed and "\\[link\\]\\(x\\)" in listed
