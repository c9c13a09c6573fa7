"""POST one notification: bounded in time and size, no redirects, the URL never in an error.

    result = await post_json(client, url, payload, headers={...}, limits=SendLimits())
    result.ok, result.retryable, result.error

The receiver is untrusted: the whole exchange has one deadline, at most ``max_response_bytes`` of
its answer are read (and only to quote in an error), and a redirect is a failure rather than a hop
to a host nobody checked. 408, 429 and 5xx answers and network errors are worth retrying; any other
answer is not (a revoked Slack webhook answers 404 or 410 for ever).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from jiradrift.net.body import read_head
from jiradrift.net.transport import outbound_client
from jiradrift.notify.destination import describe_url
from jiradrift.redact import clip, redact

USER_AGENT = "jira-drift-operator (notifications)"


@dataclass(frozen=True)
class SendLimits:
    timeout_seconds: float = 10.0
    max_response_bytes: int = 16 * 1024


@dataclass(frozen=True)
class SendResult:
    ok: bool
    retryable: bool = False
    status: int | None = None
    error: str = ""


def new_client() -> httpx.AsyncClient:
    """One client for all deliveries: TLS verified, no proxy from the environment, no redirects."""
    return outbound_client(trust_env=False, follow_redirects=False)


def _clean(text: str, url: str) -> str:
    return redact(text.replace(url, describe_url(url)))


async def post_json(
    client: httpx.AsyncClient,
    url: str,
    payload: dict[str, Any],
    *,
    headers: dict[str, str] | None = None,
    limits: SendLimits = SendLimits(),
) -> SendResult:
    body = orjson.dumps(payload)
    request_headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **(headers or {})}
    where = describe_url(url)
    try:
        async with asyncio.timeout(limits.timeout_seconds):
            async with client.stream(
                "POST", url, content=body, headers=request_headers, timeout=limits.timeout_seconds
            ) as response:
                head = await read_head(response.aiter_raw(), limits.max_response_bytes)
    except TimeoutError:
        return SendResult(False, True, None, f"{where} did not answer within {limits.timeout_seconds:g} s")
    except httpx.HTTPError as exc:
        return SendResult(False, True, None, _clean(f"{where}: {type(exc).__name__}: {exc}", url))
    status = response.status_code
    if 200 <= status < 300:
        return SendResult(True, status=status)
    snippet = clip(head.decode("utf-8", errors="replace"), 200).strip()
    if 300 <= status < 400:
        return SendResult(
            False,
            False,
            status,
            f"{where} answered {status} (a redirect); redirects are not followed: use the final URL",
        )
    retryable = status in (408, 429) or status >= 500
    return SendResult(False, retryable, status, _clean(f"{where} answered {status}: {snippet}", url))
