"""Structured JSON logs with credentials redacted, whatever logger they come from.

kopf turns its own log records about an object (a handler that failed, with its traceback) into
Kubernetes Events through a handler on the ``kopf.objects`` logger. :class:`RedactingFilter` sits on
that handler and on ours, so a record is redacted before it is written *or* posted.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from jiradrift.redact import redact


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and kopf's object reference."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        ref = getattr(record, "k8s_ref", None)
        if isinstance(ref, dict):
            entry["object"] = {k: ref.get(k) for k in ("kind", "namespace", "name") if ref.get(k)}
        if record.exc_info:
            entry["error"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class RedactingFilter(logging.Filter):
    """Redacts a record in place (message, arguments and traceback text) before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = _PLAIN.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class QuietSuccess(logging.Filter):
    """Drops kopf's "Handler '...' succeeded." lines below WARNING. The operator's kopf handlers
    are watch-event handlers: each replica runs them on every event of every JiraTenant and Snapshot,
    its own or not, so at a thousand tenants they were most of the log. ``--verbose`` keeps them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        message = record.getMessage()
        return not (message.startswith("Handler '") and message.endswith("' succeeded."))


_PLAIN = logging.Formatter()
REDACTING_FILTER = RedactingFilter()
QUIET_SUCCESS = QuietSuccess()
KOPF_OBJECT_LOGGER = "kopf.objects"  # kopf's per-object records; its Event poster is a handler here


def install_redaction() -> None:
    """Put :data:`REDACTING_FILTER` on every handler that can emit: the root's and kopf's Event poster."""
    handlers = [*logging.getLogger().handlers, *logging.getLogger(KOPF_OBJECT_LOGGER).handlers]
    for handler in handlers:
        if REDACTING_FILTER not in handler.filters:
            handler.addFilter(REDACTING_FILTER)
    for name in ("kopf", KOPF_OBJECT_LOGGER, "jiradrift"):
        logger = logging.getLogger(name)
        if REDACTING_FILTER not in logger.filters:
            logger.addFilter(REDACTING_FILTER)


def configure(level: int = logging.INFO, json_format: bool = True) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter() if json_format else _RedactingFormatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    install_redaction()
    root.setLevel(level)
    if level > logging.DEBUG:
        logging.getLogger(KOPF_OBJECT_LOGGER).addFilter(QUIET_SUCCESS)
    for noisy in ("aiohttp.access", "kubernetes.client.rest", "urllib3", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))
