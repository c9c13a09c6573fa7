"""The S3 store on a pod's cloud identity (IRSA): the projected token exchanged at STS
(``jiradrift.sim.sts``, on loopback) for temporary credentials, which sign every request to the real
S3 server (versitygw, behind the session-token gate of tests/store/sts_gate.py, which checks the
session token and signature the way S3 does)."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from tests.plugins.s3 import S3Server
from tests.store.builders import emulator_client
from tests.store.sts_gate import SessionGate, serve_app

from jiradrift.model.store_errors import StoreError
from jiradrift.sim.clock import ManualClock
from jiradrift.sim.emulator import RunningEmulator
from jiradrift.sim.sts import StsEmulator
from jiradrift.snapshot.capture import capture_snapshot
from jiradrift.store.credentials import check_credentials_env, credentials_from_env
from jiradrift.store.s3 import S3Store
from jiradrift.store.s3client import S3Client, S3Config, S3Error
from jiradrift.store.sigv4 import Credentials
from jiradrift.store.webidentity import (
    WebIdentityConfig,
    WebIdentityCredentials,
    WebIdentityError,
    parse_assume_role_response,
    sts_endpoint,
)

ROLE = "arn:aws:iam::123456789012:role/jiradrift-snapshots"
AT = datetime(2026, 3, 1, tzinfo=UTC)


@dataclass
class Irsa:
    sts: StsEmulator
    sts_url: str
    gate: SessionGate
    s3_url: str  # the gate in front of versitygw
    token_file: Path
    clock: ManualClock

    def write_token(self, token: str) -> None:
        self.token_file.write_text(token + "\n")  # kubelet rewrites the projected file in place

    def config(self, bucket: str) -> S3Config:
        return S3Config(endpoint=self.s3_url, bucket=bucket, retry_backoff_seconds=0.01)

    def web_identity(self) -> WebIdentityConfig:
        return WebIdentityConfig(token_file=self.token_file, role_arn=ROLE, sts_endpoint=self.sts_url)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.now(), UTC)


@pytest.fixture
async def irsa(s3_server: S3Server, tmp_path: Path) -> AsyncIterator[Irsa]:
    clock = ManualClock(start=datetime.now(UTC).timestamp())
    sts = StsEmulator(role_arn=ROLE, tokens={"projected-token-one"}, lifetime_seconds=900, clock=clock)
    gate = SessionGate(sts, s3_server.endpoint, s3_server.credentials)
    async with sts.serve() as sts_url, gate.serve() as s3_url:
        irsa = Irsa(sts, sts_url, gate, s3_url, tmp_path / "token", clock)
        irsa.write_token("projected-token-one")
        yield irsa


@pytest.fixture
async def bucket(s3_server: S3Server, s3_bucket: str) -> str:
    async with S3Client.connect(s3_server.config(s3_bucket), s3_server.credentials) as root:
        await root.create_bucket()
    return s3_bucket


def _client(
    irsa: Irsa, bucket: str, *, now: Callable[[], datetime] | None = None
) -> tuple[S3Client, WebIdentityCredentials]:
    """A client whose credentials read the test's clock (shared with STS); closing it closes its connections."""
    http = httpx.AsyncClient()
    provider = WebIdentityCredentials(irsa.web_identity(), http, now=now or irsa.now)
    return S3Client(irsa.config(bucket), provider, http), provider


async def test_a_capture_round_trip_with_only_the_web_identity_variables_set(
    irsa: Irsa,
    bucket: str,
    jira_sim: RunningEmulator,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ROLE_SESSION_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(irsa.token_file))
    monkeypatch.setenv("AWS_ROLE_ARN", ROLE)
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", irsa.sts_url)
    caplog.set_level(logging.DEBUG)
    jira = await emulator_client(jira_sim)
    async with S3Client.connect(irsa.config(bucket)) as client, jira:
        taken = await asyncio.wait_for(
            capture_snapshot(
                jira, S3Store(client), tenant="ns/acme", snapshot_type="fields", snapshot_id="f1", captured_at=AT
            ),
            timeout=60,
        )
        again = await S3Store(client).get_manifest("f1")
    assert taken.complete and len(taken.items) > 10 and again.items == taken.items
    [call] = irsa.sts.calls  # one exchange for the whole capture
    assert (call.status, call.role_arn, call.token) == (200, ROLE, "projected-token-one")
    assert re.fullmatch(r"jiradrift-\d+", call.session_name)
    [session] = irsa.sts.sessions.values()
    assert len(irsa.gate.tokens_seen) > 10 and set(irsa.gate.tokens_seen) == {session.session_token}
    assert irsa.gate.refused == []
    for secret in ("projected-token-one", session.secret_access_key, session.session_token):
        assert secret not in caplog.text
    assert "assumed " + ROLE in caplog.text  # the exchange is logged, without its secrets


async def test_credentials_are_refreshed_early_with_the_rotated_token_once_for_concurrent_requests(
    irsa: Irsa, bucket: str
) -> None:
    client, provider = _client(irsa, bucket)
    async with client:
        await client.put("a", b"1")
        first = irsa.gate.tokens_seen[-1]
        irsa.write_token("projected-token-two")  # Kubernetes rotated the projected token
        irsa.sts.rotate("projected-token-two")  # and the old one is no longer accepted
        irsa.clock.advance(599)  # 900 s credentials: refreshed from 600 s on (5 minutes early)
        await client.put("b", b"2")
        assert len(irsa.sts.calls) == 1 and irsa.gate.tokens_seen[-1] == first
        irsa.clock.advance(2)
        bodies = await asyncio.gather(*(client.get(k) for k in ["a", "b"] * 5))
        assert [b for b, _ in bodies if b] == [b"1", b"2"] * 5  # type: ignore[misc]
    assert [(c.status, c.token) for c in irsa.sts.calls] == [(200, "projected-token-one"), (200, "projected-token-two")]
    second = irsa.gate.tokens_seen[-1]
    assert second != first and set(irsa.gate.tokens_seen[2:]) == {second}
    assert irsa.sts.sessions[second].token == "projected-token-two" and provider.exchanges == 2


async def test_expired_session_credentials_are_refused_by_the_gate(irsa: Irsa, bucket: str) -> None:
    """The gate can fail: the first session's keys, used after their expiry, get S3's ExpiredToken."""
    client, _ = _client(irsa, bucket)
    async with client:
        await client.put("a", b"1")
    session = irsa.sts.sessions[irsa.gate.tokens_seen[-1]]
    irsa.clock.advance(901)
    stale = Credentials(session.access_key_id, session.secret_access_key, session.session_token)
    async with S3Client.connect(irsa.config(bucket), stale) as old:
        with pytest.raises(S3Error) as caught:
            await old.get("a")
    assert caught.value.code == "ExpiredToken" and irsa.gate.refused == ["ExpiredToken"]


async def test_a_session_s3_calls_expired_is_exchanged_again_at_once(irsa: Irsa, bucket: str) -> None:
    """The pod's clock lags (it thinks the credentials are fresh); S3 says ExpiredToken: exchange, retry."""
    frozen = irsa.now()
    client, _ = _client(irsa, bucket, now=lambda: frozen)
    async with client:
        await client.put("a", b"1")
        irsa.clock.advance(1000)
        assert (await client.get("a"))[0] == b"1"  # type: ignore[index]
    assert irsa.gate.refused == ["ExpiredToken"] and [c.status for c in irsa.sts.calls] == [200, 200]


async def test_a_failed_refresh_keeps_the_valid_credentials_until_they_expire(
    irsa: Irsa, bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    client, _ = _client(irsa, bucket)
    async with client:
        await client.put("a", b"1")
        irsa.sts.rotate("a-token-this-pod-does-not-have")
        irsa.clock.advance(601)
        await client.put("b", b"2")  # refresh refused, the current session still valid
        assert "refreshing failed" in caplog.text and "InvalidIdentityToken" in caplog.text
        irsa.clock.advance(10)
        await client.put("c", b"3")  # no new attempt within 30 seconds of the failed one
        assert [c.status for c in irsa.sts.calls] == [200, 400]
        irsa.clock.advance(300)  # past the expiry
        with pytest.raises(WebIdentityError, match="InvalidIdentityToken"):
            await client.get("a")


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("wrong-token", r"STS refused with HTTP 400 InvalidIdentityToken: .*trust policy must name the cluster's OIDC"),
        ("wrong-role", r"STS refused with HTTP 403 AccessDenied: Not authorized .*system:serviceaccount"),
        ("no-file", r"cannot read the web-identity token file .*token \(AWS_WEB_IDENTITY_TOKEN_FILE\): No such file"),
        ("empty-file", r"token file .* is empty"),
    ],
)
async def test_an_sts_refusal_is_a_store_error_naming_the_cause_and_the_fix(
    irsa: Irsa, bucket: str, setup: str, expected: str, caplog: pytest.LogCaptureFixture
) -> None:
    config = irsa.web_identity()
    if setup == "wrong-token":
        irsa.write_token("projected-token-of-another-cluster")
    elif setup == "wrong-role":
        config = WebIdentityConfig(token_file=irsa.token_file, role_arn=ROLE + "-other", sts_endpoint=irsa.sts_url)
    elif setup == "no-file":
        irsa.token_file.unlink()
    else:
        irsa.write_token("")
    async with S3Client.connect(irsa.config(bucket), config) as client:
        with pytest.raises(StoreError, match=expected) as caught:
            await S3Store(client).list_snapshots()
    assert "projected-token" not in str(caught.value) and "projected-token" not in caplog.text
    assert irsa.gate.tokens_seen == []
    assert len(irsa.sts.calls) == (1 if setup.startswith("wrong") else 0)  # a refusal is not retried


async def test_transient_sts_failures_are_retried_a_bounded_number_of_times(irsa: Irsa, bucket: str) -> None:
    irsa.sts.fail_next = [(503, "ServiceUnavailable"), (400, "IDPCommunicationError")]
    client, _ = _client(irsa, bucket)
    async with client:
        await client.put("a", b"1")
        assert [(c.status, c.code) for c in irsa.sts.calls] == [
            (503, "ServiceUnavailable"),
            (400, "IDPCommunicationError"),
            (200, ""),
        ]
    irsa.sts.fail_next = [(400, "IDPCommunicationError")] * 3
    client, _ = _client(irsa, bucket)
    async with client:
        with pytest.raises(WebIdentityError, match="IDPCommunicationError: Injected by the test; STS could not reach"):
            await client.get("a")
    assert len(irsa.sts.calls) == 6 and irsa.sts.fail_next == []


Answer = tuple[int, bytes, str]  # status, body, content type


async def _hostile_sts(answer: Answer | None) -> web.Application:
    async def handle(request: web.Request) -> web.StreamResponse:
        if answer is not None:
            status, body, content_type = answer
            return web.Response(status=status, body=body, content_type=content_type)
        response = web.StreamResponse()
        await response.prepare(request)
        while True:  # a trickle that never ends
            await response.write(b"<a>")
            await asyncio.sleep(0.05)

    app = web.Application()
    app.router.add_route("*", "/", handle)
    return app


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ((200, b"<html>login page</html", "text/html"), r"the answer is not STS XML"),
        ((200, b"<Ok/>", "text/xml"), r"the answer has no AccessKeyId"),
        ((200, b"<a>" * 30_000, "text/xml"), r"the answer exceeded 65536 bytes"),
        ((500, b"oops", "text/plain"), r"STS refused with HTTP 500 no STS error in the answer"),
        (None, r"no complete answer within 0.5s"),
    ],
    ids=["not-xml", "no-credentials", "too-large", "no-error-xml", "trickle"],
)
async def test_a_hostile_sts_answer_is_bounded_and_named(
    irsa: Irsa, bucket: str, answer: Answer | None, expected: str
) -> None:
    async with serve_app(await _hostile_sts(answer)) as url:
        config = WebIdentityConfig(token_file=irsa.token_file, role_arn=ROLE, sts_endpoint=url, timeout_seconds=0.5)
        async with S3Client.connect(irsa.config(bucket), config) as client:
            with pytest.raises(WebIdentityError, match=expected):
                await client.get("a")


def test_an_answer_declaring_a_dtd_is_refused_before_parsing() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'
    with pytest.raises(WebIdentityError, match="declares a DTD"):
        parse_assume_role_response(200, bomb, what="AssumeRoleWithWebIdentity")


def test_sts_error_messages_are_redacted_and_bounded() -> None:
    body = (
        b"<ErrorResponse><Error><Code>InvalidIdentityToken</Code><Message>token=abcdefgh12345 "
        + b"x" * 2000
        + b"</Message></Error></ErrorResponse>"
    )
    with pytest.raises(WebIdentityError) as caught:
        parse_assume_role_response(400, body, what="exchange")
    assert "abcdefgh12345" not in str(caught.value) and len(str(caught.value)) < 700
    assert caught.value.code == "InvalidIdentityToken"


def test_the_sts_endpoint_follows_the_sdk_variables() -> None:
    assert sts_endpoint({}, "eu-west-1") == "https://sts.eu-west-1.amazonaws.com"
    assert sts_endpoint({"AWS_REGION": "eu-central-1"}, "us-east-1") == "https://sts.eu-central-1.amazonaws.com"
    assert sts_endpoint({"AWS_STS_REGIONAL_ENDPOINTS": "legacy"}, "us-east-1") == "https://sts.amazonaws.com"
    assert sts_endpoint({"AWS_STS_REGIONAL_ENDPOINTS": "legacy"}, "eu-west-1") == "https://sts.eu-west-1.amazonaws.com"
    assert sts_endpoint({}, "cn-north-1") == "https://sts.cn-north-1.amazonaws.com.cn"
    assert sts_endpoint({"AWS_ENDPOINT_URL_STS": "http://127.0.0.1:9/"}, "eu-west-1") == "http://127.0.0.1:9"
    with pytest.raises(WebIdentityError, match="AWS_ENDPOINT_URL_STS"):
        sts_endpoint({"AWS_ENDPOINT_URL_STS": "sts.example.com"}, "eu-west-1")


def test_static_keys_win_and_web_identity_needs_both_variables(tmp_path: Path) -> None:
    both = {
        "AWS_ACCESS_KEY_ID": "AKID",
        "AWS_SECRET_ACCESS_KEY": "s",
        "AWS_WEB_IDENTITY_TOKEN_FILE": "/t",
        "AWS_ROLE_ARN": ROLE,
    }
    assert isinstance(credentials_from_env(both), Credentials)
    found = credentials_from_env({"AWS_WEB_IDENTITY_TOKEN_FILE": "/t", "AWS_ROLE_ARN": ROLE}, region="eu-west-1")
    assert isinstance(found, WebIdentityConfig) and found.sts_endpoint == "https://sts.eu-west-1.amazonaws.com"
    with pytest.raises(WebIdentityError, match=r"AWS_ROLE_ARN is not set.*eks.amazonaws.com/role-arn"):
        credentials_from_env({"AWS_WEB_IDENTITY_TOKEN_FILE": "/t"})
    with pytest.raises(WebIdentityError, match="not a role ARN"):
        credentials_from_env({"AWS_WEB_IDENTITY_TOKEN_FILE": "/t", "AWS_ROLE_ARN": "jiradrift"})
    with pytest.raises(WebIdentityError, match="AWS_ROLE_SESSION_NAME"):
        credentials_from_env(
            {"AWS_WEB_IDENTITY_TOKEN_FILE": "/t", "AWS_ROLE_ARN": ROLE, "AWS_ROLE_SESSION_NAME": "a b"}
        )
    with pytest.raises(StoreError, match=r"AWS_ACCESS_KEY_ID.*AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN"):
        credentials_from_env({})
    with pytest.raises(WebIdentityError, match="cannot read the web-identity token file"):
        check_credentials_env({"AWS_WEB_IDENTITY_TOKEN_FILE": str(tmp_path / "absent"), "AWS_ROLE_ARN": ROLE})
