"""The operator's readiness endpoint (``--readiness http://0.0.0.0:8081/readyz``).

kopf's liveness endpoint answers 200 as soon as the process serves it: it says "alive", not "able
to work". A replica is ready once its caches hold every JiraTenant and Snapshot a LIST showed at
startup and, when sharded, it has taken part in its first membership round (so it owns its tenants);
until then, and again from shutdown on, the endpoint answers 503 with what it is waiting for. A
rollout with ``maxUnavailable: 0`` therefore keeps the old replica until the new one can work.

    readiness = Readiness()
    runner = await serve_readiness("http://0.0.0.0:8081/readyz", readiness)
    readiness.waiting("the JiraTenant and Snapshot caches")   # 503 {"ready": false, "waiting": ...}
    readiness.ready()                                         # 200 {"ready": true}
    readiness.stopping()                                      # 503 again: take no new traffic
    await runner.cleanup()
"""

from __future__ import annotations

import logging
import urllib.parse

from aiohttp import web

log = logging.getLogger("jiradrift.handlers")


class Readiness:
    """What the endpoint reports: waiting for something (503), ready (200), or stopping (503)."""

    def __init__(self) -> None:
        self._waiting: str | None = "startup"

    def waiting(self, what: str) -> None:
        self._waiting = what

    def ready(self) -> None:
        if self._waiting is not None:
            log.info("ready: caches synced (readiness probe passes)")
        self._waiting = None

    def stopping(self) -> None:
        self._waiting = "nothing: the operator is stopping"

    @property
    def is_ready(self) -> bool:
        return self._waiting is None

    def report(self) -> tuple[int, dict[str, object]]:
        if self._waiting is None:
            return 200, {"ready": True}
        return 503, {"ready": False, "waiting": self._waiting}


def parse_endpoint(endpoint: str) -> tuple[str, int, str]:
    """Host, port and path of an ``http://host:port/path`` endpoint; ValueError naming the flag otherwise."""
    parts = urllib.parse.urlsplit(endpoint)
    if parts.scheme != "http" or not parts.hostname or not parts.port:
        raise ValueError(f"--readiness must look like http://0.0.0.0:8081/readyz, not {endpoint!r}")
    return parts.hostname, parts.port, parts.path or "/"


async def serve_readiness(endpoint: str, readiness: Readiness) -> web.AppRunner:
    """Serve ``readiness`` at ``endpoint`` until the returned runner is cleaned up."""
    host, port, path = parse_endpoint(endpoint)

    async def get(_: web.Request) -> web.Response:
        status, body = readiness.report()
        return web.json_response(body, status=status)

    app = web.Application()
    app.add_routes([web.get(path, get)])
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    log.info("serving readiness at http://%s:%d%s", host, port, path)
    return runner
