"""Start and stop the emulator: in a background thread (``with emu.running()``) for synchronous
tests and the CLI, or on the current event loop (``async with emu.serve()``)."""

from __future__ import annotations

import asyncio
import secrets
import socket
import ssl
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

from jiradrift.sim.admin import Admin
from jiradrift.sim.auditlog import DEFAULT_UNAUDITED, AuditPolicy
from jiradrift.sim.burst import BurstLimiter
from jiradrift.sim.clock import Clock, SystemClock
from jiradrift.sim.control import control_routes
from jiradrift.sim.cost import CostBudget
from jiradrift.sim.faults import Faults
from jiradrift.sim.oauth import AuthorizationServer
from jiradrift.sim.requestlog import RequestLog
from jiradrift.sim.routes import OPERATIONS
from jiradrift.sim.scopes import scopes_for
from jiradrift.sim.server import API_PREFIX, Credentials, ServerState, build_app
from jiradrift.sim.site import Site
from jiradrift.sim.spec import SiteSpec
from jiradrift.sim.variant import VARIANTS, derive

T = TypeVar("T")
START_TIMEOUT_S = 30.0


def read_only_scopes() -> frozenset[str]:
    """Every granular scope the emulated operations list, plus ``offline_access``: what a
    read-only snapshotter asks for. All of them are ``read:*``."""
    scopes = {s for (method, suffix) in OPERATIONS for s in scopes_for(method, API_PREFIX + suffix).granular}
    return frozenset(scopes | {"offline_access"})


WRITE_CAPABLE_SCOPES = frozenset(
    {
        "read:jira-work",
        "read:jira-user",
        "manage:jira-configuration",
        "manage:jira-project",
        "write:jira-work",
        "offline_access",
    }
)


@dataclass
class RunningEmulator:
    """Handles to a started emulator. ``base_url`` is the site form, ``gateway_url`` the OAuth form
    (``gateway_url + f"/ex/jira/{cloud_id}/rest/api/3/..."``)."""

    base_url: str
    gateway_url: str
    token_url: str
    cloud_id: str
    credentials: Credentials
    site: Site
    admin: Admin
    faults: Faults
    requests: RequestLog
    oauth: AuthorizationServer
    clock: Clock
    state: ServerState

    @property
    def api_url(self) -> str:
        """Site-form API root: ``http://127.0.0.1:PORT/rest/api/3``."""
        return self.base_url + API_PREFIX

    @property
    def gateway_api_url(self) -> str:
        """Gateway-form API root: ``http://127.0.0.1:PORT/ex/jira/<cloudId>/rest/api/3``."""
        return f"{self.gateway_url}/ex/jira/{self.cloud_id}{API_PREFIX}"

    def set_latency(self, ms: float) -> None:
        self.state.latency_s = ms / 1000.0

    def set_burst_limit(self, per_second: int | None) -> None:
        """Enforce Jira's per-endpoint burst limit (e.g. 100 GET/s); None turns it off."""
        self.state.burst = BurstLimiter(per_second) if per_second else None

    def set_cost_budget(
        self, points: int | None, *, window_seconds: float = 3600.0, per_request: int = 1, per_object: int = 1
    ) -> CostBudget | None:
        """Charge points per request and per object returned against ``points`` per window (Jira's
        points quota, answered with 429 and ``RateLimit-Reason`` when spent); None turns it off."""
        self.state.cost = CostBudget.on(self.clock, points, window_seconds, per_request, per_object)
        return self.state.cost

    def set_audit(self, *, delay_seconds: float | None = None, unaudited: frozenset[str] | None = None) -> None:
        """How late audit records show up, and which kinds' changes write none (see sim.auditlog)."""
        self.site.audit_policy.update(delay_seconds=delay_seconds, unaudited=unaudited)


# Loopback, or the bridge address of the dev node (jiradrift.dev.node.GATEWAY), which pods reach.
BIND_HOSTS = ("127.0.0.1", "localhost", "::1", "10.244.0.1")
# Every address: only for the emulator as its own pod (``jiradrift.sim.incluster``), asked for by name.
EXPOSED_HOSTS = ("0.0.0.0", "::")


class Emulator:
    """A Jira Cloud site on loopback.

    ``Emulator(size="small", seed=1)`` builds the same site every time for the same
    ``(seed, size)``; ``spec`` overrides the size with explicit counts.
    """

    def __init__(
        self,
        size: str = "small",
        seed: int = 1,
        *,
        spec: SiteSpec | None = None,
        latency_ms: float = 0,
        access_token_ttl: int = 3600,
        clock: Clock | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        email: str = "admin@example.com",
        api_token: str | None = None,
        burst_limit: int | None = None,
        tls: ssl.SSLContext | None = None,
        public_url: str | None = None,
        expose: bool = False,
        audit_delay_seconds: float = 0.0,
        unaudited_kinds: frozenset[str] = DEFAULT_UNAUDITED,
        variant: str = "production",
    ) -> None:
        if host not in BIND_HOSTS and not (expose and host in EXPOSED_HOSTS):
            raise ValueError(f"the emulator binds loopback or the dev node's bridge only; got host {host!r}")
        self.spec = spec or SiteSpec.for_size(size)
        self.seed = seed
        self.latency_ms = latency_ms
        self.burst_limit = burst_limit
        self.access_token_ttl = access_token_ttl
        self.clock: Clock = clock or SystemClock()
        self.host = host
        self.port = port
        self.email = email
        self.api_token = api_token or "sim-api-token-" + secrets.token_hex(8)
        # Served over TLS, the site answers as ``public_url`` (e.g. https://jira.emulator.test), the name a
        # pod resolves to the bind address (hostAliases) and the certificate names.
        self.tls = tls
        self.public_url = public_url
        self.audit_policy = AuditPolicy(audit_delay_seconds, unaudited_kinds)
        if variant not in VARIANTS:
            raise ValueError(f"unknown site variant {variant!r}; use one of {', '.join(VARIANTS)}")
        # "sandbox": the same site with other ids and a few known differences (jiradrift.sim.variant).
        self.variant = variant

    def _bind(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as err:
            sock.close()
            raise OSError(
                f"cannot bind {self.host}:{self.port} ({err}); pick another --port or 0 for any free one"
            ) from err
        sock.listen(1024)
        sock.setblocking(False)
        return sock

    def _prepare(
        self, sock: socket.socket, runner: Callable[[Callable[[], Any]], Any]
    ) -> tuple[RunningEmulator, web.Application]:
        port = sock.getsockname()[1]
        base_url = self.public_url or f"{'https' if self.tls else 'http'}://{self.host}:{port}"
        site = derive(Site.generate(self.spec, self.seed, base_url), self.variant)
        site.audit_policy = AuditPolicy(self.audit_policy.delay_seconds, self.audit_policy.unaudited)
        default_scopes = read_only_scopes()
        oauth = AuthorizationServer(
            clock=self.clock,
            access_token_ttl=self.access_token_ttl,
            client_id="sim-client-" + secrets.token_hex(4),
            client_secret=secrets.token_urlsafe(16),
            sa_client_id="sim-sa-" + secrets.token_hex(4),
            sa_client_secret=secrets.token_urlsafe(16),
            sa_scopes=default_scopes - {"offline_access"},
            default_scopes=default_scopes,
        )
        credentials = Credentials(
            email=self.email,
            api_token=self.api_token,
            client_id=oauth.client_id,
            client_secret=oauth.client_secret,
            refresh_token=oauth.create_grant(),
            sa_client_id=oauth.sa_client_id,
            sa_client_secret=oauth.sa_client_secret,
            pat="sim-pat-" + secrets.token_hex(8),
        )
        state = ServerState(
            site,
            oauth,
            Faults(),
            RequestLog(),
            self.clock,
            credentials,
            self.latency_ms / 1000.0,
            BurstLimiter(self.burst_limit) if self.burst_limit else None,
        )
        admin = Admin(site, self.clock, runner)
        app = build_app(state, control_routes(state, Admin(site, self.clock)))
        running = RunningEmulator(
            base_url,
            base_url,
            base_url + "/oauth/token",
            site.cloud_id,
            credentials,
            site,
            admin,
            state.faults,
            state.requests,
            oauth,
            self.clock,
            state,
        )
        return running, app

    @asynccontextmanager
    async def serve(self) -> AsyncIterator[RunningEmulator]:
        """Serve on the current event loop until the block exits."""
        sock = self._bind()
        running, app = self._prepare(sock, lambda fn: fn())
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.SockSite(runner, sock, ssl_context=self.tls).start()
            yield running
        finally:
            await runner.cleanup()
            sock.close()

    @contextmanager
    def running(self) -> Iterator[RunningEmulator]:
        """Serve from a background thread with its own event loop until the block exits."""
        sock = self._bind()  # here, not in the thread: a busy port fails at once, naming the port
        loop = asyncio.new_event_loop()
        ready: Future[RunningEmulator] = Future()
        stop = asyncio.Event()

        def in_loop(fn: Callable[[], T]) -> T:
            # Mutations run on the server loop so a handler never sees half a change.
            if threading.current_thread() is thread:
                return fn()
            return asyncio.run_coroutine_threadsafe(_call(fn), loop).result(timeout=30)

        async def main() -> None:
            try:
                running, app = self._prepare(sock, in_loop)
                runner = web.AppRunner(app, access_log=None, handle_signals=False)
                await runner.setup()
                await web.SockSite(runner, sock, ssl_context=self.tls).start()
            except BaseException as err:
                sock.close()
                ready.set_exception(err)
                return
            ready.set_result(running)
            try:
                await stop.wait()
            finally:
                await runner.cleanup()
                sock.close()

        thread = threading.Thread(target=loop.run_until_complete, args=(main(),), name="jira-sim", daemon=True)
        thread.start()
        try:
            running = ready.result(timeout=START_TIMEOUT_S)
        except BaseException:
            thread.join(timeout=5)
            loop.close()
            raise
        try:
            yield running
        finally:
            loop.call_soon_threadsafe(stop.set)
            thread.join(timeout=15)
            if not thread.is_alive():
                loop.close()


async def _call(fn: Callable[[], T]) -> T:
    return fn()
