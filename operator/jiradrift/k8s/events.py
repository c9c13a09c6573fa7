"""Post core/v1 Events on our objects (what `kubectl describe` shows)."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from jiradrift.model.kinds import Severity
from jiradrift.redact import redact

log = logging.getLogger("jiradrift.events")
COMPONENT = "jira-drift-operator"


def drift_event_type(highest: Severity | None) -> str:
    """``Warning`` when the drift's highest severity is high (who can see or do what), else ``Normal``."""
    return "Warning" if highest is Severity.HIGH else "Normal"


def event_body(obj: dict[str, Any], type_: str, reason: str, message: str) -> dict[str, Any]:
    """A core/v1 Event on ``obj`` (its message redacted and bounded)."""
    meta = obj["metadata"]
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{meta['name'][:200]}.{uuid.uuid4().hex[:12]}", "namespace": meta["namespace"]},
        "involvedObject": {
            "apiVersion": obj.get("apiVersion"),
            "kind": obj.get("kind"),
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta.get("uid"),
        },
        "type": type_,
        "reason": reason,
        "message": redact(message)[:1024],
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }
    return body


def post(api: k8s.ApiClient, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
    """Best effort: an Event that cannot be posted is logged, never raised (Events are advisory)."""
    meta = obj["metadata"]
    body: Any = event_body(obj, type_, reason, message)
    try:
        k8s.CoreV1Api(api).create_namespaced_event(meta["namespace"], body)
    except ApiException as exc:
        log.warning(
            "could not post %s Event %s on %s/%s: %s",
            type_,
            reason,
            meta["namespace"],
            meta["name"],
            exc.reason,
        )
