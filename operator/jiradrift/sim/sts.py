"""AWS STS, as far as ``AssumeRoleWithWebIdentity`` goes: the exchange a pod's cloud identity (IRSA)
makes for temporary S3 credentials, for tests on loopback.

```python
sts = StsEmulator(role_arn="arn:aws:iam::123456789012:role/jiradrift", tokens={"token-1"})
async with sts.serve() as url:   # AWS_ENDPOINT_URL_STS=url
    ...
sts.calls[0].token               # the token each exchange presented
sts.session(session_token)       # the credentials a session token belongs to, while unexpired
```

Request and answers follow AWS's documented Query API (``Action``/``Version`` and parameters as a
form body or a query string, unsigned; XML answers in the ``https://sts.amazonaws.com/doc/2011-06-15/``
namespace; errors as ``<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>``).
The role and the tokens it accepts are what the test configures, and may change between calls
(Kubernetes rotating the projected token). ``lifetime_seconds`` may be shorter than AWS's 900-second
minimum, so a test can cross an expiry with a :class:`~jiradrift.sim.clock.ManualClock`.
"""

from __future__ import annotations

import re
import secrets
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from aiohttp import web

from jiradrift.sim.clock import Clock, SystemClock

NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
VERSION = "2011-06-15"
ACTION = "AssumeRoleWithWebIdentity"
_SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$")
MAX_BODY_BYTES = 64 * 1024


@dataclass(frozen=True)
class StsCall:
    """One exchange as STS received it (answered or refused)."""

    role_arn: str
    session_name: str
    token: str
    status: int
    code: str = ""


@dataclass(frozen=True)
class Session:
    access_key_id: str
    secret_access_key: str
    session_token: str
    expires_at: float
    token: str  # the web-identity token it was issued for


@dataclass
class StsEmulator:
    role_arn: str
    tokens: set[str] = field(default_factory=set)  # the web-identity tokens accepted right now
    lifetime_seconds: float | None = None  # None: DurationSeconds, or 3600
    clock: Clock = field(default_factory=SystemClock)
    # Each exchange's keys; default: fresh random ASIA... keys (the test may hand out a real server's keys)
    issue: Callable[[], tuple[str, str]] | None = None
    host: str = "127.0.0.1"
    # The next answers, before any check: (HTTP status, STS error code), e.g. (503, "ServiceUnavailable")
    fail_next: list[tuple[int, str]] = field(default_factory=list)
    calls: list[StsCall] = field(default_factory=list)
    sessions: dict[str, Session] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def session(self, session_token: str) -> Session | None:
        """The unexpired session a token belongs to, else None (what S3 would check)."""
        with self._lock:
            found = self.sessions.get(session_token)
        if found is None or self.clock.now() >= found.expires_at:
            return None
        return found

    def rotate(self, token: str) -> None:
        """Accept only ``token`` from now on (the old projected token was rotated away)."""
        with self._lock:
            self.tokens = {token}

    def _record(self, call: StsCall) -> None:
        with self._lock:
            self.calls.append(call)

    def _accepts(self, token: str) -> bool:
        with self._lock:
            return token in self.tokens

    async def _handle(self, request: web.Request) -> web.Response:
        params = dict(request.query)
        if request.method == "POST":
            if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
                return _error(413, "Sender", "ValidationError", "Request body too large")
            params.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
        role, name, token = (
            params.get("RoleArn", ""),
            params.get("RoleSessionName", ""),
            params.get("WebIdentityToken", ""),
        )

        def refuse(status: int, code: str, message: str) -> web.Response:
            self._record(StsCall(role, name, token, status, code))
            return _error(status, "Sender", code, message)

        with self._lock:
            fault = self.fail_next.pop(0) if self.fail_next else None
        if fault is not None:
            self._record(StsCall(role, name, token, fault[0], fault[1]))
            return _error(fault[0], "Receiver" if fault[0] >= 500 else "Sender", fault[1], "Injected by the test")
        action, version = params.get("Action", ""), params.get("Version", "")
        if action != ACTION:
            return refuse(400, "InvalidAction", f"Could not find operation {action or '(none)'} for version {version}")
        if version != VERSION:
            return refuse(400, "InvalidAction", f"Could not find operation {action} for version {version or '(none)'}")
        for param, value in (("roleArn", role), ("roleSessionName", name), ("webIdentityToken", token)):
            if not value:
                return refuse(
                    400,
                    "ValidationError",
                    f"1 validation error detected: Value null at '{param}' failed to "
                    "satisfy constraint: Member must not be null",
                )
        if not _SESSION_NAME.match(name):
            return refuse(
                400,
                "ValidationError",
                "1 validation error detected: Value at 'roleSessionName' failed to satisfy "
                r"constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*",
            )
        if not 4 <= len(token) <= 20000:
            return refuse(
                400,
                "ValidationError",
                "1 validation error detected: Value at 'webIdentityToken' failed to satisfy "
                "constraint: Member must have length between 4 and 20000",
            )
        duration = params.get("DurationSeconds")
        if duration is not None and (not duration.isdigit() or not 900 <= int(duration) <= 43200):
            return refuse(
                400,
                "ValidationError",
                "1 validation error detected: Value at 'durationSeconds' failed to satisfy "
                "constraint: Member must have value between 900 and 43200",
            )
        if not self._accepts(token):
            return refuse(400, "InvalidIdentityToken", "Couldn't verify the web identity token for this role")
        if role != self.role_arn:
            return refuse(403, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")
        lifetime = self.lifetime_seconds or (int(duration) if duration else 3600)
        key_id, secret = (
            self.issue() if self.issue else ("ASIA" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30))
        )
        session = Session(key_id, secret, secrets.token_urlsafe(96), self.clock.now() + lifetime, token)
        with self._lock:
            self.sessions[session.session_token] = session
        self._record(StsCall(role, name, token, 200))
        expiration = datetime.fromtimestamp(session.expires_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        account = role.split(":")[4] if role.count(":") >= 5 else "000000000000"
        role_name = role.rsplit("/", 1)[-1]
        body = (
            f'<AssumeRoleWithWebIdentityResponse xmlns="{NAMESPACE}">'
            "<AssumeRoleWithWebIdentityResult>"
            "<SubjectFromWebIdentityToken>system:serviceaccount:jiradrift:jiradrift</SubjectFromWebIdentityToken>"
            "<Audience>sts.amazonaws.com</Audience>"
            "<AssumedRoleUser>"
            f"<Arn>arn:aws:sts::{escape(account)}:assumed-role/{escape(role_name)}/{escape(name)}</Arn>"
            f"<AssumedRoleId>AROA{secrets.token_hex(8).upper()}:{escape(name)}</AssumedRoleId>"
            "</AssumedRoleUser>"
            "<Credentials>"
            f"<SessionToken>{escape(session.session_token)}</SessionToken>"
            f"<SecretAccessKey>{escape(secret)}</SecretAccessKey>"
            f"<Expiration>{expiration}</Expiration>"
            f"<AccessKeyId>{escape(key_id)}</AccessKeyId>"
            "</Credentials>"
            "<Provider>oidc.eks.emulator.test</Provider>"
            "</AssumeRoleWithWebIdentityResult>"
            f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
            "</AssumeRoleWithWebIdentityResponse>"
        )
        return web.Response(text=body, content_type="text/xml")

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_route("GET", "/", self._handle)
        app.router.add_route("POST", "/", self._handle)
        return app

    @asynccontextmanager
    async def serve(self, port: int = 0) -> AsyncIterator[str]:
        """Serve on the current event loop until the block exits; yields the endpoint URL."""
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((self.host, port))
        sock.listen(128)
        sock.setblocking(False)
        runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.SockSite(runner, sock).start()
            host = f"[{self.host}]" if ":" in self.host else self.host
            yield f"http://{host}:{sock.getsockname()[1]}"
        finally:
            await runner.cleanup()
            sock.close()


def _error(status: int, kind: str, code: str, message: str) -> web.Response:
    body = (
        f'<ErrorResponse xmlns="{NAMESPACE}"><Error><Type>{kind}</Type><Code>{escape(code)}</Code>'
        f"<Message>{escape(message)}</Message></Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    )
    return web.Response(status=status, text=body, content_type="text/xml")
