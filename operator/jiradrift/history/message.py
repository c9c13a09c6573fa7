"""The commit of one snapshot: its authors, committer, message and trailers.

    authors = people(report.authors)                     # the Jira users the audit log names
    text = commit_message(meta, report, authors)         # subject, the changes, trailers

The author is the Jira user the audit log attributes the most changes to (``DriftReport.authors``,
kept in the store with the report, most changes first; display name; an address
under ``users.noreply.jiradrift.invalid`` when Jira hides the e-mail, which no mail system
delivers: ``.invalid`` is reserved); every other attributed user is a ``Co-authored-by:`` trailer.
With no attribution (a token without the audit scope, a report stored before authors were kept)
the operator is the author.
The ``Jiradrift-Snapshot`` trailer is what makes a commit exactly-once: a snapshot whose name is
on the branch is never committed again.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from jiradrift.model.report import Change, DriftAuthor, DriftReport

NOREPLY_DOMAIN = "users.noreply.jiradrift.invalid"
TRAILER_SNAPSHOT = "Jiradrift-Snapshot"
TRAILER_DIGEST = "Jiradrift-Digest"
TRAILER_TENANT = "Jiradrift-Tenant"
TRAILER_TYPE = "Jiradrift-Type"
MAX_LISTED = 50  # changes listed in a message; the rest are counted
_IDENT_UNSAFE = re.compile(r"[<>\n\r\0]")


@dataclass(frozen=True, slots=True)
class Person:
    """A git identity: ``name <email>``."""

    name: str
    email: str

    def ident(self) -> str:
        return f"{_clean(self.name) or 'unknown'} <{_clean(self.email)}>"


OPERATOR = Person("jiradrift", f"operator@{NOREPLY_DOMAIN}")


def _clean(text: str) -> str:
    return _IDENT_UNSAFE.sub("", text).strip()


def jira_person(account_id: str, display_name: str = "", email: str = "") -> Person:
    """A Jira user as a git identity; the account id is the address when the e-mail is hidden."""
    local = re.sub(r"[^A-Za-z0-9._:+-]", "-", account_id) or "unknown"
    return Person(display_name or account_id, email or f"{local}@{NOREPLY_DOMAIN}")


def people(authors: Iterable[DriftAuthor]) -> list[Person]:
    """A report's authors (``DriftReport.authors``, most changes first) as git identities, in order."""
    return [jira_person(a.account_id, a.display_name, a.email) for a in authors]


@dataclass(frozen=True, slots=True)
class CommitMeta:
    snapshot: str
    digest: str
    tenant: str
    type: str
    captured_at: datetime
    site: str = ""
    objects: int = 0


def _severities(changes: list[Change]) -> str:
    counts = Counter(c.severity.value for c in changes)
    return ", ".join(f"{s} {counts[s]}" for s in ("high", "medium", "low") if counts[s])


def _line(change: Change) -> str:
    what = change.name or change.key
    path = f" {change.path}" if change.path else ""
    affects = f" (affects {change.affects_text()})" if change.affects is not None else ""
    return f"- [{change.severity.value}] {change.op.value} {change.kind} {what!r}{path}{affects}"


def commit_message(meta: CommitMeta, report: DriftReport | None, people: list[Person], *, files: int = 0) -> str:
    """Subject, the changes with severities and affected projects, then the trailers."""
    changes = report.changes if report is not None else []
    where = f" on {meta.site}" if meta.site else ""
    if report is None or report.old_snapshot is None:
        subject = f"{meta.type}: {meta.objects} objects{where} (first snapshot)"
    elif changes:
        subject = f"{meta.type}: {len(changes)} change(s){where} ({_severities(changes)})"
    else:
        subject = f"{meta.type}: {files} file(s) changed{where}"
    lines = [subject[:200], ""]
    if changes:
        lines += [_line(c)[:300] for c in changes[:MAX_LISTED]]
        if len(changes) > MAX_LISTED:
            lines.append(f"- ... and {len(changes) - MAX_LISTED} more")
        lines.append("")
    when = meta.captured_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    lines.append(f"Captured {when} by Snapshot {meta.snapshot}.")
    lines.append("")
    lines.append(f"{TRAILER_SNAPSHOT}: {meta.snapshot}")
    lines.append(f"{TRAILER_TYPE}: {meta.type}")
    lines.append(f"{TRAILER_TENANT}: {meta.tenant}")
    lines.append(f"{TRAILER_DIGEST}: sha256:{meta.digest}")
    lines += [f"Co-authored-by: {p.ident()}" for p in people[1:]]
    return "\n".join(lines) + "\n"
