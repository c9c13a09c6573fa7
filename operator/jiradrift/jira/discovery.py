"""Finding a site's cloudId: ``/_edge/tenant_info`` on the site, or the gateway's accessible resources."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from jiradrift.jira.auth import normalise_origin, origin_of
from jiradrift.jira.errors import DiscoveryError
from jiradrift.jira.guard import ReadOnlyTransport
from jiradrift.jira.transport import default_ssl_context


async def _get(url: str, headers: dict[str, str], transport: httpx.AsyncBaseTransport | None, timeout: float) -> Any:
    guarded = ReadOnlyTransport(
        transport or httpx.AsyncHTTPTransport(verify=default_ssl_context()), frozenset({origin_of(url)})
    )
    async with httpx.AsyncClient(transport=guarded, timeout=timeout) as http:
        try:
            response = await http.get(url, headers={"Accept": "application/json", **headers})
        except httpx.HTTPError as exc:
            raise DiscoveryError(f"GET {url} failed ({type(exc).__name__}); check the URL and network") from exc
    if response.status_code != 200:
        raise DiscoveryError(
            f"GET {url} -> HTTP {response.status_code}; cannot discover the cloudId: set spec.cloudId explicitly "
            "or check the credentials"
        )
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError as exc:
        raise DiscoveryError(f"GET {url} did not return JSON; set spec.cloudId explicitly") from exc


async def tenant_info_cloud_id(
    site: str, *, transport: httpx.AsyncBaseTransport | None = None, timeout: float = 30.0
) -> str:
    """Unauthenticated: ``GET <site>/_edge/tenant_info`` -> ``{"cloudId": ...}``."""
    url = f"{normalise_origin(site, 'site URL')}/_edge/tenant_info"
    data = await _get(url, {}, transport, timeout)
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
) -> str:
    """``GET <gateway>/oauth/token/accessible-resources``, matched on ``url`` (the list has no order)."""
    url = f"{normalise_origin(gateway, 'gateway URL')}/oauth/token/accessible-resources"
    data = await _get(url, {"Authorization": authorization}, transport, timeout)
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
) -> str:
    """With a bearer token ask the gateway (authoritative for that token); fall back to tenant_info."""
    if authorization:
        try:
            return await accessible_resources_cloud_id(
                site, gateway=gateway, authorization=authorization, transport=transport, timeout=timeout
            )
        except DiscoveryError:
            try:
                return await tenant_info_cloud_id(site, transport=transport, timeout=timeout)
            except DiscoveryError:
                pass
            raise
    return await tenant_info_cloud_id(site, transport=transport, timeout=timeout)
