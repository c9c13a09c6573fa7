"""Remove credentials from any text that may reach a log, an Event, a status message or a metric label.

Two layers:

- patterns: ``Bearer``/``Basic`` header values and ``token=...``-style pairs, whatever their value;
- known values: every credential the process has read from a Secret or received from a token
  endpoint is remembered (:func:`remember_secrets`) and replaced wherever it appears, so an error
  text that quotes a token verbatim (a library's "illegal header value ...", a hostile site echoing
  the Authorization header back) is still redacted.

The remembered set is process-wide on purpose: a logging filter or kopf's own Event poster has no
handler context to pass it through. It keeps the newest :data:`MAX_REMEMBERED` values.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "[REDACTED]"
SENSITIVE_KEYS = frozenset({"token", "api_token", "client_secret", "refresh_token", "access_token", "password"})
MIN_LENGTH = 8  # shorter values would redact ordinary words
MAX_REMEMBERED = 50_000

_SECRETS = [
    (re.compile(r"(?i)\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + REDACTED),
    (
        re.compile(
            r"(?i)([\"']?(?:access_token|refresh_token|client_secret|api_token|token|password)[\"']?\s*[:=]\s*[\"']?)[^\s\"',&}]+"
        ),
        r"\1" + REDACTED,
    ),
]


class _KnownValues:
    def __init__(self) -> None:
        self._values: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self._pattern: re.Pattern[str] | None = None

    def add(self, values: Iterable[str]) -> None:
        with self._lock:
            changed = False
            for value in values:
                value = value.strip()
                if len(value) < MIN_LENGTH:
                    continue
                if value not in self._values:
                    changed = True
                self._values[value] = None
                self._values.move_to_end(value)
            while len(self._values) > MAX_REMEMBERED:
                self._values.popitem(last=False)
                changed = True
            if changed:
                self._pattern = None

    def pattern(self) -> re.Pattern[str] | None:
        with self._lock:
            if self._pattern is None and self._values:
                # longest first, so a value containing another is replaced whole
                ordered = sorted(self._values, key=len, reverse=True)
                self._pattern = re.compile("|".join(re.escape(v) for v in ordered))
            return self._pattern


_KNOWN = _KnownValues()


def remember_secrets(values: Iterable[str] | Mapping[str, str]) -> None:
    """Redact these credential values from now on. A mapping keeps only its :data:`SENSITIVE_KEYS`."""
    if isinstance(values, Mapping):
        values = [v for k, v in values.items() if k in SENSITIVE_KEYS and isinstance(v, str)]
    _KNOWN.add(values)


def redact(text: str) -> str:
    known = _KNOWN.pattern()
    if known is not None:
        text = known.sub(REDACTED, text)
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def redact_strings(value: Any) -> Any:
    """``value`` (JSON-like: dicts, lists, strings) with every string redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_strings(v) for v in value]
    return value
