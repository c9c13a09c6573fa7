"""Site sizes: how many objects of each kind a generated site holds.

A ``SiteSpec`` is plain data so a test can ask for an odd site (``SiteSpec.for_size("small").with_(
custom_fields=0)``) without touching the generator.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

SIZES = ("tiny", "small", "medium", "large", "xl")


@dataclass(frozen=True)
class SiteSpec:
    """Object counts for a generated site. Children (contexts, options, tab fields, field
    configuration items) are derived lazily from the seed, so only top-level counts live here."""

    name: str
    custom_fields: int
    projects: int
    workflows: int
    screens: int
    permission_schemes: int
    statuses: int
    issue_types: int
    priorities: int
    resolutions: int
    notification_schemes: int
    security_schemes: int
    field_configurations: int
    audit_records: int
    max_options: int = 30  # per context; one field in 500 gets a huge context (cf. Salto's 10K-options case)

    @classmethod
    def for_size(cls, size: str) -> SiteSpec:
        try:
            return _SIZES[size]
        except KeyError:
            raise ValueError(f"unknown site size {size!r}; choose one of {', '.join(SIZES)}") from None

    def with_(self, **changes: Any) -> SiteSpec:
        return replace(self, **changes)


_SIZES: dict[str, SiteSpec] = {
    "tiny": SiteSpec(
        "tiny",
        custom_fields=6,
        projects=3,
        workflows=3,
        screens=4,
        permission_schemes=2,
        statuses=8,
        issue_types=5,
        priorities=5,
        resolutions=4,
        notification_schemes=2,
        security_schemes=1,
        field_configurations=2,
        audit_records=10,
        max_options=5,
    ),
    "small": SiteSpec(
        "small",
        custom_fields=40,
        projects=15,
        workflows=12,
        screens=30,
        permission_schemes=5,
        statuses=30,
        issue_types=10,
        priorities=6,
        resolutions=6,
        notification_schemes=4,
        security_schemes=3,
        field_configurations=6,
        audit_records=120,
        max_options=12,
    ),
    "medium": SiteSpec(
        "medium",
        custom_fields=400,
        projects=150,
        workflows=80,
        screens=250,
        permission_schemes=30,
        statuses=120,
        issue_types=25,
        priorities=8,
        resolutions=10,
        notification_schemes=20,
        security_schemes=10,
        field_configurations=40,
        audit_records=1500,
    ),
    "large": SiteSpec(
        "large",
        custom_fields=1500,
        projects=500,
        workflows=250,
        screens=800,
        permission_schemes=100,
        statuses=300,
        issue_types=40,
        priorities=10,
        resolutions=15,
        notification_schemes=60,
        security_schemes=30,
        field_configurations=120,
        audit_records=5000,
    ),
    "xl": SiteSpec(
        "xl",
        custom_fields=3200,
        projects=1000,
        workflows=500,
        screens=1500,
        permission_schemes=200,
        statuses=600,
        issue_types=60,
        priorities=12,
        resolutions=20,
        notification_schemes=120,
        security_schemes=60,
        field_configurations=250,
        audit_records=10000,
    ),
}
