"""Raw JSON calls through the sync ``kubernetes.client.ApiClient``: test and bench tooling only
(the operator and the token job use :mod:`jiradrift.kube.client`).

Why not the generated ``CoreV1Api``/``CoordinationV1Api`` methods: since kubernetes 35 they
validate dict bodies into pydantic models, which turns a MicroTime string such as
``2026-01-02T03:04:05.000000Z`` into a datetime and back with ``isoformat()`` -- dropping the
fraction at whole seconds, which the API server refuses -- and they decode every response into
models, which is slow for ConfigMaps full of base64. Here bodies go out as the dicts we built, and
responses come back as the dicts the server sent. Auth, TLS and the host still come from the
ApiClient's configuration.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException
from prometheus_client.parser import text_string_to_metric_families

DEFAULT_TIMEOUT = 30.0
#: Ask the API server for metadata only (what ``kubectl get`` does): no ``data``/``binaryData``.
ACCEPT_METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"

_LABEL_BAD = re.compile(r"[^A-Za-z0-9_.-]+")

Query = Mapping[str, str | int | bool] | Sequence[tuple[str, str | int | bool]]


def request_json(
    api: ApiClient,
    method: str,
    path: str,
    *,
    query: Query | None = None,
    body: Any = None,
    content_type: str = "application/json",
    accept: str = "application/json",
    timeout: float = DEFAULT_TIMEOUT,
) -> dict[str, Any]:
    """Send one request and return the decoded JSON answer.

    Raises ``ApiException`` (with ``.status``) for a non-2xx answer, exactly like the generated
    client, so callers can branch on 404 / 409 / 410.
    """
    params = list(query.items()) if isinstance(query, Mapping) else list(query or [])
    headers = {"Accept": accept}
    if body is not None:
        headers["Content-Type"] = content_type
    request = api.param_serialize(
        method=method,
        resource_path=path,
        query_params=[(k, str(v).lower() if isinstance(v, bool) else v) for k, v in params],
        header_params=headers,
        body=body,
        auth_settings=["BearerToken"],
    )
    resp = api.call_api(*request, _request_timeout=timeout)
    raw: bytes = resp.read()  # type: ignore[no-untyped-call]
    if not 200 <= resp.status <= 299:
        raise ApiException.from_response(http_resp=resp, body=raw.decode(errors="replace"), data=None)
    data: dict[str, Any] = json.loads(raw) if raw else {}
    return data


def status_message(exc: ApiException) -> str:
    """The human part of a Kubernetes error answer (its Status ``message``), else the raw body."""
    try:
        return str(json.loads(exc.body or "{}").get("message") or exc.body)
    except (ValueError, AttributeError):
        return str(exc.body)


def api_requests(api: ApiClient) -> dict[tuple[str, str], float]:
    """kube-apiserver's own count of the requests it served (``apiserver_request_total``), by verb
    (``LIST`` apart from ``GET``) and resource (``jiratenants/status`` for a subresource).
    Non-resource requests (``/metrics``, ``/readyz``) are left out."""
    resp = api.call_api(
        *api.param_serialize(method="GET", resource_path="/metrics", auth_settings=["BearerToken"]),
        _request_timeout=60,
    )
    raw: bytes = resp.read()  # type: ignore[no-untyped-call]
    totals: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(raw.decode()):
        if family.name != "apiserver_request":
            continue
        for sample in family.samples:
            if sample.name != "apiserver_request_total" or not sample.labels.get("resource"):
                continue
            resource = sample.labels["resource"]
            if sample.labels.get("subresource"):
                resource += "/" + sample.labels["subresource"]
            key = (sample.labels.get("verb", "?"), resource)
            totals[key] = totals.get(key, 0.0) + sample.value
    return totals
