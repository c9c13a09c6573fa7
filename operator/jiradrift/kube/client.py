"""The one Kubernetes client of the operator and the token job: async, JSON in, JSON out.

Built on ``kubernetes_asyncio`` (the asyncio twin of the ``kubernetes`` package the project
already names): kubeconfig and in-cluster loading, TLS, exec plugins and bound-token refresh all
come from it; nothing here reads a kubeconfig or builds an SSL context by hand.

Why raw JSON rather than the generated ``CoreV1Api`` methods: bodies go out as the dicts we build
(a MicroTime such as ``2026-01-02T03:04:05.000000Z`` survives; the generated models round-trip it
through ``datetime.isoformat()``, which drops the fraction at whole seconds and the server then
refuses it), and responses come back as the dicts the server sent, which is much cheaper than
decoding ConfigMaps full of base64 into models. For the same reason the exchange itself runs on the
library's aiohttp session (its TLS context, connection pool, proxy and auth hook) with orjson, not
through ``ApiClient.call_api``, which walks every body recursively and encodes it with the stdlib
``json`` on each call: in the token job that was most of the client's CPU per request.

Three helpers every caller shares: :meth:`Kube.pages` (the one list pager), :func:`retry_on_conflict`
(the one re-read-on-409 loop) and :class:`KubeError` (status, reason and the server's message).
A transport failure (connection refused, reset, timeout) is a :class:`KubeUnavailable`, a
``KubeError`` with ``status`` None, so callers can retry outages without string matching.
"""

from __future__ import annotations

import asyncio
import errno
import os
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote, urlencode, urlsplit

import aiohttp
import orjson
from kubernetes_asyncio import client as kclient
from kubernetes_asyncio import config as kconfig

from jiradrift.net.backoff import backoff_delay
from jiradrift.redact import clip

T = TypeVar("T")

DEFAULT_TIMEOUT = 30.0  # seconds per request; a hung API server must not hang a handler
PAGE_SIZE = 500
MAX_CONNECTIONS = 32  # to the API server at once; more requests wait for one
JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
USER_AGENT = "jiradrift"
#: Ask for metadata only (what ``kubectl get`` does): a list without ``data``/``binaryData``.
METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"


class KubeError(Exception):
    """A Kubernetes API call failed. ``status`` is the HTTP status (None: no answer at all)."""

    def __init__(self, status: int | None, reason: str, message: str) -> None:
        super().__init__(f"{status or 'unreachable'} {reason}: {message}".strip())
        self.status = status
        self.reason = reason
        self.message = message

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        return self.status == 409

    @classmethod
    def from_body(cls, status: int | None, reason: str, body: bytes | str | None) -> KubeError:
        """From a response: the Status object's reason and message when the body is one."""
        message = ""
        if body:
            try:
                data = orjson.loads(body)
                reason = str(data.get("reason") or reason)
                message = str(data.get("message") or "")
            except (orjson.JSONDecodeError, AttributeError, TypeError):
                message = clip(body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body), 500)
        return cls(status, reason, message)


class KubeUnavailable(KubeError):
    """No answer from the API server (connection refused or reset, TLS failure, timeout)."""

    def __init__(self, message: str) -> None:
        super().__init__(None, "Unavailable", message)


def path_segment(value: str) -> str:
    """``value`` quoted for use as one segment of an API path."""
    return quote(value, safe="")


def resource_path(group: str, version: str, plural: str, namespace: str | None = None, name: str | None = None) -> str:
    """The REST path of a collection or one object (``group`` "" is the core API)."""
    base = f"/api/{version}" if not group else f"/apis/{group}/{version}"
    if namespace is not None:
        base += f"/namespaces/{path_segment(namespace)}"
    base += f"/{plural}"
    if name is not None:
        base += f"/{path_segment(name)}"
    return base


class UnknownContext(kconfig.ConfigException):
    """``--context`` names a context the kubeconfig does not have (kubectl: "context was not found")."""


def _require_context(path: str | os.PathLike[str] | None, context: str) -> None:
    """Refuse an unknown context by name, listing the ones there are (the library says only that the
    kubeconfig is invalid)."""
    try:
        contexts, _ = kconfig.list_kube_config_contexts(config_file=str(path) if path is not None else None)
    except kconfig.ConfigException:
        return  # no kubeconfig at all: loading it says so
    names = [str(c.get("name")) for c in contexts]
    if context not in names:
        where = f"kubeconfig {path}" if path is not None else "the kubeconfig"
        raise UnknownContext(f"context {context!r} not found in {where} (contexts: {', '.join(names) or 'none'})")


#: Told of every answered call: (method, path, request body bytes, response body bytes).
CallObserver = Callable[[str, str, int, int], None]


def _settle_environment(api: kclient.ApiClient, configuration: kclient.Configuration) -> None:
    """Decide the proxy once, when connecting, instead of on every request.

    ``kubernetes_asyncio`` opens its aiohttp session with ``trust_env=True``, so every request looked
    up ``*_PROXY``/``NO_PROXY`` and read ``~/.netrc`` in a worker thread: in the token job that was
    more CPU than the requests themselves. The proxy environment is honoured the same way (once,
    for the API server's host); netrc is not (API credentials come from the kubeconfig or the pod).
    """
    rest = api.rest_client
    session = rest.pool_manager
    connector = session.connector
    session.detach()  # keep the connector (its TLS context and pool); drop the env-reading session
    rest.pool_manager = aiohttp.ClientSession(connector=connector, trust_env=False, read_bufsize=2**21)
    if configuration.proxy:
        return
    server = urlsplit(str(configuration.host))
    host, scheme = server.hostname or "", server.scheme or "https"
    proxy = urllib.request.getproxies().get(scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        rest.proxy = proxy


class Kube:
    """An async Kubernetes API client over one ``kubernetes_asyncio`` ApiClient (one connection pool).

    ``observer`` (optional) is told of every call that got an answer, e.g. to count calls and bytes.
    """

    def __init__(
        self, api: kclient.ApiClient, timeout: float = DEFAULT_TIMEOUT, observer: CallObserver | None = None
    ) -> None:
        self.api = api
        self.timeout = timeout
        self.observer = observer

    @classmethod
    async def connect(cls, kubeconfig: str | os.PathLike[str] | None = None, context: str | None = None) -> Kube:
        """In-cluster configuration in a pod (unless a kubeconfig is named), else the kubeconfig."""
        configuration = kclient.Configuration()
        in_cluster = "KUBERNETES_SERVICE_HOST" in os.environ and not os.environ.get("KUBECONFIG")
        if kubeconfig is None and in_cluster:
            kconfig.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        else:
            # $KUBECONFIG is read now, not when kubernetes_asyncio was imported
            path = kubeconfig if kubeconfig is not None else os.environ.get("KUBECONFIG") or None
            if path is not None and not any(os.path.exists(p) for p in str(path).split(os.pathsep) if p):
                raise FileNotFoundError(errno.ENOENT, "kubeconfig not found (pass an existing file)", str(path))
            if context is not None:
                _require_context(path, context)
            await kconfig.load_kube_config(
                config_file=str(path) if path is not None else None,
                context=context,
                client_configuration=configuration,
            )
        # Each TLS connection costs a 256 KiB buffer (asyncio's sslproto); the library's default of
        # 100 would be 25 MiB of them, for more concurrency than an API server gives one client.
        configuration.connection_pool_maxsize = MAX_CONNECTIONS
        api = kclient.ApiClient(configuration)
        _settle_environment(api, configuration)
        return cls(api)

    async def close(self) -> None:
        await self.api.close()

    async def __aenter__(self) -> Kube:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        content_type: str = JSON,
        accept: str = JSON,
        timeout: float | None = None,
    ) -> Any:
        """One call; the decoded JSON response (None when empty). Raises :class:`KubeError`."""
        configuration = self.api.configuration
        rest = self.api.rest_client
        headers = {"Accept": accept, "User-Agent": USER_AGENT}
        # The library's auth step: a bearer token, refreshed by its hook (exec plugins, the pod's
        # rotating ServiceAccount token); client certificates are in the session's TLS context.
        auth = (await configuration.auth_settings()).get("BearerToken")
        if auth and auth.get("value"):
            headers[auth["key"]] = auth["value"]
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = body if isinstance(body, bytes) else orjson.dumps(body)
        params = [(k, str(v).lower() if isinstance(v, bool) else v) for k, v in (query or {}).items() if v is not None]
        url = f"{configuration.host}{path}" + (f"?{urlencode(params)}" if params else "")
        extra: dict[str, Any] = {}
        if rest.proxy:
            extra["proxy"] = rest.proxy
        if rest.server_hostname:
            extra["server_hostname"] = rest.server_hostname
        try:
            async with rest.pool_manager.request(
                method,
                url,
                data=data,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout or self.timeout),
                **extra,
            ) as response:
                raw = await response.read()
                status, reason = response.status, response.reason
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise KubeUnavailable(f"{method} {path}: {type(exc).__name__}: {exc}") from None
        if self.observer is not None:
            self.observer(method, path, 0 if data is None else len(data), len(raw))
        if not 200 <= status < 300:
            raise KubeError.from_body(status, str(reason or ""), raw)
        return orjson.loads(raw) if raw else None

    async def get(self, path: str, **query: Any) -> Any:
        return await self.request("GET", path, query=query)

    async def get_or_none(self, path: str, **query: Any) -> dict[str, Any] | None:
        """The object at ``path``, or None when the API server answers 404 (other errors raise)."""
        try:
            found: dict[str, Any] = await self.request("GET", path, query=query)
        except KubeError as exc:
            if exc.not_found:
                return None
            raise
        return found

    async def create(self, path: str, body: Mapping[str, Any]) -> Any:
        return await self.request("POST", path, body=body)

    async def replace(self, path: str, body: Mapping[str, Any]) -> Any:
        return await self.request("PUT", path, body=body)

    async def merge_patch(self, path: str, patch: Mapping[str, Any]) -> Any:
        return await self.request("PATCH", path, body=patch, content_type=MERGE_PATCH)

    async def delete(self, path: str, **query: Any) -> Any:
        return await self.request("DELETE", path, query=query)

    async def delete_unchanged(self, path: str, resource_version: str) -> bool:
        """Delete the object only as we last saw it (a ``resourceVersion`` precondition). False when
        it is gone already (404) or was written since (409); other errors raise :class:`KubeError`."""
        options = {"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"resourceVersion": resource_version}}
        try:
            await self.request("DELETE", path, body=options)
        except KubeError as exc:
            if exc.not_found or exc.conflict:
                return False
            raise
        return True

    async def pages(
        self, path: str, *, page_size: int = PAGE_SIZE, accept: str = JSON, **query: Any
    ) -> AsyncIterator[dict[str, Any]]:
        """Every item of a collection, read ``page_size`` at a time (the one pager).

        ``accept`` :data:`METADATA_LIST` lists metadata only (no ``data``), like ``kubectl get``.
        """
        params: dict[str, Any] = {**query, "limit": page_size}
        while True:
            data = await self.request("GET", path, query=params, accept=accept)
            for item in data.get("items") or ():
                yield item
            token = (data.get("metadata") or {}).get("continue")
            if not token:
                return
            params["continue"] = token

    async def list_all(self, path: str, **query: Any) -> list[dict[str, Any]]:
        return [item async for item in self.pages(path, **query)]


async def retry_on_conflict(attempt: Callable[[], Awaitable[T]], *, attempts: int = 5, base_delay: float = 0.05) -> T:
    """Run ``attempt`` (which re-reads what it changes) again after each 409, up to ``attempts`` times.

    The one re-read-on-conflict loop: a 409 means someone wrote first, so the caller's read is
    stale; ``attempt`` must read afresh each time. Backoff is jittered so two writers separate.
    """
    for number in range(attempts):
        try:
            return await attempt()
        except KubeError as exc:
            if not exc.conflict or number == attempts - 1:
                raise
        await asyncio.sleep(backoff_delay(number, base=base_delay))
    raise AssertionError("unreachable")
