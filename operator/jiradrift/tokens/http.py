"""A lean client for the token endpoint, for the refresh job's thousands of calls.

:mod:`jiradrift.jira.oauth` talks to the token endpoint through ``http.post(url, json=...,
headers=...)`` and reads ``status_code``, ``content`` and ``text`` of the answer; transport failures
are ``httpx.HTTPError``. :func:`token_http_client` provides exactly that on aiohttp, which costs a
fraction of httpx's CPU per request (measured: ~0.2 ms against ~2 ms), so the job's refreshes go
through the same ``refresh_access_token`` code as the operator's. Like httpx's defaults it does not
follow redirects and honours the proxy environment variables (``HTTPS_PROXY`` / ``HTTP_PROXY``
unless ``NO_PROXY`` exempts the host; looked up once per origin and client, not per request as
aiohttp's ``trust_env`` does).

The token endpoint is untrusted: each exchange reads its answer through
:func:`jiradrift.jira.limits.read_body` (the Jira client's bounded reader) within
``TOKEN_LIMITS`` -- 1 MiB after decompression, 30 s for the whole exchange however slowly the
bytes arrive.
"""

from __future__ import annotations

import urllib.request
from typing import Any, cast
from urllib.parse import urlsplit

import aiohttp
import httpx
import orjson

from jiradrift.jira.errors import AddressRefused
from jiradrift.jira.limits import ACCEPT_ENCODING, ResponseLimits, deadline, read_body
from jiradrift.jira.oauth import TOKEN_LIMITS
from jiradrift.net import errors as net_errors
from jiradrift.net.egress import PROXY, CheckedResolver, Resolve
from jiradrift.net.tls import default_ssl_context


class TokenResponseView:
    """The part of ``httpx.Response`` that :mod:`jiradrift.jira.oauth` reads."""

    __slots__ = ("content", "status_code")

    def __init__(self, status_code: int, content: bytes) -> None:
        self.status_code = status_code
        self.content = content

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")


class AiohttpTokenClient:
    """``post`` / ``aclose`` of ``httpx.AsyncClient`` over one aiohttp connection pool."""

    def __init__(self, pool: int, limits: ResponseLimits = TOKEN_LIMITS, resolve: Resolve | None = None) -> None:
        self.limits = limits
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=pool,
                ssl=default_ssl_context(),
                # names are looked up once and every address checked before connecting: the token
                # endpoint's, or with a proxy the proxy's (which then resolves the endpoint itself)
                resolver=CheckedResolver(resolve=resolve),
            ),
            auto_decompress=False,  # read_body decodes, with a size bound
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=limits.request_deadline),
        )
        self._proxies: dict[tuple[str, str], str | None] = {}

    def proxy_for(self, url: str) -> str | None:
        """``HTTPS_PROXY`` / ``HTTP_PROXY`` unless ``NO_PROXY`` exempts the host, as httpx does."""
        parts = urlsplit(url)
        origin = (parts.scheme, parts.netloc)
        if origin not in self._proxies:
            bypass = urllib.request.proxy_bypass_environment(parts.netloc)  # type: ignore[attr-defined]
            proxy = None if bypass else urllib.request.getproxies_environment().get(parts.scheme)
            self._proxies[origin] = proxy or None
        return self._proxies[origin]

    async def post(self, url: str, *, json: Any = None, headers: dict[str, str] | None = None) -> TokenResponseView:
        sent = {"Content-Type": "application/json", "Accept-Encoding": ACCEPT_ENCODING, **(headers or {})}
        limit = self.limits.max_body_bytes
        proxy = self.proxy_for(url)
        try:
            async with deadline(self.limits.request_deadline, "POST", url):
                async with self.session.post(
                    url, data=orjson.dumps(json), headers=sent, allow_redirects=False, proxy=proxy
                ) as resp:
                    chunks = resp.content.iter_chunked(64 * 1024)
                    content = await read_body(chunks, resp.headers.get("Content-Encoding"), limit, "POST", url)
                    return TokenResponseView(resp.status, content)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise httpx.TransportError(f"{type(exc).__name__}: {exc}") from exc
        except net_errors.AddressRefused as exc:
            if proxy and not exc.what and exc.host == urlsplit(proxy).hostname:
                exc = net_errors.AddressRefused(exc.host, exc.why, exc.allowed, PROXY)
            raise AddressRefused.of(exc) from None

    async def aclose(self) -> None:
        await self.session.close()


def token_http_client(pool: int, limits: ResponseLimits = TOKEN_LIMITS) -> httpx.AsyncClient:
    """An aiohttp-backed stand-in for ``httpx.AsyncClient`` (``post`` and ``aclose`` only).

    Create it inside the running event loop; close it with ``await client.aclose()``.
    """
    return cast(httpx.AsyncClient, AiohttpTokenClient(pool, limits))
