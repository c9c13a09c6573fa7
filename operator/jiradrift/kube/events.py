"""Post core/v1 Events on our objects (what `kubectl describe` shows)."""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from jiradrift.kube.client import Kube, KubeError, resource_path
from jiradrift.model.kinds import Severity
from jiradrift.redact import redact

log = logging.getLogger("jiradrift.events")
COMPONENT = "jira-drift-operator"


def drift_event_type(highest: Severity | None) -> str:
    """``Warning`` when the drift's highest severity is high (who can see or do what), else ``Normal``."""
    return "Warning" if highest is Severity.HIGH else "Normal"


def event_body(
    obj: dict[str, Any], type_: str, reason: str, message: str, *, name: str | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """The Event about ``obj``. ``name``: a fixed name, for an Event that must be posted once only
    (a retried step then meets 409 instead of posting it twice); else a unique one."""
    meta = obj["metadata"]
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": name or f"{meta['name'][:200]}.{uuid.uuid4().hex[:12]}",
            "namespace": meta["namespace"],
        },
        "involvedObject": {
            "apiVersion": obj.get("apiVersion"),
            "kind": obj.get("kind"),
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta.get("uid"),
        },
        "type": type_,
        "reason": str(reason),
        "message": redact(message)[:1024],
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }


def once_name(obj: dict[str, Any], reason: str, key: str) -> str:
    """A deterministic Event name: the same object (uid), reason and ``key`` give the same name."""
    meta = obj["metadata"]
    digest = hashlib.sha256(f"{meta.get('uid')}\0{reason}\0{key}".encode()).hexdigest()[:16]
    return f"{meta['name'][:200]}.{digest}"


async def post(
    kube: Kube, obj: dict[str, Any], type_: str, reason: str, message: str, *, once: str | None = None
) -> None:
    """Best effort: an Event that cannot be posted is logged, never raised (Events are advisory).

    ``once``: a key naming this Event among the object's ``reason`` Events (e.g. the Snapshot it
    is about); a retry with the same key posts nothing new.
    """
    meta = obj["metadata"]
    body = event_body(obj, type_, reason, message, name=once_name(obj, reason, once) if once is not None else None)
    try:
        await kube.create(resource_path("", "v1", "events", meta["namespace"]), body)
    except KubeError as exc:
        if once is not None and exc.conflict:
            return  # posted by an earlier attempt
        log.warning(
            "could not post %s Event %s on %s/%s: %s", type_, reason, meta["namespace"], meta["name"], exc.reason
        )
