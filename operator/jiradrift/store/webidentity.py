"""A pod's cloud identity as S3 credentials: STS ``AssumeRoleWithWebIdentity`` (IRSA on EKS, and the
same flow on other platforms that project an OIDC token into the pod).

Kubernetes projects a service-account token into a file and rotates it; the EKS webhook sets
``AWS_WEB_IDENTITY_TOKEN_FILE`` and ``AWS_ROLE_ARN``. :class:`WebIdentityCredentials` reads the file,
exchanges the token at STS for temporary keys (unsigned request: the token is the proof), signs S3
requests with them, and exchanges the file's *current* token again before they expire (5 minutes
early, or half their lifetime when that is shorter). One exchange at a time, shared by every request.

    provider = WebIdentityCredentials(WebIdentityConfig.from_env(os.environ, region="eu-west-1"), http)
    creds = await provider.current()

Everything STS answers is untrusted: the answer is bounded in size and time, parsed without DTDs,
and its error text is quoted only after redaction. The token, the secret key and the session token
never reach a message or a log line.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit
from xml.etree import ElementTree

import httpx

from jiradrift.model.store_errors import StoreError
from jiradrift.net.backoff import backoff_delay
from jiradrift.net.body import read_capped
from jiradrift.net.errors import refusal_of
from jiradrift.redact import redact, remember_secrets
from jiradrift.store.sigv4 import Credentials

log = logging.getLogger(__name__)

STS_VERSION = "2011-06-15"
DEFAULT_STS_TIMEOUT = 10.0
MAX_STS_RESPONSE_BYTES = 64 * 1024
MAX_TOKEN_FILE_BYTES = 64 * 1024  # a Kubernetes service-account token is 1-2 KiB
REFRESH_BEFORE = timedelta(minutes=5)
RETRY_AFTER_FAILED_REFRESH = timedelta(seconds=30)
ATTEMPTS = 3  # of one exchange, when the failure is transient
RETRY_BACKOFF_SECONDS = 0.5
_TRANSIENT_CODES = frozenset({"IDPCommunicationError", "Throttling", "ThrottlingException", "RequestLimitExceeded"})
_SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$")
_HINTS = {
    "InvalidIdentityToken": (
        "the role's trust policy must name the cluster's OIDC provider, and the token's audience must be "
        "sts.amazonaws.com (the ServiceAccount annotation eks.amazonaws.com/role-arn sets this up)"
    ),
    "AccessDenied": (
        "the role's trust policy must allow sts:AssumeRoleWithWebIdentity for "
        "system:serviceaccount:NAMESPACE:SERVICEACCOUNT of the operator"
    ),
    "ExpiredTokenException": "the projected token has expired; check that the kubelet rotates it",
    "IDPCommunicationError": "STS could not reach the cluster's OIDC issuer; this is retried",
    "ValidationError": "check AWS_ROLE_ARN and AWS_ROLE_SESSION_NAME",
}


class WebIdentityError(StoreError):
    """The token could not be exchanged for S3 credentials (``code``: STS's error code, if it answered)."""

    def __init__(self, message: str, *, code: str = "", transient: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.transient = transient  # no answer, 5xx, throttling, or STS could not reach the OIDC issuer


def sts_endpoint(environ: Mapping[str, str], region: str) -> str:
    """Where the exchange goes: ``AWS_ENDPOINT_URL_STS`` if set, else the regional endpoint of
    ``AWS_REGION``/``AWS_DEFAULT_REGION`` (or ``region``), or the global one when
    ``AWS_STS_REGIONAL_ENDPOINTS=legacy`` asks for it in us-east-1."""
    override = environ.get("AWS_ENDPOINT_URL_STS", "").strip()
    if override:
        parts = urlsplit(override)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise WebIdentityError(
                f"AWS_ENDPOINT_URL_STS={override!r} must be an http(s) URL such as https://sts.eu-west-1.amazonaws.com"
            )
        return override.rstrip("/")
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or region
    if environ.get("AWS_STS_REGIONAL_ENDPOINTS", "regional").strip().lower() == "legacy" and region == "us-east-1":
        return "https://sts.amazonaws.com"
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://sts.{region}.{suffix}"


@dataclass(frozen=True, slots=True)
class WebIdentityConfig:
    """What the exchange needs; :meth:`from_env` reads the variables the EKS webhook sets."""

    token_file: Path
    role_arn: str
    sts_endpoint: str
    session_name: str = ""  # empty: jiradrift-<epoch seconds>, new for each exchange
    duration_seconds: int | None = None  # None: the role's default (1 hour)
    timeout_seconds: float = DEFAULT_STS_TIMEOUT

    def __post_init__(self) -> None:
        if not self.role_arn.startswith("arn:"):
            raise WebIdentityError(
                f"AWS_ROLE_ARN={self.role_arn!r} is not a role ARN; set it to arn:aws:iam::ACCOUNT:role/NAME "
                f"(the ServiceAccount annotation eks.amazonaws.com/role-arn)"
            )
        if self.session_name and not _SESSION_NAME.match(self.session_name):
            raise WebIdentityError(
                f"AWS_ROLE_SESSION_NAME={self.session_name!r} must be 2-64 characters of letters, digits and +=,.@_-"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str], *, region: str) -> WebIdentityConfig:
        token_file = environ.get("AWS_WEB_IDENTITY_TOKEN_FILE", "").strip()
        role_arn = environ.get("AWS_ROLE_ARN", "").strip()
        if not token_file or not role_arn:
            missing = "AWS_ROLE_ARN" if token_file else "AWS_WEB_IDENTITY_TOKEN_FILE"
            raise WebIdentityError(
                f"web-identity credentials need both AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN; {missing} is "
                f"not set (on EKS, annotate the operator's ServiceAccount with eks.amazonaws.com/role-arn)"
            )
        return cls(
            token_file=Path(token_file),
            role_arn=role_arn,
            sts_endpoint=sts_endpoint(environ, region),
            session_name=environ.get("AWS_ROLE_SESSION_NAME", "").strip(),
        )

    def read_token(self) -> str:
        """The token as the file holds it now (Kubernetes rewrites the file well before expiry)."""
        try:
            with open(self.token_file, "rb") as f:
                data = f.read(MAX_TOKEN_FILE_BYTES + 1)
        except OSError as exc:
            raise WebIdentityError(
                f"cannot read the web-identity token file {self.token_file} (AWS_WEB_IDENTITY_TOKEN_FILE): "
                f"{exc.strerror or type(exc).__name__}; check the projected service-account token volume"
            ) from None
        if len(data) > MAX_TOKEN_FILE_BYTES:
            raise WebIdentityError(
                f"the web-identity token file {self.token_file} is over {MAX_TOKEN_FILE_BYTES} bytes; "
                f"AWS_WEB_IDENTITY_TOKEN_FILE must name a projected service-account token"
            )
        token = data.decode("utf-8", errors="replace").strip()
        if not token:
            raise WebIdentityError(
                f"the web-identity token file {self.token_file} is empty; check the projected "
                f"service-account token volume"
            )
        remember_secrets([token])
        return token


@dataclass(frozen=True, slots=True)
class TemporaryCredentials:
    credentials: Credentials
    expiration: datetime


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find(root: ElementTree.Element, name: str) -> ElementTree.Element | None:
    for element in root.iter():
        if _local(element.tag) == name:
            return element
    return None


def _text(root: ElementTree.Element | None, name: str) -> str:
    if root is None:
        return ""
    found = _find(root, name)
    return (found.text or "").strip() if found is not None else ""


def _parse_xml(body: bytes, what: str) -> ElementTree.Element:
    # No DTDs: an entity-expansion bomb would multiply the bounded body many times over.
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise WebIdentityError(f"{what}: the answer declares a DTD, which STS never sends; is the STS endpoint right?")
    try:
        return ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise WebIdentityError(
            f"{what}: the answer is not STS XML ({exc}); check AWS_ENDPOINT_URL_STS / the region"
        ) from None


def parse_assume_role_response(status: int, body: bytes, *, what: str) -> TemporaryCredentials:
    """STS's answer as credentials, or a :class:`WebIdentityError` with STS's code, message and a fix."""
    if status != 200:
        try:
            root: ElementTree.Element | None = _parse_xml(body, what) if body else None
        except WebIdentityError:
            root = None
        error = _find(root, "Error") if root is not None else None
        code, message = _text(error, "Code"), _text(error, "Message")
        message = redact(message)[:300]
        hint = _HINTS.get(code, "check the role ARN, its trust policy and the STS endpoint")
        detail = f"{code}: {message}" if code else "no STS error in the answer"
        transient = status >= 500 or code in _TRANSIENT_CODES
        raise WebIdentityError(
            f"{what}: STS refused with HTTP {status} {detail}; {hint}", code=code, transient=transient
        )
    root = _parse_xml(body, what)
    creds = _find(root, "Credentials")
    fields = {name: _text(creds, name) for name in ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration")}
    missing = [name for name, value in fields.items() if not value]
    if creds is None or missing:
        raise WebIdentityError(f"{what}: the answer has no {', '.join(missing) or 'Credentials'}; is this STS?")
    try:
        expiration = datetime.fromisoformat(fields["Expiration"].replace("Z", "+00:00"))
    except ValueError:
        raise WebIdentityError(f"{what}: Expiration {fields['Expiration'][:40]!r} is not a timestamp") from None
    if expiration.tzinfo is None:
        expiration = expiration.replace(tzinfo=UTC)
    remember_secrets([fields["SecretAccessKey"], fields["SessionToken"]])
    return TemporaryCredentials(
        Credentials(fields["AccessKeyId"], fields["SecretAccessKey"], fields["SessionToken"]), expiration
    )


@dataclass(frozen=True, slots=True)
class _Cached:
    temporary: TemporaryCredentials
    refresh_at: datetime


class WebIdentityCredentials:
    """Temporary S3 credentials from STS, exchanged again before they expire.

    A refresh that fails while the current credentials are still valid is logged and retried
    30 seconds later; once they have expired, the failure is the request's error."""

    refreshable = True

    def __init__(
        self,
        config: WebIdentityConfig,
        http: httpx.AsyncClient,
        *,
        now: Callable[[], datetime] | None = None,
        refresh_before: timedelta = REFRESH_BEFORE,
    ) -> None:
        self.config = config
        self.http = http
        self._now = now or (lambda: datetime.now(UTC))
        self.refresh_before = refresh_before
        self._cached: _Cached | None = None
        self._lock = asyncio.Lock()
        self.exchanges = 0  # successful exchanges, for tests and the curious

    @property
    def _what(self) -> str:
        return f"AssumeRoleWithWebIdentity for {self.config.role_arn} at {self.config.sts_endpoint}"

    async def current(self) -> Credentials:
        cached = self._cached
        if cached is not None and self._now() < cached.refresh_at:
            return cached.temporary.credentials
        async with self._lock:
            cached = self._cached
            now = self._now()
            if cached is not None and now < cached.refresh_at:  # another request refreshed meanwhile
                return cached.temporary.credentials
            try:
                fresh = await self._exchange()
            except WebIdentityError as exc:
                if cached is None or now >= cached.temporary.expiration:
                    raise
                log.warning(
                    "S3 credentials: refreshing failed (%s); the current ones stay in use until %s",
                    exc,
                    cached.temporary.expiration.isoformat(),
                )
                retry_at = min(now + RETRY_AFTER_FAILED_REFRESH, cached.temporary.expiration)
                self._cached = replace(cached, refresh_at=retry_at)
                return cached.temporary.credentials
            lifetime = fresh.expiration - now
            early = min(self.refresh_before, lifetime / 2)
            self._cached = _Cached(fresh, fresh.expiration - early)
            self.exchanges += 1
            log.info(
                "S3 credentials: assumed %s (key %s) until %s",
                self.config.role_arn,
                fresh.credentials.access_key_id,
                fresh.expiration.isoformat(),
            )
            return fresh.credentials

    def invalidate(self) -> bool:
        """S3 said the session token expired (clock skew, revoked session): exchange again next time."""
        self._cached = None
        return True

    async def _exchange(self) -> TemporaryCredentials:
        """One exchange, tried up to :data:`ATTEMPTS` times (each bounded by the timeout) while the
        failure is transient; the token file is read afresh each time."""
        attempt = 1
        while True:
            try:
                return await self._exchange_once()
            except WebIdentityError as exc:
                if not exc.transient or attempt >= ATTEMPTS:
                    raise
            await asyncio.sleep(backoff_delay(attempt - 1, base=RETRY_BACKOFF_SECONDS))
            attempt += 1

    async def _exchange_once(self) -> TemporaryCredentials:
        token = self.config.read_token()
        form = {
            "Action": "AssumeRoleWithWebIdentity",
            "Version": STS_VERSION,
            "RoleArn": self.config.role_arn,
            "RoleSessionName": self.config.session_name or f"jiradrift-{int(time.time())}",
            "WebIdentityToken": token,
        }
        if self.config.duration_seconds:
            form["DurationSeconds"] = str(self.config.duration_seconds)
        limit = self.config.timeout_seconds
        try:
            async with asyncio.timeout(limit):
                status, body = await self._post(form)
        except TimeoutError:
            raise WebIdentityError(
                f"{self._what}: no complete answer within {limit}s; check the STS endpoint and network "
                f"(AWS_ENDPOINT_URL_STS / AWS_REGION)",
                transient=True,
            ) from None
        except httpx.TransportError as exc:
            if refused := refusal_of(exc):
                raise WebIdentityError(
                    f"{self._what}: the STS endpoint {self.config.sts_endpoint} (AWS_ENDPOINT_URL_STS, or the "
                    f"regional endpoint of AWS_REGION) cannot be used: {refused}"
                ) from None
            raise WebIdentityError(
                f"{self._what}: cannot reach STS ({type(exc).__name__}); check the STS endpoint and network "
                f"(AWS_ENDPOINT_URL_STS / AWS_REGION)",
                transient=True,
            ) from None
        return parse_assume_role_response(status, body, what=self._what)

    async def _post(self, form: dict[str, str]) -> tuple[int, bytes]:
        headers = {"accept": "text/xml"}
        async with self.http.stream(
            "POST", self.config.sts_endpoint + "/", data=form, headers=headers, timeout=self.config.timeout_seconds
        ) as response:
            body = await read_capped(
                response.aiter_bytes(),
                MAX_STS_RESPONSE_BYTES,
                lambda: WebIdentityError(
                    f"{self._what}: the answer exceeded {MAX_STS_RESPONSE_BYTES} bytes; is the STS endpoint right?"
                ),
            )
            return response.status_code, body
