"""A snapshot's manifest: which configuration items it holds, by stable key and content hash.

A manifest is all that a snapshot owns; item bodies live once in the content-addressed store.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class CaptureError(BaseModel):
    """One object or endpoint that could not be read; the snapshot is then incomplete."""

    kind: str
    key: str | None = None
    endpoint: str
    status: int | None = None
    message: str


class CaptureMode(StrEnum):
    FULL = "full"  # every kind of the type read from Jira
    INCREMENTAL = "incremental"  # changed objects re-read, the rest carried from ``base``


class CaptureInfo(BaseModel):
    """How a manifest was captured, and where the next incremental window continues from.

    ``reread`` counts the objects read from Jira (for a full capture, every item); ``base`` is the
    snapshot an incremental capture carried its unchanged items from. ``probes`` holds each probed
    kind's fingerprint (what its cheap change probe answered), ``audit_until`` / ``audit_seen``
    where the audit log was read up to and the record ids already acted on: the next window's
    starting point. ``reason`` says why a window that could have been incremental was full.
    """

    mode: CaptureMode = CaptureMode.FULL
    reread: int | None = None  # None: stored before this field existed
    base: str | None = None
    reason: str = ""
    probes: dict[str, str] = Field(default_factory=dict)
    audit_until: datetime | None = None
    audit_seen: list[int] = Field(default_factory=list)


class Manifest(BaseModel):
    """The result of one capture: ``items`` maps a stable item key to the sha256 of its body.

    Item keys look like ``<kind>/<stable id>`` (for example ``workflow/Software Simplified
    Workflow``); ``kinds`` maps each key to its config kind so a diff can rate severity.
    """

    snapshot_id: str
    tenant: str
    type: str
    captured_at: datetime
    site: str = ""
    items: dict[str, str] = Field(default_factory=dict)
    complete: bool = True
    errors: list[CaptureError] = Field(default_factory=list)
    request_count: int = 0
    unchanged_from: str | None = None
    digest: str = ""  # sha256 over sorted (key, hash) pairs: equal digests mean equal content
    # How it was captured (issue 26). Manifests stored before incremental capture load as full.
    capture: CaptureInfo = Field(default_factory=lambda: CaptureInfo())

    @property
    def read_nothing(self) -> bool:
        return read_nothing(len(self.items), self.complete)


def read_nothing(item_count: int, complete: bool) -> bool:
    """A capture that read no item and failed somewhere (e.g. a wrong token: every read 401).

    It is kept as the record of a failure, but is never anyone's baseline, predecessor or
    ``unchanged_from`` reference: compared with it, a whole site would look removed.
    """
    return item_count == 0 and not complete


def compute_digest(items: dict[str, str]) -> str:
    """The content digest of a manifest: sha256 over its sorted ``key NUL hash LF`` lines.

    Two manifests with equal digests hold exactly the same items, so a diff between them is empty
    and a store may keep the newer one as an ``unchanged_from`` reference.
    """
    h = hashlib.sha256()
    for key in sorted(items):
        h.update(key.encode())
        h.update(b"\0")
        h.update(items[key].encode())
        h.update(b"\n")
    return h.hexdigest()
