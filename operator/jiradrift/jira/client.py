"""The async, read-only Jira REST client every capture goes through.

    async with await JiraClient.connect("https://acme.atlassian.net", ApiTokenAuth(email, token)) as jira:
        fields = await jira.get_json("/field")
        flows = await jira.post_read("/workflows", {"workflowIds": ids})

Every request passes one function (``_request``) and one transport (``ReadOnlyTransport``): writes are
refused before sending, a tenant-wide quota pause is honoured, concurrency is bounded by a
semaphore, the request rate by a token bucket, and 429/5xx are retried per ``RetryPolicy``.
``stats`` counts requests by status and rate-limit waits for the operator's metrics.

The site is untrusted: each request has a wall-clock deadline covering its whole body, bodies are
read with a size cap after decompression, JSON with a nesting cap, and waits a site asks for are
capped (``ClientSettings.limits``, see :class:`~jiradrift.jira.limits.ResponseLimits`). Breaking
one raises a :class:`~jiradrift.jira.errors.SiteMisbehaved`, which is never retried.
"""

from __future__ import annotations

import asyncio
import html
import random
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx
import orjson

from jiradrift.clock import Clock, SystemClock
from jiradrift.jira import errors
from jiradrift.jira.auth import (
    DEFAULT_GATEWAY,
    Credentials,
    api_base,
    normalise_origin,
    origin_of,
    uses_gateway,
)
from jiradrift.jira.budget import ByteBudget, Claim, ItemBudget, parse_cost
from jiradrift.jira.discovery import discover_cloud_id
from jiradrift.jira.guard import ReadOnlyTransport, check_request
from jiradrift.jira.limits import (
    ACCEPT_ENCODING,
    SITE_CONCURRENCY,
    SITE_REQUESTS_PER_SECOND,
    ResponseLimits,
    deadline,
    decoded,
    loads_json,
    read_response,
)
from jiradrift.jira.oauth import DEFAULT_TOKEN_URL
from jiradrift.jira.ratelimit import RetryPolicy, TokenBucket, decide
from jiradrift.jira.requestcount import count_request
from jiradrift.jira.token_source import TokenSource, token_source_for
from jiradrift.net import errors as net_errors
from jiradrift.net.transport import AiohttpTransport
from jiradrift.redact import clip

QueryValue = str | int | bool
Params = Mapping[str, QueryValue | Sequence[QueryValue]] | Sequence[tuple[str, QueryValue]]


@dataclass(frozen=True)
class ClientSettings:
    """Per-tenant pacing and timeouts (``JiraTenant.spec.rateLimit`` maps onto these).

    ``timeout`` is httpx's connect/read/pool timeout (a read timeout restarts with every byte);
    ``limits`` bound what the site may cost us: body size after decompression, JSON depth, a
    wall-clock deadline per request, pages per listing, and the longest Retry-After or quota
    pause honoured. ``jiradrift snapshot`` and ``jiradrift run`` set them from flags.
    """

    max_concurrency: int = int(SITE_CONCURRENCY.default)
    requests_per_second: float = SITE_REQUESTS_PER_SECOND.default
    burst: float | None = None  # defaults to one second's worth of requests
    # Jira's burst limits are per tenant, endpoint and method (GET 100 rps by default): when set,
    # each endpoint template ("GET /project/{}/role/{}") is also paced to this rate.
    endpoint_requests_per_second: float | None = None
    timeout: float = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    limits: ResponseLimits = field(default_factory=ResponseLimits)
    accept_language: str = "en-US"
    user_agent: str = "jiradrift (read-only configuration snapshotter)"
    # The process's one response memory budget, shared by every client (the operator's or the
    # CLI's); None: this client gets its own of limits.max_inflight_bytes.
    budget: ByteBudget | None = None
    # The process's one budget of manifest items, shared by every capture; None: this client gets
    # its own of limits.max_process_items.
    items: ItemBudget | None = None


@dataclass
class ClientStats:
    """Counters for Prometheus: requests by status ("200", "429", "timeout", "transport_error")."""

    requests_total: int = 0
    requests_by_status: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    rate_limit_waits: int = 0
    rate_limit_wait_seconds: float = 0.0
    quota_pauses: int = 0
    throttle_wait_seconds: float = 0.0  # time spent waiting for the requests-per-second cap
    near_limit_responses: int = 0  # responses carrying X-RateLimit-NearLimit: true
    writes_refused: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests_total": self.requests_total,
            "requests_by_status": dict(self.requests_by_status),
            "retries": self.retries,
            "rate_limit_waits": self.rate_limit_waits,
            "rate_limit_wait_seconds": round(self.rate_limit_wait_seconds, 3),
            "quota_pauses": self.quota_pauses,
            "throttle_wait_seconds": round(self.throttle_wait_seconds, 3),
            "near_limit_responses": self.near_limit_responses,
            "writes_refused": self.writes_refused,
        }


_ID_SEGMENT = re.compile(r"/[^/]*\d[^/]*")  # a path segment holding an id ("10001", "customfield_10001")
_TAG = re.compile(r"<[^>]+>")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)


def error_detail(response: httpx.Response, limit: int = 500) -> str:
    """Jira's ``errorMessages``/``errors`` if the body is JSON; the title or text of an HTML page otherwise.

    Redacted, then cut to ``limit`` characters: a site may echo the credential back, and a cut made
    before redacting can fall inside it and leave a prefix no redaction recognises."""
    body = response.content[:20000]
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict):
        parts = [str(m) for m in data.get("errorMessages") or []]
        errs = data.get("errors")
        if isinstance(errs, dict):
            parts += [f"{k}: {v}" for k, v in errs.items()]
        for key in ("message", "error_description", "error"):
            if not parts and data.get(key):
                parts.append(str(data[key]))
        if parts:
            return clip("; ".join(parts), limit)
    text = body.decode("utf-8", "replace")
    title = _TITLE.search(text)
    if title and title.group(1).strip():
        return "HTML page: " + clip(html.unescape(title.group(1).strip()), min(limit, 200))
    flat = " ".join(html.unescape(_TAG.sub(" ", text)).split())
    return clip(("HTML page: " if "<" in text else "") + flat, min(limit, 200))


_STATUS_ERRORS: dict[int, type[errors.JiraHTTPError]] = {
    400: errors.BadRequest,
    401: errors.AuthenticationFailed,
    403: errors.PermissionDenied,
    404: errors.NotFound,
    429: errors.RateLimited,
}


def http_error(status: int, method: str, url: str, detail: str) -> errors.JiraHTTPError:
    cls = _STATUS_ERRORS.get(status) or (errors.ServerError if status >= 500 else errors.JiraHTTPError)
    return cls(status, method, url, detail)


class JiraClient:
    """One tenant's connection. Construct with :meth:`connect` (resolves cloudId, mints tokens)."""

    def __init__(
        self,
        *,
        api_base: str,
        token_source: TokenSource,
        site: str = "",
        settings: ClientSettings | None = None,
        clock: Clock | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        rng: random.Random | None = None,
        cloud_id: str | None = None,
    ) -> None:
        self.api_base = api_base.rstrip("/")
        self.site = site or origin_of(self.api_base)
        self.cloud_id = cloud_id
        self.settings = settings or ClientSettings()
        self.clock: Clock = clock or SystemClock()
        self.stats = ClientStats()
        self._tokens = token_source
        self._rng = rng or random.Random()
        self._allowed = frozenset({origin_of(self.api_base)})
        self._transport = ReadOnlyTransport(
            transport or AiohttpTransport(max_connections=self.settings.max_concurrency),
            self._allowed,
        )
        self._http = httpx.AsyncClient(
            transport=self._transport,
            timeout=httpx.Timeout(self.settings.timeout),
            headers={
                "Accept": "application/json",
                "Accept-Encoding": ACCEPT_ENCODING,
                "Accept-Language": self.settings.accept_language,
                "X-Force-Accept-Language": "true",
                "User-Agent": self.settings.user_agent,
            },
            follow_redirects=False,
        )
        self._semaphore = asyncio.Semaphore(self.settings.max_concurrency)
        self.budget = self.settings.budget or ByteBudget(self.settings.limits.max_inflight_bytes)
        self.item_budget = self.settings.items or ItemBudget(self.settings.limits.max_process_items)
        rps = self.settings.requests_per_second
        self._bucket = TokenBucket(rps, self.settings.burst or rps, self.clock)
        self._endpoint_buckets: dict[str, TokenBucket] = {}
        self._paused_until = 0.0

    # -- construction --------------------------------------------------------------------------

    @classmethod
    async def connect(
        cls,
        site: str,
        credentials: Credentials,
        *,
        cloud_id: str | None = None,
        gateway: str = DEFAULT_GATEWAY,
        token_url: str = DEFAULT_TOKEN_URL,
        settings: ClientSettings | None = None,
        clock: Clock | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        rng: random.Random | None = None,
    ) -> JiraClient:
        """Resolve the API base for ``credentials`` (discovering the cloudId for gateway auth) and build a client."""

        site = normalise_origin(site, "site URL")
        clock = clock or SystemClock()
        settings = settings or ClientSettings()
        source = token_source_for(credentials, clock, token_url=token_url)
        if uses_gateway(credentials) and not cloud_id:
            cloud_id = await discover_cloud_id(
                site,
                gateway=gateway,
                authorization=await source.authorization(),
                transport=transport,
                timeout=settings.timeout,
                limits=settings.limits,
            )
        base = api_base(site, credentials, cloud_id=cloud_id, gateway=gateway)
        return cls(
            api_base=base,
            token_source=source,
            site=site,
            settings=settings,
            clock=clock,
            transport=transport,
            rng=rng,
            cloud_id=cloud_id,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> JiraClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # -- the public read API --------------------------------------------------------------------

    async def get_json(self, path: str, params: Params | None = None) -> Any:
        """GET ``api_base + path`` and return the decoded JSON body."""
        return await self._request("GET", path, params=params)

    async def post_read(self, path: str, body: Any, params: Params | None = None) -> Any:
        """POST to one of the allowlisted bulk-read endpoints (anything else raises WriteRefused)."""
        return await self._request("POST", path, params=params, body=body)

    # -- the one request function ------------------------------------------------------------------

    def _url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return self.api_base + (path if path.startswith("/") else "/" + path)

    def _endpoint_bucket(self, method: str, path: str) -> TokenBucket | None:
        rate = self.settings.endpoint_requests_per_second
        if not rate:
            return None
        template = method + " " + _ID_SEGMENT.sub("/{}", path.split("?", 1)[0])
        bucket = self._endpoint_buckets.get(template)
        if bucket is None:
            # A quarter-second burst: no one-second window ever sees more than 1.25 x rate.
            bucket = self._endpoint_buckets[template] = TokenBucket(rate, rate / 4, self.clock)
        return bucket

    async def _wait_if_paused(self) -> None:
        for _ in range(1000):
            remaining = self._paused_until - self.clock.monotonic()
            if remaining <= 0:
                return
            await self.clock.sleep(remaining)

    async def _request(self, method: str, path: str, *, params: Params | None = None, body: Any = None) -> Any:
        content = orjson.dumps(body) if body is not None else None
        request = self._http.build_request(
            method,
            self._url(path),
            params=params,  # type: ignore[arg-type]
            content=content,
            headers={"Content-Type": "application/json"} if content is not None else None,
        )
        endpoint = f"{request.url.copy_with(query=None)}"
        try:
            check_request(method, request.url, self._allowed)  # refuse before queueing, not only in the transport
        except errors.WriteRefused:
            self.stats.writes_refused += 1
            raise
        policy = self.settings.retry
        limits = self.settings.limits
        attempt = 0
        renewed = False
        endpoint_bucket = self._endpoint_bucket(method, path)
        # One read, with its retries, ends by this time: request_deadline from now, extended by
        # the waits we impose (pacing, slots, quota pauses) and the site asks for (Retry-After).
        ends = self.clock.monotonic() + limits.request_deadline
        while True:
            failure: str | None = None
            queued = self.clock.monotonic()
            await self._wait_if_paused()
            if endpoint_bucket is not None:  # before taking a connection slot other endpoints could use
                self.stats.throttle_wait_seconds += await endpoint_bucket.acquire()
            async with self._semaphore, self.budget.claim(method, endpoint) as claim:
                await self._wait_if_paused()
                self.stats.throttle_wait_seconds += await self._bucket.acquire()
                ends += self.clock.monotonic() - queued
                request.headers["Authorization"] = await self._tokens.authorization()
                self.stats.requests_total += 1
                count_request()
                try:
                    response = await self._exchange(request, method, endpoint, ends, attempt, claim)
                except errors.SiteMisbehaved as exc:
                    self.stats.requests_by_status[type(exc).__name__] += 1
                    raise
                except httpx.TimeoutException:
                    failure = "timeout"
                except httpx.TransportError as exc:
                    failure = f"transport_error: {type(exc).__name__}: {exc}"
                if failure is None and 200 <= response.status_code < 300:
                    self.stats.requests_by_status[str(response.status_code)] += 1
                    self._note_near_limit(response)
                    try:
                        if not response.content:
                            return None
                        await claim.take(parse_cost(response.content))  # the parse, before it allocates
                        return loads_json(response.content, limits.max_depth, method, endpoint)
                    except orjson.JSONDecodeError:
                        # A truncated body is usually transient (a dropped connection mid-stream).
                        if attempt >= policy.max_retries:
                            raise errors.MalformedResponse(
                                method,
                                endpoint,
                                f"not JSON ({len(response.content)} bytes: {error_detail(response, 80)!r})",
                            ) from None
                        failure = "malformed"
            if failure is not None:
                if failure != "malformed":
                    self.stats.requests_by_status[failure.split(":", 1)[0]] += 1
                    if attempt >= policy.max_retries:
                        if failure == "timeout":
                            raise errors.JiraTimeout(method, endpoint, attempt + 1)
                        raise errors.JiraUnreachable(method, endpoint, failure.split(": ", 1)[1])
                delay = policy.backoff(attempt, self._rng)
                if failure == "malformed":
                    ends += delay  # the site did answer (a truncated body): bounded by max_retries
                elif self.clock.monotonic() + delay >= ends:
                    # no answer at all: retrying cannot end before the read's deadline
                    raise self._out_of_time(method, endpoint, attempt, failure)
                await self._retry_sleep(delay)
                attempt += 1
                continue

            status = response.status_code
            self.stats.requests_by_status[str(status)] += 1
            self._note_near_limit(response)
            if status == 401 and self._tokens.renewable and not renewed:
                renewed = True  # the service-account token may have expired under us: mint once more
                await self._tokens.authorization(renew=True)
                continue
            decision = decide(status, response.headers, attempt, policy, self._rng, self.clock.now(), limits.max_wait)
            if decision.too_long:
                raise errors.WaitTooLong(
                    method,
                    endpoint,
                    f"HTTP {status} asked us to wait {decision.asked} (more than the {limits.max_wait:g} s we wait)",
                )
            if not decision.retry:
                raise http_error(status, method, endpoint, error_detail(response))
            if status == 429:
                self.stats.rate_limit_waits += 1
                self.stats.rate_limit_wait_seconds += decision.delay
            ends += decision.delay  # a wait the site asked for (each capped by max_wait, retries by policy)
            if decision.pause_tenant:
                self.stats.quota_pauses += 1
                self._paused_until = max(self._paused_until, self.clock.monotonic() + decision.delay)
                self.stats.retries += 1
            else:
                await self._retry_sleep(decision.delay)
            attempt += 1

    def _note_near_limit(self, response: httpx.Response) -> None:
        if response.headers.get("X-RateLimit-NearLimit", "").lower() == "true":
            self.stats.near_limit_responses += 1

    def _out_of_time(self, method: str, endpoint: str, attempt: int, failure: str) -> errors.DeadlineExceeded:
        self.stats.requests_by_status["DeadlineExceeded"] += 1
        last = failure.split(": ", 1)[-1]
        return errors.DeadlineExceeded(
            method,
            endpoint,
            f"no complete response within the {self.settings.limits.request_deadline:g} s deadline "
            f"(after {attempt + 1} attempt(s), the last: {last}); retries stop at the deadline",
        )

    async def _exchange(
        self, request: httpx.Request, method: str, endpoint: str, ends: float, attempt: int, claim: Claim
    ) -> httpx.Response:
        """Send ``request`` and read its body within the deadline (this attempt's and the read's
        overall ``ends``), the size cap and the process's response memory budget."""
        limits = self.settings.limits
        seconds = min(limits.request_deadline, ends - self.clock.monotonic())
        what = ""
        if seconds < limits.request_deadline:
            what = (
                f"no complete response within the {limits.request_deadline:g} s deadline "
                f"(after {attempt + 1} attempt(s)); retries stop at the deadline"
            )
        if seconds <= 0:
            raise errors.DeadlineExceeded(method, endpoint, what)
        async with deadline(seconds, method, endpoint, what):
            try:
                response = await self._http.send(request, stream=True)
            except httpx.ConnectError as exc:
                if (refused := net_errors.refusal_of(exc)) is not None:
                    raise errors.AddressRefused.of(refused) from None
                raise
            try:
                content = await read_response(response, limits.max_body_bytes, method, endpoint, claim)
            finally:
                await response.aclose()
        return decoded(response, content)

    async def _retry_sleep(self, delay: float) -> None:
        self.stats.retries += 1
        await self.clock.sleep(delay)
