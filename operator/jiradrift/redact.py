"""Remove credentials from any text that may reach a log, an Event or a status message."""

from __future__ import annotations

import re

_SECRETS = [
    (re.compile(r"(?i)\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 [REDACTED]"),
    (
        re.compile(
            r"(?i)([\"']?(?:access_token|refresh_token|client_secret|api_token|token|password)[\"']?\s*[:=]\s*[\"']?)[^\s\"',&}]+"
        ),
        r"\1[REDACTED]",
    ),
]


def redact(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text
