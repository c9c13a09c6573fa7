"""kopf's settings and kopf's own API session.

setup = KopfSetup(settings.namespaces)           # the watched namespaces (empty: all)
kopf.on.startup(registry=registry)(setup.configure)
kopf.on.login(registry=registry)(setup.login)
kopf.on.cleanup(registry=registry)(setup.close)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiohttp
import kopf

from jiradrift.api.resources import GROUP

KOPF_CONNECTIONS = 16  # kopf's API requests in flight at once (patches, events), besides its watches


class KopfSetup:
    """kopf's settings, and the API sessions it logs in with (closed at cleanup)."""

    def __init__(self, namespaces: Sequence[str]) -> None:
        self.namespaces = list(namespaces)
        self.sessions: list[aiohttp.ClientSession] = []

    def configure(self, settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.persistence.finalizer = f"{GROUP}/finalizer"
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
            prefix=GROUP, key="last-handled-configuration"
        )
        settings.posting.level = 30  # WARNING: our own Events carry the story; kopf adds only failures
        settings.scanning.disabled = bool(self.namespaces)
        settings.watching.server_timeout = 300
        settings.networking.error_backoffs = [1, 2, 5, 10, 20]
        settings.execution.max_workers = 8

    async def login(self, **kwargs: Any) -> kopf.AiohttpSession | None:  # async: the session needs the loop
        # kubernetes_asyncio, the production client: the image has no sync `kubernetes` package, which
        # kopf.login_via_client needs (without it the pod found no credentials and exited).
        info = await kopf.login_via_async_client(**kwargs)
        if info is None:
            return None
        session = kopf_session(info, len(self.namespaces))
        self.sessions.append(session)
        return kopf.AiohttpSession(
            aiohttp_session=session,
            server=info.server,
            default_namespace=info.default_namespace,
            priority=info.priority,
            expiration=info.expiration,
        )

    async def close(self, **_: Any) -> None:
        for session in self.sessions:
            await session.close()


def kopf_session(info: kopf.ConnectionInfo, namespaces: int) -> aiohttp.ClientSession:
    """kopf's own API session, as kopf builds it but with a bounded connection pool.

    kopf's pool is unbounded (``limit=0``): with a thousand tenant timers due at once it opened a
    connection per request, and each TLS connection costs Python a 256 KiB buffer (asyncio's
    sslproto): 275 MiB of the operator's peak at 1,000 tenants (memray). Watches hold a connection
    each (two resources per watched namespace, or per cluster), so they get theirs on top of
    :data:`KOPF_CONNECTIONS` for everything else."""
    watches = 2 * max(1, namespaces) + 2
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=KOPF_CONNECTIONS + watches, ssl=info.as_ssl_context()),
        headers=info.as_http_headers(),
        proxy=info.proxy_url,
        trust_env=info.trust_env,
    )
