"""Realistic, deterministic names for generated objects.

Real sites are messy: non-ASCII names, names near the 255-character limit, and different objects
sharing one name. Snapshot code that keys by name instead of id breaks on exactly these, so the
generator produces them on purpose.
"""

from __future__ import annotations

import random

_WORDS = (
    "Customer",
    "Release",
    "Sprint",
    "Risk",
    "Approval",
    "Budget",
    "Region",
    "Severity",
    "Component",
    "Environment",
    "Team",
    "Escalation",
    "Root Cause",
    "Impact",
    "Vendor",
    "Contract",
    "Milestone",
    "Platform",
    "Service",
    "Change",
    "Incident",
    "Compliance",
    "Audit",
    "Invoice",
    "Deployment",
    "Product Area",
    "Story Points",
    "Epic Theme",
    "Sizing",
    "Quarter",
    "Cost Center",
    "Channel",
)
_QUALIFIERS = ("Level", "Type", "Owner", "Date", "Status", "Category", "Code", "Reason", "Tier", "Group")
_UNICODE = (
    "Priorität",
    "Échéance",
    "Überprüfung",
    "Ñandú",
    "Größe",
    "Zuständigkeit",
    "顧客",
    "リリース",
    "결재",
    "Клиент",
    "Ταχύτητα",
    "العميل",
    "Prioridad ✓",
    "Ünïcödé ✨",
    "Çözüm",
    "Łódź Team",
)


class Namer:
    """Produces names from one ``random.Random`` so a (seed, size) pair always yields the same site."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._used: list[str] = []

    def name(self, index: int, *, suffix: str = "") -> str:
        rng = self._rng
        # Every 17th name repeats an earlier one: duplicates by name with different ids.
        if index % 17 == 16 and self._used:
            return self._used[rng.randrange(len(self._used))]
        if index % 23 == 7:
            base = f"{rng.choice(_UNICODE)} {rng.choice(_QUALIFIERS)}"
        elif index % 97 == 41:
            # Near Jira's 255-character limit.
            base = ("Very long name " + " ".join(rng.choice(_WORDS) for _ in range(40)))[:250].rstrip()
        else:
            base = f"{rng.choice(_WORDS)} {rng.choice(_QUALIFIERS)}"
        result = f"{base} {suffix}".rstrip() if suffix else f"{base} {index}"
        self._used.append(result)
        return result


def project_key(index: int) -> str:
    """Unique upper-case keys: A..Z, then two letters and so on, prefixed so they look like keys."""
    letters = ""
    n = index
    while True:
        letters = chr(ord("A") + n % 26) + letters
        n = n // 26 - 1
        if n < 0:
            break
    return "P" + letters
