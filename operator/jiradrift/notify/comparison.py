"""What a SiteComparison notification says when InSync changes, in the three drift formats.

    notice = ComparisonNotice.from_comparison(body, site="https://acme.atlassian.net")
    comparison_payload_for("slack", notice)   # or "teams", "webhook" (kind ComparisonNotification)

Everything comes from the comparison's status (the InSync condition, the counts, the first
differences with their Affects), so formatting needs neither the store nor Jira. The digest covers
the comparison, the new InSync value and the condition's ``lastTransitionTime``: one change of
InSync is one message, however often the sites are compared again while it holds.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from jiradrift.notify.message import (
    ID_HEADER,
    MAX_LISTED,
    PAYLOAD_API_VERSION,
    ChangeLine,
    affects_of,
    change_text,
    markdown_escape,
    slack_escape,
    teams_message,
)

PAYLOAD_KIND = "ComparisonNotification"
IN_SYNC = "InSync"
SEVERITIES = ("high", "medium", "low")

__all__ = ["ID_HEADER", "ComparisonNotice", "comparison_payload_for", "highest_of"]


def highest_of(counts: dict[str, Any] | None) -> str | None:
    """The highest severity with a difference in status ``differences`` (None when none)."""
    return next((s for s in SEVERITIES if int((counts or {}).get(s) or 0) > 0), None)


def in_sync_condition(status: dict[str, Any] | None) -> dict[str, Any]:
    found = [c for c in (status or {}).get("conditions") or [] if c.get("type") == IN_SYNC]
    return found[0] if found else {}


@dataclass(frozen=True)
class ComparisonNotice:
    """One change of a SiteComparison's InSync, as every format needs it."""

    namespace: str
    comparison: str
    left: str
    right: str
    in_sync: bool
    since: str  # the InSync condition's lastTransitionTime
    site: str
    total: int
    high: int
    medium: int
    low: int
    equal: int
    message: str
    changes: tuple[ChangeLine, ...] = ()

    @classmethod
    def from_comparison(cls, body: dict[str, Any], site: str = "") -> ComparisonNotice:
        meta, spec, status = body.get("metadata") or {}, body.get("spec") or {}, body.get("status") or {}
        condition = in_sync_condition(status)
        counts = status.get("differences") or {}
        changes = tuple(
            ChangeLine(
                key=str(c.get("key") or ""),
                op=str(c.get("op") or ""),
                path=str(c.get("path") or ""),
                severity=str(c.get("severity") or ""),
                affects=affects_of(c)[0],
                affects_first=affects_of(c)[1],
            )
            for c in (status.get("first") or [])[:MAX_LISTED]
        )
        return cls(
            namespace=str(meta.get("namespace") or ""),
            comparison=str(meta.get("name") or ""),
            left=str((spec.get("left") or {}).get("name") or ""),
            right=str((spec.get("right") or {}).get("name") or ""),
            in_sync=condition.get("status") == "True",
            since=str(condition.get("lastTransitionTime") or ""),
            site=site,
            total=int(counts.get("total") or 0),
            high=int(counts.get("high") or 0),
            medium=int(counts.get("medium") or 0),
            low=int(counts.get("low") or 0),
            equal=int(status.get("equal") or 0),
            message=str(status.get("message") or ""),
            changes=changes,
        )

    @property
    def digest(self) -> str:
        """``sha256:<hex>`` of the InSync change: the same change after a restart, the same digest."""
        content = [self.namespace, self.comparison, self.in_sync, self.since]
        return "sha256:" + hashlib.sha256(orjson.dumps(content)).hexdigest()

    @property
    def highest_severity(self) -> str | None:
        return highest_of({"high": self.high, "medium": self.medium, "low": self.low})

    @property
    def omitted(self) -> int:
        return max(self.total - len(self.changes), 0)

    def headline(self) -> str:
        pair = f"{self.namespace}/{self.left} and {self.right}"
        if self.in_sync:
            return f"Jira sites in sync again: {pair} ({self.comparison})"
        return (
            f"Jira sites differ: {pair} ({self.comparison}), {self.total} difference(s), "
            f"highest severity {self.highest_severity or 'low'}"
        )

    def counts_text(self) -> str:
        return f"{self.total} difference(s): {self.high} high, {self.medium} medium, {self.low} low; {self.equal} equal"

    def more_text(self) -> str:
        if not self.omitted:
            return ""
        return (
            f"…and {self.omitted} more (jiradrift compare {self.namespace}/{self.left} {self.namespace}/{self.right})"
        )


def generic_payload(notice: ComparisonNotice) -> dict[str, Any]:
    """The generic JSON webhook body, ``jiradrift.io/v1alpha1`` ``ComparisonNotification``."""
    return {
        "apiVersion": PAYLOAD_API_VERSION,
        "kind": PAYLOAD_KIND,
        "id": notice.digest,
        "comparison": {
            "namespace": notice.namespace,
            "name": notice.comparison,
            "left": notice.left,
            "right": notice.right,
            "site": notice.site,
        },
        "inSync": notice.in_sync,
        "since": notice.since,
        "message": notice.message,
        "differences": {
            "total": notice.total,
            "high": notice.high,
            "medium": notice.medium,
            "low": notice.low,
            "equal": notice.equal,
            "highestSeverity": notice.highest_severity,
            "first": [
                {
                    "key": c.key,
                    "op": c.op,
                    "path": c.path,
                    "severity": c.severity,
                    **(
                        {"affects": {"count": c.affects, "first": list(c.affects_first)}}
                        if c.affects is not None
                        else {}
                    ),
                }
                for c in notice.changes
            ],
            "omitted": notice.omitted,
        },
    }


def slack_payload(notice: ComparisonNotice) -> dict[str, Any]:
    """A Slack incoming-webhook message: ``text`` and Block Kit blocks, as drift messages."""
    lines = [f"• {change_text(c, slack_escape)}" for c in notice.changes]
    if notice.omitted:
        lines.append(slack_escape(notice.more_text()))
    listing = "\n".join(lines)[:2900]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": notice.headline()[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": slack_escape(notice.counts_text())}},
    ]
    if listing:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": listing}})
    context = slack_escape(f"{notice.site} · since {notice.since}")[:300]
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return {"text": slack_escape(notice.headline()), "blocks": blocks}


def teams_payload(notice: ComparisonNotice) -> dict[str, Any]:
    """A Microsoft Teams incoming-webhook message carrying one Adaptive Card (version 1.4)."""
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": markdown_escape(notice.headline()),
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
            "color": "Good" if notice.in_sync else ("Attention" if notice.highest_severity == "high" else "Default"),
        },
        {
            "type": "FactSet",
            "facts": [
                {"title": "Comparison", "value": markdown_escape(f"{notice.namespace}/{notice.comparison}")},
                {"title": "Left", "value": markdown_escape(notice.left)},
                {"title": "Right", "value": markdown_escape(notice.right)},
                {"title": "Differences", "value": markdown_escape(notice.counts_text())},
            ],
        },
    ]
    body += [{"type": "TextBlock", "text": change_text(c, markdown_escape), "wrap": True} for c in notice.changes]
    if notice.omitted:
        body.append({"type": "TextBlock", "text": markdown_escape(notice.more_text()), "wrap": True, "isSubtle": True})
    return teams_message(body)


FORMATTERS = {"slack": slack_payload, "teams": teams_payload, "webhook": generic_payload}


def comparison_payload_for(kind: str, notice: ComparisonNotice) -> dict[str, Any]:
    """The body for a destination of type ``kind`` (slack, teams, webhook)."""
    return FORMATTERS[kind](notice)
