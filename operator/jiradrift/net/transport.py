"""The one HTTP adapter of every outbound client: httpx as the API, aiohttp on the wire, egress checked.

    async with outbound_client(timeout=30.0) as http:          # token endpoint, S3, STS: env proxy honoured
        response = await http.post(url, json=body)
    transport = AiohttpTransport(max_connections=8)            # under the Jira client's read-only guard

Every caller -- the Jira client and cloudId discovery, the token endpoint (operator, ``auth login``
and the refresh job), notifications, the S3 store and STS -- sends through :class:`AiohttpTransport`,
so the rules below hold for each in one place.

httpx stays the client API (request building, the read-only guard, ``MockTransport`` in tests), but
its own connection layer (httpcore + h11 + anyio) costs about 1.4 ms of CPU per request, three times
what aiohttp needs. On a two-core operator pod capturing at a few hundred requests per second, or a
token job refreshing thousands of tenants, that CPU is the bottleneck, so the bytes go over aiohttp.

Behaviour kept from ``httpx.AsyncHTTPTransport``: TLS verification with the process's context
(:func:`jiradrift.net.tls.default_ssl_context`), a bounded connection pool, the per-request
``timeout`` extension (connect / read / pool), no redirects, and httpx exception types
(``ConnectTimeout``, ``ReadTimeout``, ``PoolTimeout``, ``ConnectError``, ``ReadError``,
``RemoteProtocolError``), so retry logic is unchanged. Names are looked up once and every address is
checked (:mod:`jiradrift.net.egress`) before connecting to it; a refusal is an ``httpx.ConnectError``
caused by the :class:`~jiradrift.net.errors.AddressRefused` (:func:`~jiradrift.net.errors.refusal_of`
finds it). With ``trust_env`` the proxy variables are honoured as httpx reads them (``HTTPS_PROXY``,
``HTTP_PROXY``, ``ALL_PROXY``, ``NO_PROXY``; looked up once per origin), and the proxy's own address
is checked the same way (the refusal names it :data:`~jiradrift.net.egress.PROXY`). Bodies are
streamed through undecoded, chunk by chunk: the caller decides how much of a body it will read
(:func:`jiradrift.jira.limits.read_response`, :mod:`jiradrift.net.body`), and closing the response
closes the connection.
"""

from __future__ import annotations

import contextlib
import ssl
import urllib.request
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import httpx
from yarl import URL

from jiradrift.net.egress import PROXY, AddressPolicy, CheckedResolver, Resolve
from jiradrift.net.errors import AddressRefused
from jiradrift.net.tls import default_ssl_context

CHUNK_BYTES = 64 * 1024


@contextlib.contextmanager
def httpx_errors(request: httpx.Request) -> Iterator[None]:
    """aiohttp failures as the httpx exceptions the client's retry logic knows."""
    try:
        yield
    except aiohttp.ConnectionTimeoutError as exc:
        raise httpx.ConnectTimeout(str(exc) or "connect timed out", request=request) from exc
    except aiohttp.SocketTimeoutError as exc:
        raise httpx.ReadTimeout(str(exc) or "read timed out", request=request) from exc
    except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
        raise httpx.ReadTimeout(str(exc) or "timed out", request=request) from exc
    except aiohttp.ClientConnectorError as exc:
        raise httpx.ConnectError(str(exc), request=request) from exc
    except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError) as exc:
        raise httpx.RemoteProtocolError(str(exc) or type(exc).__name__, request=request) from exc
    except aiohttp.ClientError as exc:
        raise httpx.ReadError(f"{type(exc).__name__}: {exc}", request=request) from exc


class _BodyStream(httpx.AsyncByteStream):
    """An aiohttp response body as an httpx stream; closing it before the end drops the connection."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with httpx_errors(self._request):
            async for chunk in self._response.content.iter_chunked(CHUNK_BYTES):
                yield chunk

    async def aclose(self) -> None:
        if self._response.content.at_eof():
            self._response.release()
        else:
            self._response.close()


def env_proxy(url: str) -> str | None:
    """The proxy httpx would use for ``url`` from the environment: ``HTTPS_PROXY`` / ``HTTP_PROXY`` /
    ``ALL_PROXY`` unless ``NO_PROXY`` exempts the host."""
    parts = urlsplit(url)
    if urllib.request.proxy_bypass_environment(parts.netloc):  # type: ignore[attr-defined]
        return None
    proxies = urllib.request.getproxies_environment()
    return proxies.get(parts.scheme) or proxies.get("all") or None


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An ``httpx`` transport that sends requests over a (lazily created) ``aiohttp.ClientSession``.

    ``trust_env``: honour the proxy variables (without it, as under ``httpx.AsyncHTTPTransport``,
    requests go direct). ``policy`` and ``resolve`` default to the process's egress policy and the
    system resolver; tests pass their own."""

    def __init__(
        self,
        *,
        max_connections: int = 8,
        verify: bool | ssl.SSLContext = True,
        policy: AddressPolicy | None = None,
        resolve: Resolve | None = None,
        trust_env: bool = False,
    ) -> None:
        self._max_connections = max(1, max_connections)
        self._policy = policy
        self._resolve = resolve
        self._trust_env = trust_env
        self._proxies: dict[tuple[str, str], str | None] = {}
        if isinstance(verify, ssl.SSLContext):
            self._ssl: ssl.SSLContext | bool = verify
        else:
            self._ssl = default_ssl_context() if verify else False
        self._session: aiohttp.ClientSession | None = None

    def _session_for_loop(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections,
                limit_per_host=0,
                ssl=self._ssl,
                ttl_dns_cache=300,
                # one lookup per name, every address checked, and the connection made to those addresses
                resolver=CheckedResolver(self._policy, self._resolve),
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,  # decoded by jiradrift.jira.limits.read_body, with a size bound
                skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
                trust_env=False,
                cookie_jar=aiohttp.DummyCookieJar(),
            )
            # aiohttp silently sends an idempotent request again when its connection drops; every
            # caller counts its own attempts (the Jira client, the S3 store), so one send is one try.
            self._session._retry_connection = False
        return self._session

    @staticmethod
    def _timeout(request: httpx.Request) -> aiohttp.ClientTimeout:
        t: dict[str, Any] = request.extensions.get("timeout") or {}
        return aiohttp.ClientTimeout(
            total=None,
            connect=t.get("pool"),  # aiohttp's "connect" includes waiting for a pooled connection
            sock_connect=t.get("connect"),
            sock_read=t.get("read"),
        )

    def proxy_for(self, url: httpx.URL) -> str | None:
        """The proxy for ``url`` (``None``: direct), decided once per origin."""
        if not self._trust_env:
            return None
        origin = (url.scheme, url.netloc.decode("ascii"))
        if origin not in self._proxies:
            self._proxies[origin] = env_proxy(str(url))
        return self._proxies[origin]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._session_for_loop()
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
        body = request.content if request.method not in ("GET", "HEAD") else None
        proxy = self.proxy_for(request.url)
        try:
            with httpx_errors(request):
                response = await session.request(
                    request.method,
                    URL(str(request.url), encoded=True),
                    headers=headers,
                    data=body or None,
                    allow_redirects=False,
                    timeout=self._timeout(request),
                    proxy=proxy,
                )
        except AddressRefused as exc:
            refusal = exc
            if proxy and not exc.what and exc.host == urlsplit(proxy).hostname:
                refusal = AddressRefused(exc.host, exc.why, exc.allowed, PROXY)
            raise httpx.ConnectError(str(refusal), request=request) from refusal
        return httpx.Response(
            response.status,
            headers=list(response.raw_headers),
            stream=_BodyStream(response, request),
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def outbound_client(
    *,
    max_connections: int = 100,
    verify: bool | ssl.SSLContext = True,
    policy: AddressPolicy | None = None,
    resolve: Resolve | None = None,
    trust_env: bool = True,
    **kwargs: Any,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` on :class:`AiohttpTransport` (``kwargs``: the client's, e.g. ``timeout``).

    Redirects are never followed (``follow_redirects`` is the client's default, False). Create it
    anywhere; its connection pool opens in the event loop of its first request. Close it with
    ``await client.aclose()`` (or ``async with``)."""
    transport = AiohttpTransport(
        max_connections=max_connections, verify=verify, policy=policy, resolve=resolve, trust_env=trust_env
    )
    return httpx.AsyncClient(transport=transport, **kwargs)
