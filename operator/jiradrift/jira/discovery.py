"""Finding a site's cloudId: ``/_edge/tenant_info`` on the site, or the gateway's accessible resources."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from jiradrift.jira.auth import normalise_origin, origin_of
from jiradrift.jira.errors import DiscoveryError, MalformedResponse, SiteMisbehaved
from jiradrift.jira.guard import ReadOnlyTransport
from jiradrift.jira.limits import ACCEPT_ENCODING, DEFAULT_LIMITS, ResponseLimits, deadline, loads_json, read_response
from jiradrift.net.transport import AiohttpTransport


async def _get(
    url: str,
    headers: dict[str, str],
    transport: httpx.AsyncBaseTransport | None,
    timeout: float,
    limits: ResponseLimits = DEFAULT_LIMITS,
) -> Any:
    guarded = ReadOnlyTransport(transport or AiohttpTransport(), frozenset({origin_of(url)}))
    sent = {"Accept": "application/json", "Accept-Encoding": ACCEPT_ENCODING, **headers}
    async with httpx.AsyncClient(transport=guarded, timeout=timeout) as http:
        try:
            async with deadline(limits.request_deadline, "GET", url), http.stream("GET", url, headers=sent) as response:
                content = await read_response(response, limits.max_body_bytes, "GET", url)
                status = response.status_code
        except httpx.HTTPError as exc:
            raise DiscoveryError(f"GET {url} failed ({type(exc).__name__}); check the URL and network") from exc
        except (SiteMisbehaved, MalformedResponse) as exc:
            raise DiscoveryError(f"{exc}; set spec.cloudId explicitly") from exc
    if status != 200:
        raise DiscoveryError(
            f"GET {url} -> HTTP {status}; cannot discover the cloudId: set spec.cloudId explicitly "
            "or check the credentials"
        )
    try:
        return loads_json(content, limits.max_depth, "GET", url)
    except (orjson.JSONDecodeError, SiteMisbehaved) as exc:
        raise DiscoveryError(f"GET {url} did not return usable JSON; set spec.cloudId explicitly") from exc


async def tenant_info_cloud_id(
    site: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    timeout: float = 30.0,
    limits: ResponseLimits = DEFAULT_LIMITS,
) -> str:
    """Unauthenticated: ``GET <site>/_edge/tenant_info`` -> ``{"cloudId": ...}``."""
    url = f"{normalise_origin(site, 'site URL')}/_edge/tenant_info"
    data = await _get(url, {}, transport, timeout, limits)
    if not isinstance(data, dict) or not data.get("cloudId"):
        raise DiscoveryError(f"GET {url} returned no cloudId; set spec.cloudId explicitly")
    return str(data["cloudId"])


async def accessible_resources_cloud_id(
    site: str,
    *,
    gateway: str,
    authorization: str,
    transport: httpx.AsyncBaseTransport | None = None,
    timeout: float = 30.0,
    limits: ResponseLimits = DEFAULT_LIMITS,
) -> str:
    """``GET <gateway>/oauth/token/accessible-resources``, matched on ``url`` (the list has no order)."""
    url = f"{normalise_origin(gateway, 'gateway URL')}/oauth/token/accessible-resources"
    data = await _get(url, {"Authorization": authorization}, transport, timeout, limits)
    wanted = normalise_origin(site, "site URL")
    resources = data if isinstance(data, list) else []
    for resource in resources:
        if isinstance(resource, dict) and resource.get("url", "").rstrip("/") == wanted and resource.get("id"):
            return str(resource["id"])
    seen = sorted(str(r.get("url")) for r in resources if isinstance(r, dict))
    raise DiscoveryError(
        f"the token cannot reach {wanted}: accessible resources are {seen}; "
        "grant the app access to that site or fix spec.site"
    )


async def discover_cloud_id(
    site: str,
    *,
    gateway: str,
    authorization: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    timeout: float = 30.0,
    limits: ResponseLimits = DEFAULT_LIMITS,
) -> str:
    """With a bearer token ask the gateway (authoritative for that token); fall back to tenant_info."""
    if authorization:
        try:
            return await accessible_resources_cloud_id(
                site, gateway=gateway, authorization=authorization, transport=transport, timeout=timeout, limits=limits
            )
        except DiscoveryError:
            try:
                return await tenant_info_cloud_id(site, transport=transport, timeout=timeout, limits=limits)
            except DiscoveryError:
                pass
            raise
    return await tenant_info_cloud_id(site, transport=transport, timeout=timeout, limits=limits)
