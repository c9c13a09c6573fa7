from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

from jiradrift.api.conditions import find, set_condition
from jiradrift.logs import JsonFormatter
from jiradrift.redact import redact

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_transition_time_moves_only_when_status_flips() -> None:
    c = set_condition([], "Reachable", True, "Reachable", "ok", generation=1, now=T0)
    c = set_condition(c, "Reachable", True, "Reachable", "still ok", generation=2, now=T0 + timedelta(hours=1))
    entry = find(c, "Reachable")
    assert entry is not None
    assert entry["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert entry["observedGeneration"] == 2 and entry["message"] == "still ok"
    c = set_condition(c, "Reachable", False, "Unreachable", "down", now=T0 + timedelta(hours=2))
    entry = find(c, "Reachable")
    assert entry is not None and entry["lastTransitionTime"] == "2026-01-01T02:00:00Z"


def test_ready_sorts_first() -> None:
    c = set_condition([], "TokenFresh", True, "Fresh", "", now=T0)
    c = set_condition(c, "Ready", True, "Ready", "", now=T0)
    assert [x["type"] for x in c] == ["Ready", "TokenFresh"]


def test_secrets_are_redacted_in_text_and_logs() -> None:
    text = 'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc {"refresh_token": "r-123456", "client_secret":"s3cr3t"}'
    out = redact(text)
    for secret in ("eyJhbGciOiJIUzI1NiJ9", "r-123456", "s3cr3t"):
        assert secret not in out
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "got %s", (text,), None)
    line = json.loads(JsonFormatter().format(record))
    assert "s3cr3t" not in line["message"] and line["level"] == "info"


def test_a_credential_read_once_is_redacted_wherever_it_appears_verbatim() -> None:
    from jiradrift.redact import remember_secrets

    sentinel = "sentinel-cred-6f1d2a9b"
    assert redact(f"Illegal header value b'{sentinel}\\n'") == f"Illegal header value b'{sentinel}\\n'"
    remember_secrets({"token": sentinel, "email": "admin@acme.example"})
    assert sentinel not in redact(f"Illegal header value b'{sentinel}\\n'")
    assert "admin@acme.example" in redact("admin@acme.example")  # not a credential: kept


def test_condition_messages_are_redacted() -> None:
    c = set_condition([], "Reachable", False, "UnexpectedError", "ValueError: Bearer abcdefghijkl", now=T0)
    assert "abcdefghijkl" not in c[0]["message"]


def test_kopf_failure_records_are_redacted_before_they_become_events() -> None:
    """kopf posts its own handler failures (with traceback) as Events through a handler on the
    ``kopf.objects`` logger; the redaction filter runs before that handler sees the record."""
    import sys

    import kopf  # noqa: F401  (registers kopf's Event poster on kopf.objects)

    from jiradrift.logs import KOPF_OBJECT_LOGGER, install_redaction
    from jiradrift.redact import remember_secrets

    sentinel = "sentinel-kopf-0c7e55aa"
    remember_secrets({"client_secret": sentinel})
    posted: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            posted.append(self.format(record))

    logger = logging.getLogger(KOPF_OBJECT_LOGGER)
    capture = Capture()
    logger.addHandler(capture)
    try:
        install_redaction()
        try:
            raise RuntimeError(f"token endpoint said {sentinel}")
        except RuntimeError:
            logger.error("Handler 'x' failed with an exception: %s", sentinel, exc_info=sys.exc_info())
    finally:
        logger.removeHandler(capture)
    assert posted and all(sentinel not in text for text in posted), posted
    assert "RuntimeError" in posted[0]


def test_known_values_are_found_among_many_longest_first() -> None:
    from jiradrift.redact import REDACTED, redact, remember_secrets

    many = [f"tok-{i:06d}-{'x' * 20}" for i in range(20_000)]
    for value in many:  # one at a time, as the token job remembers each tenant's tokens
        remember_secrets([value])
    remember_secrets(["shared-prefix-A", "shared-prefix-A-and-more"])
    text = f"a {many[17_000]} b shared-prefix-A-and-more c shared-prefix-A d shared-pre e"
    assert redact(text) == f"a {REDACTED} b {REDACTED} c {REDACTED} d shared-pre e"
    # a text that ends inside a credential was cut there: the cut credential is redacted (issue 23)
    assert redact("d shared-pre") == f"d {REDACTED}"
