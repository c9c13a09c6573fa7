"""Remove credentials from any text that may reach a log, an Event, a status message or a metric label.

Two layers:

- patterns: ``Bearer``/``Basic`` header values and ``token=...``-style pairs, whatever their value;
- known values: every credential the process has read from a Secret or received from a token
  endpoint is remembered (:func:`remember_secrets`) and replaced wherever it appears, so an error
  text that quotes a token verbatim (a library's "illegal header value ...", a hostile site echoing
  the Authorization header back) is still redacted.

The remembered set is process-wide on purpose: a logging filter or kopf's own Event poster has no
handler context to pass it through. It keeps the newest :data:`MAX_REMEMBERED` values.

Order matters: a text is redacted *before* it is cut to a length (:func:`clip`), since a cut inside a
credential leaves a prefix that no longer matches the remembered value. As a second line, a text that
ends inside a remembered value (at least :data:`MIN_LENGTH` of its characters) has that tail
redacted too, for texts someone else cut. Values shorter than :data:`MIN_LENGTH` cannot be told apart
from ordinary words, so they cannot be redacted: the readers of credentials refuse them
(:func:`too_short`), and nothing that short is ever sent.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "[REDACTED]"
SENSITIVE_KEYS = frozenset({"token", "api_token", "client_secret", "refresh_token", "access_token", "password"})
MIN_LENGTH = 8  # shorter values would redact ordinary words; credentials that short are refused
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
    """Remembered credential values, indexed by their first :data:`MIN_LENGTH` characters.

    Redacting scans the text once, looking each position's next MIN_LENGTH characters up in the
    index, so the cost grows with the text, not with how many values are remembered (a regex
    alternation of every value made the token job quadratic: 10,000 tenants' tokens).
    """

    def __init__(self) -> None:
        self._values: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        # prefix -> values with that prefix, longest first; lists are replaced, never mutated, so a
        # reader without the lock sees a consistent list
        self._by_prefix: dict[str, tuple[str, ...]] = {}

    def _index(self, value: str) -> None:
        key = value[:MIN_LENGTH]
        self._by_prefix[key] = tuple(sorted((*self._by_prefix.get(key, ()), value), key=len, reverse=True))

    def _unindex(self, value: str) -> None:
        key = value[:MIN_LENGTH]
        rest = tuple(v for v in self._by_prefix.get(key, ()) if v != value)
        if rest:
            self._by_prefix[key] = rest
        else:
            self._by_prefix.pop(key, None)

    def add(self, values: Iterable[str]) -> None:
        with self._lock:
            for value in values:
                value = value.strip()
                if len(value) < MIN_LENGTH:
                    continue
                if value not in self._values:
                    self._index(value)
                self._values[value] = None
                self._values.move_to_end(value)
            while len(self._values) > MAX_REMEMBERED:
                old, _ = self._values.popitem(last=False)
                self._unindex(old)

    def sub(self, text: str) -> str:
        """``text`` with every remembered value replaced (leftmost, longest first)."""
        index = self._by_prefix
        if not index or len(text) < MIN_LENGTH:
            return text
        out: list[str] = []
        last = i = 0
        end = len(text) - MIN_LENGTH
        while i <= end:
            candidates = index.get(text[i : i + MIN_LENGTH])
            if candidates:
                match = next((v for v in candidates if text.startswith(v, i)), None)
                if match is not None:
                    out.append(text[last:i])
                    out.append(REDACTED)
                    i = last = i + len(match)
                    continue
                # the text ends inside a credential (it was cut there); only a tail shorter than a
                # candidate is compared, so this costs at most one credential's length per position
                rest = len(text) - i
                if any(rest < len(v) and v.startswith(text[i:]) for v in candidates):
                    out.append(text[last:i])
                    out.append(REDACTED)
                    last = len(text)
                    break
            i += 1
        if not out:
            return text
        out.append(text[last:])
        return "".join(out)


_KNOWN = _KnownValues()


def remember_secrets(values: Iterable[str] | Mapping[str, str]) -> None:
    """Redact these credential values from now on. A mapping keeps only its :data:`SENSITIVE_KEYS`."""
    if isinstance(values, Mapping):
        values = [v for k, v in values.items() if k in SENSITIVE_KEYS and isinstance(v, str)]
    _KNOWN.add(values)


def redact(text: str) -> str:
    text = _KNOWN.sub(text)
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def clip(text: str, limit: int) -> str:
    """``text`` redacted, then cut to ``limit`` characters: never the other way round, which could cut a
    credential so that what is left no longer matches it."""
    return redact(text)[:limit]


def too_short(values: Mapping[str, str], keys: Iterable[str] = SENSITIVE_KEYS) -> list[str]:
    """The ``keys`` of ``values`` holding a non-empty credential shorter than :data:`MIN_LENGTH`
    characters: such a value cannot be redacted from messages (it would match ordinary words) and is
    guessable, so whoever reads credentials refuses it."""
    return sorted(k for k in keys if 0 < len(values.get(k, "").strip()) < MIN_LENGTH)


def redact_strings(value: Any) -> Any:
    """``value`` (JSON-like: dicts, lists, strings) with every string redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_strings(v) for v in value]
    return value
