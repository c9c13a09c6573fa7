"""What a drift notification says, in three formats: pure functions from a Snapshot to a payload.

    notice = DriftNotice.from_snapshot(snapshot, site="https://acme.atlassian.net")   # a Snapshot model (or its JSON)
    generic_payload(notice)   # {"apiVersion": "jiradrift.io/v1alpha1", "kind": "DriftNotification", ...}
    slack_payload(notice)     # Slack incoming webhook: text + blocks
    teams_payload(notice)     # Microsoft Teams incoming webhook: a message with one Adaptive Card

Everything in a notice comes from the Snapshot's status (``status.drift``, written at capture), so
formatting needs neither the store nor Jira. Item names and audit-log authors come from a Jira site
and are untrusted: they are escaped for Slack's mrkdwn (no ``<!channel>``, no links) and Teams'
markdown, and every list is capped, saying how many more there are.

:attr:`DriftNotice.digest` is the content digest deliveries are deduplicated by: the same Snapshot
content gives the same digest after a restart, so a destination that has it is not sent it again.
The generic payload carries it as ``id`` (and the ``X-Jiradrift-Notification-Id`` header), so a
receiver can deduplicate too.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from jiradrift.api.objects import read_object, wire_time
from jiradrift.api.resources import (
    API_VERSION,
    ChangeSummary,
    ComparisonDifference,
    Snapshot,
    SnapshotDrift,
    SnapshotStatus,
)

PAYLOAD_API_VERSION = API_VERSION
PAYLOAD_KIND = "DriftNotification"
MAX_LISTED = 10  # changes listed in one message; the rest are counted ("and 7 more")
ID_HEADER = "X-Jiradrift-Notification-Id"
SEVERITY_RANK = {"low": 1, "medium": 2, "high": 3}
_SLACK_SECTION_CHARS = 2900  # Slack refuses a section text above 3000 characters


@dataclass(frozen=True)
class ChangeLine:
    key: str
    op: str
    path: str
    severity: str
    name: str | None = None
    changed_by: str | None = None
    affects: int | None = None  # projects the change reaches (None: unknown)
    affects_first: tuple[str, ...] = ()

    @classmethod
    def from_status(cls, change: ChangeSummary | ComparisonDifference) -> ChangeLine:
        """A change as a status lists it (a Snapshot's ``drift.changes``, a comparison's ``first``)."""
        authored = change if isinstance(change, ChangeSummary) else None
        return cls(
            key=change.key,
            op=change.op,
            path=change.path,
            severity=change.severity,
            name=authored.name if authored else None,
            changed_by=authored.changed_by if authored else None,
            affects=change.affects.count if change.affects else None,
            affects_first=tuple(change.affects.first[:5]) if change.affects else (),
        )

    def payload(self, *, authored: bool = True) -> dict[str, Any]:
        """The change in a generic webhook body (``authored``: with its name and who changed it)."""
        who = {"name": self.name} if authored else {}
        out: dict[str, Any] = {"key": self.key, **who, "op": self.op, "path": self.path, "severity": self.severity}
        if authored:
            out["changedBy"] = self.changed_by
        if self.affects is not None:
            out["affects"] = {"count": self.affects, "first": list(self.affects_first)}
        return out

    def affects_text(self) -> str:
        """``3 projects: ABC, DEF, GHI`` (``+N`` for those not named); empty when unknown."""
        if self.affects is None:
            return ""
        named = ", ".join(self.affects_first)
        more = f" +{self.affects - len(self.affects_first)}" if self.affects > len(self.affects_first) else ""
        unit = "project" if self.affects == 1 else "projects"
        return f"{self.affects} {unit}" + (f": {named}{more}" if named else "")


@dataclass(frozen=True)
class DriftNotice:
    """One drifted Snapshot, as every format needs it."""

    namespace: str
    tenant: str
    snapshot: str
    type: str
    phase: str
    site: str
    completion_time: str | None
    baseline: str | None
    snapshot_digest: str | None
    total: int
    added: int
    removed: int
    changed: int
    highest_severity: str | None
    changes: tuple[ChangeLine, ...] = field(default_factory=tuple)

    @classmethod
    def from_snapshot(cls, snapshot: Snapshot | Mapping[str, Any], site: str = "") -> DriftNotice:
        """The notice of a Snapshot (its model, or the API server's JSON: read into the model here)."""
        obj = snapshot if isinstance(snapshot, Snapshot) else read_object(Snapshot, snapshot)
        status = obj.status or SnapshotStatus()
        drift = status.drift or SnapshotDrift()
        return cls(
            namespace=obj.metadata.namespace,
            tenant=obj.spec.tenant_ref.name,
            snapshot=obj.metadata.name,
            type=str(obj.spec.type),
            # what status says; no status (or no phase in it) is "", not the model's default
            phase=str(status.phase) if "phase" in status.model_fields_set else "",
            site=site,
            completion_time=wire_time(status.completion_time),
            baseline=drift.baseline,
            snapshot_digest=status.digest,
            total=drift.total,
            added=drift.added,
            removed=drift.removed,
            changed=drift.changed,
            highest_severity=drift.highest_severity,
            changes=tuple(ChangeLine.from_status(c) for c in drift.changes[:MAX_LISTED]),
        )

    @property
    def omitted(self) -> int:
        """Changes not listed in the message."""
        return max(self.total - len(self.changes), 0)

    @property
    def digest(self) -> str:
        """``sha256:<hex>`` of the Snapshot's content in the notice (the same Snapshot, the same digest).

        The site is left out: it comes from the tenant, which may change or go after the capture."""
        content = {k: v for k, v in asdict(self).items() if k != "site"}
        canonical = orjson.dumps(content, option=orjson.OPT_SORT_KEYS)
        return "sha256:" + hashlib.sha256(canonical).hexdigest()

    def headline(self) -> str:
        severity = self.highest_severity or "unknown"
        return (
            f"Jira drift in {self.namespace}/{self.tenant}: {self.total} change(s) to {self.type}, "
            f"highest severity {severity}"
        )


def severity_at_least(severity: str | None, minimum: str) -> bool:
    return SEVERITY_RANK.get(severity or "", 0) >= SEVERITY_RANK.get(minimum, 1)


def generic_payload(notice: DriftNotice) -> dict[str, Any]:
    """The generic JSON webhook body, ``jiradrift.io/v1alpha1`` ``DriftNotification``
    (schema: ``docs/drift-notification.v1alpha1.schema.json``)."""
    return {
        "apiVersion": PAYLOAD_API_VERSION,
        "kind": PAYLOAD_KIND,
        "id": notice.digest,
        "tenant": {"namespace": notice.namespace, "name": notice.tenant, "site": notice.site},
        "snapshot": {
            "name": notice.snapshot,
            "type": notice.type,
            "phase": notice.phase,
            "completionTime": notice.completion_time,
            "digest": notice.snapshot_digest,
            "baseline": notice.baseline,
        },
        "drift": {
            "total": notice.total,
            "added": notice.added,
            "removed": notice.removed,
            "changed": notice.changed,
            "highestSeverity": notice.highest_severity,
            "changes": [c.payload() for c in notice.changes],
            "omitted": notice.omitted,
        },
    }


def slack_escape(text: str) -> str:
    """Slack mrkdwn control characters: ``<!channel>``, ``<https://…|x>`` and mentions need ``<``."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~])")


def markdown_escape(text: str) -> str:
    """Teams (Adaptive Card) markdown: no links, emphasis or lists from untrusted text."""
    return _MARKDOWN.sub(r"\\\1", text)


def change_text(change: ChangeLine, escape: Any) -> str:
    target = change.key + (f" ({change.name})" if change.name else "") + (f": {change.path}" if change.path else "")
    who = f" — {change.changed_by}" if change.changed_by else ""
    reach = f" — affects {change.affects_text()}" if change.affects is not None else ""
    return f"[{change.severity}] {change.op} {escape(target)}{escape(who)}{escape(reach)}"


def _more(notice: DriftNotice) -> str:
    return f"…and {notice.omitted} more (jiradrift drift list --snapshot {notice.snapshot})" if notice.omitted else ""


@dataclass(frozen=True)
class ChatMessage:
    """What a Slack or a Teams message says, whichever notice it comes from: one layout for drift and
    comparison notifications (:func:`slack_message`, :func:`teams_card`)."""

    headline: str  # plain text
    slack_summary: str  # Slack mrkdwn, escaped by the caller
    facts: tuple[tuple[str, str], ...]  # the Teams FactSet: (title, markdown escaped by the caller)
    changes: tuple[ChangeLine, ...]
    more: str  # plain: how many changes are not listed ("" when none)
    context: str  # plain: the footer (site, time)
    color: str = "Default"  # the Teams headline's colour: Good, Attention or Default


def slack_message(message: ChatMessage) -> dict[str, Any]:
    """A Slack incoming-webhook message: ``text`` (notification fallback) and Block Kit blocks."""
    lines = [f"• {change_text(c, slack_escape)}" for c in message.changes]
    if message.more:
        lines.append(slack_escape(message.more))
    listing = "\n".join(lines)
    if len(listing) > _SLACK_SECTION_CHARS:
        listing = listing[: _SLACK_SECTION_CHARS - 1] + "…"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": message.headline[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": message.slack_summary}},
    ]
    if listing:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": listing}})
    context = slack_escape(message.context)[:300]
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return {"text": slack_escape(message.headline), "blocks": blocks}


def teams_card(message: ChatMessage) -> dict[str, Any]:
    """A Microsoft Teams incoming-webhook message carrying one Adaptive Card (version 1.4)."""
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": markdown_escape(message.headline),
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
            "color": message.color,
        },
        {"type": "FactSet", "facts": [{"title": title, "value": value} for title, value in message.facts]},
    ]
    body += [{"type": "TextBlock", "text": change_text(c, markdown_escape), "wrap": True} for c in message.changes]
    if message.more:
        body.append({"type": "TextBlock", "text": markdown_escape(message.more), "wrap": True, "isSubtle": True})
    return teams_message(body)


def chat_message(notice: DriftNotice) -> ChatMessage:
    """A drift notice as Slack and Teams show it."""
    return ChatMessage(
        headline=notice.headline(),
        slack_summary=(
            f"*{notice.added}* added, *{notice.removed}* removed, *{notice.changed}* changed item(s) "
            f"in snapshot `{slack_escape(notice.snapshot)}` (baseline `{slack_escape(notice.baseline or '-')}`)"
        ),
        facts=(
            ("Tenant", markdown_escape(f"{notice.namespace}/{notice.tenant}")),
            ("Site", markdown_escape(notice.site)),
            ("Snapshot", markdown_escape(notice.snapshot)),
            ("Baseline", markdown_escape(notice.baseline or "-")),
            ("Changes", f"{notice.added} added, {notice.removed} removed, {notice.changed} changed item(s)"),
        ),
        changes=notice.changes,
        more=_more(notice),
        context=f"{notice.site} · {notice.completion_time or ''}",
        color="Attention" if notice.highest_severity == "high" else "Default",
    )


def slack_payload(notice: DriftNotice) -> dict[str, Any]:
    """A Slack incoming-webhook message: ``text`` (notification fallback) and Block Kit blocks."""
    return slack_message(chat_message(notice))


def teams_payload(notice: DriftNotice) -> dict[str, Any]:
    """A Microsoft Teams incoming-webhook message carrying one Adaptive Card (version 1.4)."""
    return teams_card(chat_message(notice))


def teams_message(body: list[dict[str, Any]]) -> dict[str, Any]:
    """A Teams incoming-webhook message carrying one Adaptive Card with ``body``."""
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }


FORMATTERS = {"slack": slack_payload, "teams": teams_payload, "webhook": generic_payload}


def payload_for(kind: str, notice: DriftNotice) -> dict[str, Any]:
    """The body for a destination of type ``kind`` (slack, teams, webhook)."""
    return FORMATTERS[kind](notice)
