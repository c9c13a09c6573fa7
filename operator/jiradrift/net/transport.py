"""The default network transport under :class:`~jiradrift.jira.client.JiraClient`: aiohttp behind httpx.

httpx stays the client API (request building, the read-only guard, ``MockTransport`` in tests), but
its own connection layer (httpcore + h11 + anyio) costs about 1.4 ms of CPU per request, three times
what aiohttp needs. On a two-core operator pod capturing at a few hundred requests per second that
CPU is the bottleneck, so the bytes go over aiohttp.

Behaviour kept from ``httpx.AsyncHTTPTransport``: TLS verification with httpx's SSL context (certifi,
``SSL_CERT_FILE``), no proxy from the environment (httpx ignores it too once a transport is passed),
a bounded connection pool, the per-request ``timeout`` extension (connect / read / pool), and httpx
exception types (``ConnectTimeout``, ``ReadTimeout``, ``PoolTimeout``, ``ConnectError``,
``ReadError``, ``RemoteProtocolError``), so the client's retry logic is unchanged. Names are looked
up once and every address is checked (:mod:`jiradrift.net.egress`) before connecting to it. Bodies are
streamed through undecoded, chunk by chunk: the caller decides how much of a body it will read
(:func:`jiradrift.jira.limits.read_response`), and closing the response closes the connection.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import httpx
from yarl import URL

from jiradrift.net.egress import AddressPolicy, CheckedResolver, Resolve
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


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An ``httpx`` transport that sends requests over a (lazily created) ``aiohttp.ClientSession``."""

    def __init__(
        self,
        *,
        max_connections: int = 8,
        verify: bool | ssl.SSLContext = True,
        policy: AddressPolicy | None = None,
        resolve: Resolve | None = None,
    ) -> None:
        self._max_connections = max(1, max_connections)
        self._policy = policy
        self._resolve = resolve
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

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._session_for_loop()
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
        body = request.content if request.method not in ("GET", "HEAD") else None
        with httpx_errors(request):
            response = await session.request(
                request.method,
                URL(str(request.url), encoded=True),
                headers=headers,
                data=body or None,
                allow_redirects=False,
                timeout=self._timeout(request),
            )
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
