"""The scopes jiradrift asks for, and how granted scopes are judged (read-only or write-capable).

Write detection is :func:`jiradrift.jira.oauth.write_scopes` (classic ``write:*`` / ``manage:*``,
granular ``write:*`` / ``delete:*``); this module only adds the recommended read-only set and the
condition text.
"""

from __future__ import annotations

from collections.abc import Iterable

from jiradrift.jira.oauth import write_scopes

# Every granular read scope the configuration endpoints need (reference/jira-api.md 4.5).
GRANULAR_READ_SCOPES: tuple[str, ...] = (
    "read:field:jira",
    "read:field-configuration:jira",
    "read:field-configuration-scheme:jira",
    "read:custom-field-contextual-configuration:jira",
    "read:field.option:jira",
    "read:field.default-value:jira",
    "read:issue-type:jira",
    "read:issue-type-scheme:jira",
    "read:issue-type-screen-scheme:jira",
    "read:issue-type-hierarchy:jira",
    "read:screen:jira",
    "read:screen-tab:jira",
    "read:screenable-field:jira",
    "read:screen-scheme:jira",
    "read:workflow:jira",
    "read:workflow-scheme:jira",
    "read:status:jira",
    "read:priority:jira",
    "read:priority-scheme:jira",
    "read:resolution:jira",
    "read:issue-link-type:jira",
    "read:issue-event:jira",
    "read:permission:jira",
    "read:permission-scheme:jira",
    "read:notification-scheme:jira",
    "read:issue-security-scheme:jira",
    "read:issue-security-level:jira",
    "read:project:jira",
    "read:project-role:jira",
    "read:project-category:jira",
    "read:project.component:jira",
    "read:project-version:jira",
    "read:project.property:jira",
    "read:instance-configuration:jira",
    "read:issue.time-tracking:jira",
    "read:application-role:jira",
    "read:dashboard:jira",
    "read:filter:jira",
    "read:jql:jira",
    "read:audit-log:jira",
    "read:user:jira",
    "read:group:jira",
    "read:avatar:jira",
    "read:webhook:jira",
)
OFFLINE_ACCESS = "offline_access"
LOGIN_SCOPES: tuple[str, ...] = (*GRANULAR_READ_SCOPES, OFFLINE_ACCESS)
"""What ``jiradrift auth login`` requests by default."""


def write_scopes_message(granted: Iterable[str], *, allowed: bool) -> str:
    """The ``ScopesReadOnly=False`` message: which scopes can write, and what to do."""
    writes = write_scopes(list(granted))
    if allowed:
        return (
            f"granted write-capable scope(s) {' '.join(writes)}; accepted because spec.auth.allowWriteScopes "
            "is true (jiradrift still only reads)"
        )
    return (
        f"granted write-capable scope(s) {' '.join(writes)}; captures are refused. Fix: give the app only "
        f"the granular read scopes and re-consent with `jiradrift auth login` (it requests "
        f"{' '.join(LOGIN_SCOPES)}), or set spec.auth.allowWriteScopes: true to accept the risk"
    )
