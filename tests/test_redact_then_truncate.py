"""Redact, then truncate, everywhere; and credentials too short to redact are never used (issue 23).

The finding: a 400 whose error text echoed the token was cut by ``error_detail`` (500 characters)
inside the token, and the condition message then held the token minus its last character, which no
redaction recognised. A loopback server plays the site (and the token endpoint), echoing the
credential at every offset around the cut.
"""

from __future__ import annotations

import http.server
import json
import random
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from jiradrift.api.conditions import set_condition
from jiradrift.clock import FakeClock
from jiradrift.jira.auth import ApiTokenAuth
from jiradrift.jira.client import ClientSettings, JiraClient
from jiradrift.jira.errors import BadRequest, OAuthError
from jiradrift.jira.oauth import request_client_credentials_token
from jiradrift.jira.token_source import StaticAuthorization
from jiradrift.redact import MIN_LENGTH, REDACTED, clip, redact, remember_secrets
from jiradrift.tokens.secret import AuthKind, SecretFormatError, parse_secret

TOKEN = "ATATT3xFfGF0-echoed-0b5e9d1c7a3f"  # an API token's shape: a long shared prefix, then random


def _fragments(secret: str) -> list[str]:
    """Every piece of ``secret`` of 4 characters or more that starts it or ends it."""
    return [secret[:n] for n in range(4, len(secret) + 1)] + [secret[-n:] for n in range(4, len(secret) + 1)]


class Echo:
    def __init__(self) -> None:
        self.pad = 0
        self.oauth_pad = 0
        self.token_answer: dict[str, Any] | None = None


@pytest.fixture(scope="module")
def echo() -> Iterator[tuple[str, Echo]]:
    state = Echo()

    class Handler(http.server.BaseHTTPRequestHandler):
        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._send(400, {"errorMessages": ["x" * state.pad + f" no user has the token {TOKEN}"]})

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if state.token_answer is not None:
                self._send(200, state.token_answer)
                return
            text = "y" * state.oauth_pad + f" unknown client {TOKEN}"
            data = text.encode()  # not JSON: the raw body becomes the description
            self.send_response(400)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", state
    server.shutdown()


def _client(url: str) -> JiraClient:
    return JiraClient(
        api_base=url + "/rest/api/3",
        token_source=StaticAuthorization(ApiTokenAuth("admin@example.com", TOKEN).header()),
        settings=ClientSettings(max_concurrency=1, requests_per_second=10_000, timeout=10.0),
        clock=FakeClock(),
        rng=random.Random(1),
    )


async def test_a_site_echoing_the_token_across_the_cut_leaves_no_part_of_it_in_the_condition(
    echo: tuple[str, Echo],
) -> None:
    url, state = echo
    remember_secrets({"token": TOKEN})
    prefix = len(" no user has the token ")
    # the cut at 500 characters falls before, inside and after the token
    for pad in range(500 - prefix - len(TOKEN) - 2, 500 - prefix + 2):
        state.pad = pad
        async with _client(url) as jira:
            with pytest.raises(BadRequest) as raised:
                await jira.get_json("/serverInfo")
        condition = set_condition([], "Reachable", False, "JiraError", str(raised.value))[0]["message"]
        leaked = [f for f in _fragments(TOKEN) if f in condition and not REDACTED.startswith(f)]
        assert not leaked, (pad, condition[-80:])


async def test_a_token_endpoint_echoing_the_secret_across_the_cut_leaves_no_part_of_it(
    echo: tuple[str, Echo],
) -> None:
    url, state = echo
    remember_secrets({"client_secret": TOKEN})
    state.token_answer = None
    prefix = len(" unknown client ")
    for pad in (500 - prefix - 5, 200 - prefix - 5):  # the new cut (500) and the old one (200)
        state.oauth_pad = pad
        async with httpx.AsyncClient() as http:
            with pytest.raises(OAuthError) as raised:
                await request_client_credentials_token(
                    client_id="client-id", client_secret=TOKEN, token_url=url + "/oauth/token", http=http
                )
        text = str(raised.value)
        assert not [f for f in _fragments(TOKEN) if f in text and not REDACTED.startswith(f)], text[-80:]


def test_a_text_someone_else_cut_inside_a_credential_is_redacted_from_there() -> None:
    remember_secrets({"token": TOKEN})
    for cut in range(MIN_LENGTH, len(TOKEN)):
        assert redact(f"said: {TOKEN[:cut]}") == f"said: {REDACTED}"
    assert clip(f"{'z' * 10}{TOKEN}", 20) == ("z" * 10 + REDACTED)[:20]
    # a prefix in the middle of a text is not a credential (it could be an ordinary word)
    assert redact(f"said: {TOKEN[:12]} and more") == f"said: {TOKEN[:12]} and more"


@pytest.mark.parametrize(
    ("kind", "values", "short"),
    [
        (AuthKind.API_TOKEN, {"email": "a@example.com", "token": "hunter2"}, "token"),
        (AuthKind.PAT, {"token": "1234"}, "token"),
        (AuthKind.SERVICE_ACCOUNT, {"client_id": "sa", "client_secret": "secret!"}, "client_secret"),
        (
            AuthKind.OAUTH,
            {"client_id": "c", "client_secret": "long-enough-secret", "refresh_token": "rt-1"},
            "refresh_token",
        ),
    ],
)
def test_credentials_too_short_to_redact_are_refused_naming_the_key(
    kind: AuthKind, values: dict[str, str], short: str
) -> None:
    body = {"metadata": {"namespace": "team-a", "name": "acme-jira"}, "stringData": values}
    with pytest.raises(SecretFormatError, match=f"{short} hold fewer than {MIN_LENGTH} characters") as raised:
        parse_secret(body, kind)
    assert values[short] not in str(raised.value)


async def test_a_token_endpoint_answering_a_short_token_is_refused(echo: tuple[str, Echo]) -> None:
    url, state = echo
    state.token_answer = {"access_token": "abc", "expires_in": 3600}
    try:
        async with httpx.AsyncClient() as http:
            with pytest.raises(OAuthError, match=r"unusable_response.*access_token.*fewer than 8"):
                await request_client_credentials_token(
                    client_id="client-id", client_secret=TOKEN, token_url=url + "/oauth/token", http=http
                )
    finally:
        state.token_answer = None


def test_a_stored_access_token_too_short_to_redact_is_never_used_and_gets_replaced() -> None:
    values = {"client_id": "client-id", "client_secret": TOKEN, "refresh_token": TOKEN + "-r", "access_token": "abc"}
    body = {"metadata": {"namespace": "team-a", "name": "acme-jira"}, "stringData": values}
    assert parse_secret(body, AuthKind.OAUTH).access_token is None  # so the next refresh replaces it


def test_an_audit_record_echoing_the_token_is_redacted_before_its_256_character_cut() -> None:
    """A hostile site's audit log lands in Snapshot status as ``changedBy``; the cut at 256 falls in the token."""
    from jiradrift.jira.audit import AuditEntry

    remember_secrets({"token": TOKEN})
    for pad in range(256 - len(TOKEN) - 4, 256):
        entry = AuditEntry("s" * pad + TOKEN, "mallory", "2026-01-01T00:00:00Z", "W", "WORKFLOW", "1")
        text = entry.describe()
        assert len(text) <= 256
        assert not [f for f in _fragments(TOKEN) if f in text and not REDACTED.startswith(f)], (pad, text[-40:])
