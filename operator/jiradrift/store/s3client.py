"""A small async S3 client over httpx: the seven calls the S3 store needs, signed with SigV4.

Every request is bounded: a timeout per request (connect, read, write, pool), a cap on the bytes
read from one response, and at most ``retries`` more attempts when there was no answer or S3 said
to slow down (429/5xx), with jittered exponential backoff. Errors are typed: :class:`S3Error`
carries the HTTP status and S3's error code; :class:`S3Unavailable` means no answer (connection
refused, timeout); both are :class:`~jiradrift.model.store_errors.StoreError`.
Keys and secrets never appear in messages.

Works with AWS S3 and S3-compatible servers (versitygw, MinIO, Ceph RGW, ...). ``path_style=True``
addresses ``ENDPOINT/BUCKET/KEY`` (most self-hosted servers); otherwise ``BUCKET.HOST/KEY``.
The store's index relies on conditional writes (``If-Match`` / ``If-None-Match: *`` on PUT), which
AWS S3 supports since 2024 and versitygw implements.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlencode, urlsplit
from xml.etree import ElementTree

import httpx

from jiradrift.model.store_errors import StoreError
from jiradrift.net.backoff import backoff_delay
from jiradrift.net.body import read_capped
from jiradrift.net.egress import AddressPolicy, Resolve
from jiradrift.net.errors import refusal_of
from jiradrift.net.transport import outbound_client
from jiradrift.store.credentials import CredentialsProvider, credentials_from_env, provider_for
from jiradrift.store.sigv4 import EMPTY_SHA256, Credentials, sign
from jiradrift.store.webidentity import WebIdentityConfig

DEFAULT_TIMEOUT = 30.0
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
_LIST_PAGE = 1000


class S3Error(StoreError):
    """S3 answered with an error (``status``, S3 ``code``)."""

    def __init__(self, message: str, *, status: int | None = None, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code

    @property
    def not_found(self) -> bool:
        return self.status == 404


class S3Unavailable(S3Error):
    """No answer from the S3 endpoint (refused, reset, timed out)."""


class S3EndpointRefused(S3Error):
    """The egress policy refused the address the S3 endpoint (or the proxy) resolved to: never retried."""


class S3ResponseTooLarge(S3Error):
    """A response was larger than the store allows (``max_response_bytes``)."""


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size: int
    etag: str
    last_modified: datetime


@dataclass(frozen=True, slots=True)
class S3Config:
    """Where the store lives. ``prefix`` is prepended to every key (e.g. ``jiradrift/``)."""

    endpoint: str  # https://s3.eu-west-1.amazonaws.com, http://127.0.0.1:7070
    bucket: str
    region: str = "us-east-1"
    prefix: str = ""
    path_style: bool = True
    timeout_seconds: float = DEFAULT_TIMEOUT
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    retries: int = 3  # more attempts of a request that got no answer or a 429/500/502/503/504
    retry_backoff_seconds: float = 0.2

    def __post_init__(self) -> None:
        scheme = urlsplit(self.endpoint).scheme
        if scheme not in ("http", "https") or not urlsplit(self.endpoint).netloc:
            raise StoreError(f"S3 endpoint {self.endpoint!r} must be an http(s) URL such as https://s3.amazonaws.com")
        if not self.bucket or "/" in self.bucket:
            raise StoreError(f"S3 bucket {self.bucket!r} must be a bucket name (no '/')")
        if self.prefix and not self.prefix.endswith("/"):
            object.__setattr__(self, "prefix", self.prefix + "/")

    @property
    def where(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def _parse_error(status: int, body: bytes) -> tuple[str, str]:
    try:
        root = ElementTree.fromstring(body) if body else None
    except ElementTree.ParseError:
        root = None
    if root is None:
        return "", ""
    return (root.findtext("Code") or ""), (root.findtext("Message") or "")


class S3Client:
    """One bucket's objects. Create with :meth:`connect`; close with ``aclose`` (or ``async with``)."""

    def __init__(
        self,
        config: S3Config,
        credentials: Credentials | WebIdentityConfig | CredentialsProvider,
        http: httpx.AsyncClient,
        *,
        owns_http: bool = True,
    ) -> None:
        self.config = config
        self.credentials = provider_for(credentials, http)
        self.http = http
        self._owns_http = owns_http
        parts = urlsplit(config.endpoint.rstrip("/"))
        if config.path_style:
            self._base = f"{parts.scheme}://{parts.netloc}{parts.path}/{quote(config.bucket, safe='')}"
        else:
            self._base = f"{parts.scheme}://{config.bucket}.{parts.netloc}{parts.path}"

    @classmethod
    def connect(
        cls,
        config: S3Config,
        credentials: Credentials | WebIdentityConfig | CredentialsProvider | None = None,
        *,
        policy: AddressPolicy | None = None,
        resolve: Resolve | None = None,
    ) -> S3Client:
        """A client signing with ``credentials``, or with what the environment provides: an access key,
        or the pod's cloud identity (see :func:`~jiradrift.store.credentials.credentials_from_env`).

        Its connections (to the S3 endpoint, to STS, or to a proxy from the environment) follow the
        egress policy (:mod:`jiradrift.net.egress`; ``policy`` and ``resolve`` default to the process's)."""
        source = credentials or credentials_from_env(region=config.region)
        http = outbound_client(
            policy=policy,
            resolve=resolve,
            timeout=httpx.Timeout(config.timeout_seconds),
            follow_redirects=False,
        )
        return cls(config, source, http)

    def scoped(self, sub_prefix: str) -> S3Client:
        """A client of the keys under ``PREFIX/SUB_PREFIX/``, sharing this one's connections."""
        config = replace(self.config, prefix=f"{self.config.prefix}{sub_prefix.strip('/')}/")
        return S3Client(config, self.credentials, self.http, owns_http=False)

    async def aclose(self) -> None:
        if self._owns_http:
            await self.http.aclose()

    async def __aenter__(self) -> S3Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _url(self, key: str | None) -> str:
        if key is None:
            return self._base + ("/" if not self.config.path_style else "")
        return f"{self._base}/{quote(self.config.prefix + key, safe='-_.~/')}"

    async def _send(
        self,
        method: str,
        key: str | None,
        *,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        ok: tuple[int, ...] = (200,),
    ) -> tuple[int, httpx.Headers, bytes]:
        """One request, retried (signed afresh) on no answer and on S3's "slow down / try again"
        statuses, ``retries`` times with jittered exponential backoff. Every call the store makes is
        idempotent, conditional writes included: a retried write that already happened fails its
        condition, and the store then re-reads, as after any lost race."""
        attempt = 0
        renewed = False
        while True:
            try:
                return await self._send_once(method, key, body=body, headers=headers, query=query, ok=ok)
            except S3Error as exc:
                if exc.code == "ExpiredToken" and not renewed and self.credentials.invalidate():
                    renewed = True  # the session ended before its Expiration (clock skew): exchange again, now
                    continue
                transient = isinstance(exc, S3Unavailable) or exc.status in RETRY_STATUSES
                if not transient or attempt >= self.config.retries:
                    raise
            delay = backoff_delay(attempt, base=self.config.retry_backoff_seconds)
            attempt += 1
            await asyncio.sleep(delay)

    async def _send_once(
        self,
        method: str,
        key: str | None,
        *,
        body: bytes,
        headers: Mapping[str, str] | None,
        query: Mapping[str, str] | None,
        ok: tuple[int, ...],
    ) -> tuple[int, httpx.Headers, bytes]:
        url = self._url(key)
        payload_hash = hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256
        signed = sign(
            method,
            url,
            dict(headers or {}),
            payload_hash,
            await self.credentials.current(),
            self.config.region,
            datetime.now(UTC),
            query=query,
        )
        full_url = f"{url}?{urlencode(query or {}, quote_via=quote, safe='-_.~')}" if query else url
        what = f"{method} {self.config.where}{key if key is not None else ''}"
        limit = self.config.max_response_bytes
        try:
            async with self.http.stream(method, full_url, headers=signed, content=body or None) as response:
                declared = response.headers.get("content-length") if method != "HEAD" else None  # HEAD: object size
                if declared and declared.isdigit() and int(declared) > limit:
                    raise S3ResponseTooLarge(
                        f"{what}: the response is {declared} bytes, over the store's limit of {limit}; raise "
                        f"the S3 store's max response bytes if such objects are expected",
                        status=response.status_code,
                    )
                data = await read_capped(
                    response.aiter_bytes(),
                    limit,
                    lambda: S3ResponseTooLarge(
                        f"{what}: the response exceeded the store's limit of {limit} bytes",
                        status=response.status_code,
                    ),
                )
                status, resp_headers = response.status_code, response.headers
        except httpx.TimeoutException:
            raise S3Unavailable(
                f"{what}: no answer within {self.config.timeout_seconds}s; check the S3 endpoint and network"
            ) from None
        except httpx.TransportError as exc:
            if refused := refusal_of(exc):
                raise S3EndpointRefused(
                    f"{what}: the S3 endpoint {self.config.endpoint} (--s3-endpoint, the chart's store.s3.endpoint) "
                    f"cannot be used: {refused}"
                ) from None
            raise S3Unavailable(
                f"{what}: cannot reach {self.config.endpoint} ({type(exc).__name__}); check the S3 endpoint"
            ) from None
        if status not in ok:
            code, message = _parse_error(status, data)
            hint = {
                403: "check the access key, its permissions on the bucket, and the region",
                301: "the bucket is in another region or needs another addressing style (--s3-path-style)",
                404: "the object or bucket does not exist",
            }.get(status, "")
            raise S3Error(
                f"{what}: HTTP {status} {code} {message}".rstrip() + (f"; {hint}" if hint else ""),
                status=status,
                code=code,
            )
        return status, resp_headers, data

    # --- objects ------------------------------------------------------------------------------

    async def get(self, key: str) -> tuple[bytes, str] | None:
        """(body, etag), or None when the object does not exist."""
        try:
            _, headers, data = await self._send("GET", key)
        except S3Error as exc:
            if exc.not_found:
                return None
            raise
        return data, headers.get("etag", "")

    async def head(self, key: str) -> ObjectInfo | None:
        try:
            _, headers, _ = await self._send("HEAD", key)
        except S3Error as exc:
            if exc.not_found:
                return None
            raise
        modified = headers.get("last-modified")
        return ObjectInfo(
            key=key,
            size=int(headers.get("content-length") or 0),
            etag=headers.get("etag", ""),
            last_modified=parsedate_to_datetime(modified) if modified else datetime.now(UTC),
        )

    async def put(
        self, key: str, body: bytes, *, if_match: str | None = None, if_none_match: bool = False
    ) -> str | None:
        """Write an object; returns its etag. With a condition, None when the condition failed
        (someone else wrote it first): the caller re-reads and retries."""
        headers = {"content-type": "application/octet-stream"}
        if if_match is not None:
            headers["if-match"] = if_match
        if if_none_match:
            headers["if-none-match"] = "*"
        try:
            _, resp_headers, _ = await self._send("PUT", key, body=body, headers=headers)
        except S3Error as exc:
            if (if_match is not None or if_none_match) and exc.status in (409, 412):
                return None
            if if_match is not None and exc.status == 404:  # object gone since it was read
                return None
            raise
        etag: str = resp_headers.get("etag", "")
        return etag

    async def delete(self, key: str) -> None:
        await self._send("DELETE", key, ok=(200, 204))

    async def list(self, prefix: str) -> AsyncIterator[ObjectInfo]:
        """Every object under ``prefix`` (relative to the store's prefix), in key order."""
        token: str | None = None
        strip = len(self.config.prefix)
        while True:
            query: dict[str, Any] = {"list-type": "2", "prefix": self.config.prefix + prefix, "max-keys": _LIST_PAGE}
            if token:
                query["continuation-token"] = token
            _, _, data = await self._send("GET", None, query={k: str(v) for k, v in query.items()})
            try:
                root = ElementTree.fromstring(data)
            except ElementTree.ParseError as exc:
                raise S3Error(
                    f"listing {self.config.where}{prefix}: the answer is not S3 XML ({exc}); is --s3-endpoint an "
                    f"S3 endpoint, and does it need --s3-path-style?"
                ) from None
            for entry in root.iter(f"{_NS}Contents"):
                yield ObjectInfo(
                    key=(entry.findtext(f"{_NS}Key") or "")[strip:],
                    size=int(entry.findtext(f"{_NS}Size") or 0),
                    etag=entry.findtext(f"{_NS}ETag") or "",
                    last_modified=datetime.fromisoformat(
                        (entry.findtext(f"{_NS}LastModified") or "1970-01-01T00:00:00Z").replace("Z", "+00:00")
                    ),
                )
            token = root.findtext(f"{_NS}NextContinuationToken")
            if root.findtext(f"{_NS}IsTruncated") != "true" or not token:
                return

    # --- the bucket ---------------------------------------------------------------------------

    async def create_bucket(self) -> None:
        """Create the bucket (tests and first-time setup); fine when this account already owns it."""
        body = b""
        if self.config.region != "us-east-1":
            body = (
                '<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                f"<LocationConstraint>{self.config.region}</LocationConstraint></CreateBucketConfiguration>"
            ).encode()
        try:
            await self._send("PUT", None, body=body)
        except S3Error as exc:
            if exc.code != "BucketAlreadyOwnedByYou":
                raise
