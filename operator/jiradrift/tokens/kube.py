"""The few Kubernetes calls the token lifecycle makes, as awaitables: plain JSON in and out.

Two transports behind one :class:`KubeOps`:

- ``KubeOps(api)``: blocking calls through :func:`jiradrift.kube.api.request_json` (the
  ApiClient's auth, TLS and connection pool, no generated models) in the event loop's default
  executor. What the operator uses for its occasional on-demand refresh.
- ``await KubeOps.connect(api, pool=n)``: a native asyncio client (aiohttp + orjson) built from the
  same ApiClient configuration, one keep-alive pool of ``n`` connections. What the refresh job uses:
  it makes tens of thousands of calls, and a thread hop plus urllib3 per call costs about three
  times the CPU. Close it with :meth:`KubeOps.aclose`.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator
from typing import Any, Protocol
from urllib.parse import quote, urlencode, urlsplit

import aiohttp
import orjson
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from jiradrift.k8s.resources import GROUP, VERSION
from jiradrift.kube.api import request_json

PLURAL = "jiratenants"
MERGE_PATCH = "application/merge-patch+json"
FIELD_MANAGER = "jiradrift-tokens"
JSON = "application/json"
TIMEOUT_SECONDS = 30.0
AUTH_REFRESH_SECONDS = 60.0
LEASES = "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"

Query = list[tuple[str, str]]


class KubeError(Exception):
    """The API server refused a call; ``status`` is its HTTP status."""

    def __init__(self, status: int, method: str, path: str, detail: str) -> None:
        self.status = status
        self.method = method
        self.path = path
        self.detail = detail
        hint = {
            403: "grant the job's ServiceAccount this verb on this resource (see the chart's RBAC)",
            409: "another writer changed the object; re-read it",
        }.get(status, "check the API server")
        super().__init__(f"{method} {path} -> HTTP {status}: {detail}; {hint}")


class Conflict(KubeError):
    """409: the resourceVersion precondition failed (or the object already exists)."""


def _q(value: str) -> str:
    return quote(value, safe="")


class Transport(Protocol):
    async def request(
        self, method: str, path: str, query: Query | None, body: Any, content_type: str
    ) -> tuple[int, Any]:
        """``(status, decoded JSON)`` for a 2xx answer, ``(status, raw text)`` otherwise."""

    async def aclose(self) -> None: ...


class ThreadTransport:
    """Blocking ``request_json`` calls in the event loop's default executor."""

    def __init__(self, api: k8s.ApiClient) -> None:
        self.api = api

    def _blocking(self, method: str, path: str, query: Query | None, body: Any, content_type: str) -> tuple[int, Any]:
        try:
            return 200, request_json(self.api, method, path, query=query, body=body, content_type=content_type)
        except ApiException as exc:
            return int(exc.status or 0), exc.body or ""

    async def request(
        self, method: str, path: str, query: Query | None, body: Any, content_type: str
    ) -> tuple[int, Any]:
        return await asyncio.to_thread(self._blocking, method, path, query, body, content_type)

    async def aclose(self) -> None:
        return None


class NativeTransport:
    """aiohttp on the event loop: TLS, client certificate and bearer token from the ApiClient's config."""

    def __init__(self, config: k8s.Configuration, pool: int) -> None:
        self.config = config
        self.host = config.host.rstrip("/")
        self.server_hostname = config.tls_server_name or None
        self.proxy = config.proxy or None
        self._authorization: str | None = None
        self._authorization_at = -AUTH_REFRESH_SECONDS
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=pool, ssl=_ssl_context(config), ttl_dns_cache=None),
            timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS),
            headers={"User-Agent": "jiradrift-tokens"},
            skip_auto_headers=("Accept-Encoding",),  # JSON on loopback / in-cluster: no gzip CPU
        )

    @staticmethod
    def supports(config: k8s.Configuration) -> bool:
        """Configurations this transport reproduces faithfully; others keep the ApiClient's."""
        proxy = str(config.proxy or "")
        return urlsplit(str(config.host)).scheme in ("http", "https") and not proxy.startswith("socks")

    async def request(
        self, method: str, path: str, query: Query | None, body: Any, content_type: str
    ) -> tuple[int, Any]:
        url = self.host + path
        if query:
            url += "?" + urlencode(query)
        headers = {"Accept": JSON}
        token = self._bearer()
        if token:
            headers["Authorization"] = token
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = orjson.dumps(body)
        try:
            async with self.session.request(
                method, url, data=data, headers=headers, server_hostname=self.server_hostname, proxy=self.proxy
            ) as resp:
                raw = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            detail = f"the API server could not be reached ({type(exc).__name__}: {exc})"
            raise KubeError(0, method, path, detail) from exc
        if 200 <= status <= 299:
            return status, (orjson.loads(raw) if raw else {})
        if status == 401:
            self._authorization_at = -AUTH_REFRESH_SECONDS  # a rotated token: ask again next time
        return status, raw.decode(errors="replace")

    def _bearer(self) -> str | None:
        """The Authorization value, asked of the configuration at most every ``AUTH_REFRESH_SECONDS``.

        In-cluster and exec-plugin tokens rotate, so the ApiClient asks on every call; that runs
        the kubeconfig loader's refresh hook each time, which alone cost ~15% of the job's CPU.
        Projected ServiceAccount tokens are renewed hours before they expire, so a minute is safe.
        """
        now = time.monotonic()
        if now - self._authorization_at >= AUTH_REFRESH_SECONDS:
            self._authorization = self.config.get_api_key_with_prefix("BearerToken", alias="authorization")
            self._authorization_at = now
        return self._authorization

    async def aclose(self) -> None:
        await self.session.close()


def _ssl_context(config: k8s.Configuration) -> ssl.SSLContext | bool:
    if not str(config.host).startswith("https"):
        return False
    ctx = ssl.create_default_context(cafile=config.ssl_ca_cert or None)
    if config.ca_cert_data:
        data = config.ca_cert_data
        ctx.load_verify_locations(cadata=data.decode() if isinstance(data, bytes) else data)
    if config.cert_file:
        ctx.load_cert_chain(config.cert_file, config.key_file or None)
    if not config.verify_ssl:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif config.assert_hostname is False:
        ctx.check_hostname = False
    return ctx


def _error_message(text: Any) -> str:
    try:
        return str(orjson.loads(text).get("message") or text)
    except (orjson.JSONDecodeError, AttributeError, TypeError):
        return str(text)


class KubeOps:
    """Secrets, Leases, JiraTenant status, Events and tenant listing for one ApiClient."""

    def __init__(self, api: k8s.ApiClient, transport: Transport | None = None) -> None:
        self.api = api
        self.transport: Transport = transport or ThreadTransport(api)

    @classmethod
    def connect(cls, api: k8s.ApiClient, *, pool: int) -> KubeOps:
        """The native asyncio transport (``pool`` keep-alive connections) when the config allows it.

        Call from a running event loop; close with :meth:`aclose`.
        """
        config = api.configuration
        if NativeTransport.supports(config):
            return cls(api, NativeTransport(config, pool))
        return cls(api)

    async def aclose(self) -> None:
        await self.transport.aclose()

    async def _run(
        self,
        method: str,
        path: str,
        *,
        query: Query | None = None,
        body: Any = None,
        content_type: str = JSON,
        not_found_ok: bool = False,
    ) -> dict[str, Any] | None:
        status, payload = await self.transport.request(method, path, query, body, content_type)
        if 200 <= status <= 299:
            result: dict[str, Any] = payload
            return result
        if status == 404 and not_found_ok:
            return None
        kind = Conflict if status == 409 else KubeError
        raise kind(status, method, path, _error_message(payload))

    # --- Secrets --------------------------------------------------------------------------

    async def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self._run("GET", f"/api/v1/namespaces/{_q(namespace)}/secrets/{_q(name)}", not_found_ok=True)

    async def replace_secret(self, body: dict[str, Any]) -> dict[str, Any]:
        """PUT; ``metadata.resourceVersion`` in ``body`` is the precondition (409 :class:`Conflict`)."""
        meta = body["metadata"]
        path = f"/api/v1/namespaces/{_q(meta['namespace'])}/secrets/{_q(meta['name'])}"
        result = await self._run("PUT", path, body=body, query=[("fieldManager", FIELD_MANAGER)])
        assert result is not None
        return result

    async def create_secret(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        path = f"/api/v1/namespaces/{_q(namespace)}/secrets"
        result = await self._run("POST", path, body=body, query=[("fieldManager", FIELD_MANAGER)])
        assert result is not None
        return result

    # --- Leases (the token refresh lock, see jiradrift.tokens.lease) ------------------------

    async def get_lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self._run("GET", f"{LEASES.format(namespace=_q(namespace))}/{_q(name)}", not_found_ok=True)

    async def create_lease(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST; 409 :class:`Conflict` when it exists already."""
        result = await self._run("POST", LEASES.format(namespace=_q(namespace)), body=body)
        assert result is not None
        return result

    async def replace_lease(self, namespace: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """PUT with ``metadata.resourceVersion`` as precondition; ``None`` when it is gone (404)."""
        path = f"{LEASES.format(namespace=_q(namespace))}/{_q(body['metadata']['name'])}"
        return await self._run("PUT", path, body=body, not_found_ok=True)

    # --- JiraTenants ----------------------------------------------------------------------

    def _tenant_path(self, namespace: str, name: str = "") -> str:
        base = f"/apis/{GROUP}/{VERSION}/namespaces/{_q(namespace)}/{PLURAL}"
        return f"{base}/{_q(name)}" if name else base

    async def get_tenant(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self._run("GET", self._tenant_path(namespace, name), not_found_ok=True)

    async def patch_tenant_status(self, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        """JSON merge patch of ``/status``; a ``metadata.resourceVersion`` in it makes it conditional."""
        result = await self._run(
            "PATCH",
            self._tenant_path(namespace, name) + "/status",
            body=patch,
            content_type=MERGE_PATCH,
            query=[("fieldManager", FIELD_MANAGER)],
        )
        assert result is not None
        return result

    async def list_tenants(self, namespace: str | None, *, limit: int = 500) -> AsyncIterator[list[dict[str, Any]]]:
        """Pages of JiraTenants (``limit`` / ``continue``), in one namespace or across all."""
        path = self._tenant_path(namespace) if namespace else f"/apis/{GROUP}/{VERSION}/{PLURAL}"
        token = ""
        for _ in range(1_000_000):  # bounded: a page is never empty while continue is set
            query = [("limit", str(limit))] + ([("continue", token)] if token else [])
            page = await self._run("GET", path, query=query)
            assert page is not None
            yield list(page.get("items") or [])
            token = str((page.get("metadata") or {}).get("continue") or "")
            if not token:
                return

    # --- Events ---------------------------------------------------------------------------

    async def create_event(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        result = await self._run("POST", f"/api/v1/namespaces/{_q(namespace)}/events", body=body)
        assert result is not None
        return result
