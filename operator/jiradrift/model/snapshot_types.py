"""The snapshot types: groups of configuration kinds captured together.

This list is the contract between the CRDs (``spec.type``, ``spec.snapshotTypes``), the
capture catalog and the CLI. Adding a type here adds it everywhere.
"""

from __future__ import annotations

from enum import StrEnum


class SnapshotType(StrEnum):
    """A group of Jira configuration kinds that are captured and diffed together."""

    INSTANCE = "instance"  # global settings, application roles, events, permission keys, time tracking
    FIELDS = "fields"  # fields, custom-field contexts, options, context mappings
    ISSUETYPES = "issuetypes"  # issue types, issue type schemes, issue type screen schemes
    SCREENS = "screens"  # screens, tabs, tab fields, screen schemes, field configurations (+ schemes)
    WORKFLOWS = "workflows"  # statuses, status categories, workflows, workflow schemes
    PRIORITIES = "priorities"  # priorities, priority schemes, resolutions, issue link types
    SCHEMES = "schemes"  # permission, notification and issue-security schemes
    PROJECTS = "projects"  # projects, their scheme associations, roles, components, categories


ALL_SNAPSHOT_TYPES: tuple[SnapshotType, ...] = tuple(SnapshotType)
