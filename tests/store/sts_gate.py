"""A session-token gate in front of the real S3 server (test tooling).

versitygw (v1.8.0) refuses any ``x-amz-security-token`` signed with its root key
("400 InvalidToken": its session tokens come only from its own IAM service). AWS S3 would check
three things about temporary credentials; this relay checks them against the STS emulator that
issued them, then passes the request on to versitygw:

1. the session token is one STS issued and it has not expired (else ``400 ExpiredToken`` /
   ``403 InvalidToken``, as S3 answers);
2. the request is signed with that session's access key id;
3. the signature is right for that session's secret key, over the headers the client signed
   (``x-amz-security-token`` among them);

and then re-signs the request with versitygw's root key (without the token), so versitygw still
checks the object semantics, conditional writes and all. The verification in (3) recomputes the
signature with :func:`jiradrift.store.sigv4.sign`, which tests/store/test_sigv4.py checks against
AWS's published example signatures and every other S3 test checks against versitygw.
"""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
from aiohttp import web

from jiradrift.sim.sts import StsEmulator
from jiradrift.store.sigv4 import Credentials, sign

_AUTH = re.compile(r"Credential=([^/]+)/\d{8}/([^/]+)/s3/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]+)")
_ADDED_BY_SIGN = {"host", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token", "authorization"}
_PASSED_BACK = ("etag", "content-type", "last-modified", "content-length")


def _s3_error(status: int, code: str, message: str) -> web.Response:
    body = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    return web.Response(status=status, text=body, content_type="application/xml")


class SessionGate:
    def __init__(self, sts: StsEmulator, upstream: str, root: Credentials) -> None:
        self.sts = sts
        self.upstream = upstream
        self.root = root
        self.tokens_seen: list[str] = []  # the session token of every request let through
        self.refused: list[str] = []  # S3 error codes this gate answered

    def _refuse(self, status: int, code: str, message: str) -> web.Response:
        self.refused.append(code)
        return _s3_error(status, code, message)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        token = request.headers.get("x-amz-security-token", "")
        match = _AUTH.fullmatch(request.headers.get("authorization", "").removeprefix("AWS4-HMAC-SHA256 "))
        if not token or not match:
            return self._refuse(403, "AccessDenied", "temporary credentials expected")
        key_id, region, signed_names, signature = match.groups()
        session = self.sts.session(token)
        if session is None:
            known = token in self.sts.sessions
            return self._refuse(
                400 if known else 403,
                "ExpiredToken" if known else "InvalidToken",
                "The provided token has expired." if known else "The provided token is malformed or otherwise invalid.",
            )
        if key_id != session.access_key_id:
            return self._refuse(403, "InvalidAccessKeyId", "The AWS Access Key Id does not match the session.")
        body = await request.read()
        names = signed_names.split(";")
        if "x-amz-security-token" not in names:
            return self._refuse(403, "AccessDenied", "x-amz-security-token must be signed")
        signed = {n: request.headers.get(n, "") for n in names if n not in _ADDED_BY_SIGN}
        path = request.raw_path.split("?", 1)[0]
        url = f"http://{request.headers['host']}{path}"
        when = datetime.strptime(request.headers["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        payload = request.headers["x-amz-content-sha256"]
        query = dict(request.query)
        expected = sign(
            request.method,
            url,
            signed,
            payload,
            Credentials(session.access_key_id, session.secret_access_key, token),
            region,
            when,
            query=query,
        )
        if expected["Authorization"].rsplit("Signature=", 1)[1] != signature:
            return self._refuse(403, "SignatureDoesNotMatch", "The request signature we calculated does not match.")
        self.tokens_seen.append(token)
        target = f"{self.upstream}{path}"
        forwarded = sign(request.method, target, signed, payload, self.root, region, datetime.now(UTC), query=query)
        async with httpx.AsyncClient(timeout=30) as http:  # the query string exactly as the client sent it
            answer = await http.request(
                request.method, self.upstream + request.raw_path, headers=forwarded, content=body or None
            )
        headers = {k: answer.headers[k] for k in _PASSED_BACK if k in answer.headers}
        if request.method == "HEAD":
            return web.Response(status=answer.status_code, headers=headers)
        headers.pop("content-length", None)
        return web.Response(status=answer.status_code, body=answer.content, headers=headers)

    @asynccontextmanager
    async def serve(self) -> AsyncIterator[str]:
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        async with serve_app(app) as url:
            yield url


@asynccontextmanager
async def serve_app(app: web.Application) -> AsyncIterator[str]:
    """Serve ``app`` on a free loopback port until the block exits; yields its URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.setblocking(False)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        await web.SockSite(runner, sock).start()
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        await runner.cleanup()
        sock.close()
