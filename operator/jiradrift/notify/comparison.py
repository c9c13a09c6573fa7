"""What a SiteComparison notification says when InSync changes, in the three drift formats.

    notice = ComparisonNotice.from_comparison(comparison, site="https://acme.atlassian.net")  # model or JSON
    comparison_payload_for("slack", notice)   # or "teams", "webhook" (kind ComparisonNotification)

Everything comes from the comparison's status (the InSync condition, the counts, the first
differences with their Affects), so formatting needs neither the store nor Jira. The digest covers
the comparison, the new InSync value and the condition's ``lastTransitionTime``: one change of
InSync is one message, however often the sites are compared again while it holds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from jiradrift.api.conditions import find
from jiradrift.api.objects import read_object, wire_time
from jiradrift.api.resources import ComparisonCounts, ConditionStatus, SiteComparison, SiteComparisonStatus
from jiradrift.notify.message import (
    ID_HEADER,
    MAX_LISTED,
    PAYLOAD_API_VERSION,
    ChangeLine,
    ChatMessage,
    markdown_escape,
    slack_escape,
    slack_message,
    teams_card,
)

PAYLOAD_KIND = "ComparisonNotification"
IN_SYNC = "InSync"
SEVERITIES = ("high", "medium", "low")

__all__ = ["ID_HEADER", "ComparisonNotice", "comparison_payload_for", "highest_of"]


def highest_of(counts: Mapping[str, Any] | None) -> str | None:
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
    def from_comparison(cls, comparison: SiteComparison | Mapping[str, Any], site: str = "") -> ComparisonNotice:
        """The notice of a SiteComparison (its model, or the API server's JSON: read into the model here)."""
        obj = comparison if isinstance(comparison, SiteComparison) else read_object(SiteComparison, comparison)
        status = obj.status or SiteComparisonStatus()
        condition = find(status.conditions, IN_SYNC)
        counts = status.differences or ComparisonCounts()
        return cls(
            namespace=obj.metadata.namespace,
            comparison=obj.metadata.name,
            left=obj.spec.left.name,
            right=obj.spec.right.name,
            in_sync=condition is not None and condition.status == ConditionStatus.TRUE,
            since=(wire_time(condition.last_transition_time) if condition else None) or "",
            site=site,
            total=counts.total,
            high=counts.high,
            medium=counts.medium,
            low=counts.low,
            equal=status.equal or 0,
            message=status.message or "",
            changes=tuple(ChangeLine.from_status(c) for c in (status.first or [])[:MAX_LISTED]),
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
            "first": [c.payload(authored=False) for c in notice.changes],
            "omitted": notice.omitted,
        },
    }


def chat_message(notice: ComparisonNotice) -> ChatMessage:
    """A comparison notice as Slack and Teams show it (the layout of drift messages)."""
    return ChatMessage(
        headline=notice.headline(),
        slack_summary=slack_escape(notice.counts_text()),
        facts=(
            ("Comparison", markdown_escape(f"{notice.namespace}/{notice.comparison}")),
            ("Left", markdown_escape(notice.left)),
            ("Right", markdown_escape(notice.right)),
            ("Differences", markdown_escape(notice.counts_text())),
        ),
        changes=notice.changes,
        more=notice.more_text(),
        context=f"{notice.site} · since {notice.since}",
        color="Good" if notice.in_sync else ("Attention" if notice.highest_severity == "high" else "Default"),
    )


def slack_payload(notice: ComparisonNotice) -> dict[str, Any]:
    return slack_message(chat_message(notice))


def teams_payload(notice: ComparisonNotice) -> dict[str, Any]:
    return teams_card(chat_message(notice))


FORMATTERS = {"slack": slack_payload, "teams": teams_payload, "webhook": generic_payload}


def comparison_payload_for(kind: str, notice: ComparisonNotice) -> dict[str, Any]:
    """The body for a destination of type ``kind`` (slack, teams, webhook)."""
    return FORMATTERS[kind](notice)
