"""The pydantic models validate what the CRD promises, before the API server ever sees it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from jiradrift.api.resources import JiraTenantSpec
from jiradrift.generate.crds import build_crds
from jiradrift.model.snapshot_types import SnapshotType


def test_tenant_defaults() -> None:
    spec = JiraTenantSpec.model_validate(
        {"site": "https://acme.atlassian.net", "auth": {"apiToken": {"secretRef": {"name": "jira"}}}}
    )
    # issue 26: daily full captures, incremental windows every 2 minutes, on for every tenant
    assert spec.schedule.interval == "24h"
    assert spec.schedule.incremental.enabled is True
    assert spec.schedule.incremental.interval == "2m"
    assert spec.snapshot_types == list(SnapshotType)
    assert spec.auth.allow_write_scopes is False
    assert spec.retention.keep_last == 30


@pytest.mark.parametrize("site", ["ftp://x", "http://acme.atlassian.net", "https://", "acme.atlassian.net"])
def test_bad_sites_rejected(site: str) -> None:
    with pytest.raises(ValidationError):
        JiraTenantSpec.model_validate({"site": site, "auth": {"apiToken": {"secretRef": {"name": "j"}}}})


def test_crd_schema_is_structural() -> None:
    """Every schema node has a type and no $ref/anyOf survives (the API server demands this)."""

    def walk(node: object, path: str) -> None:
        if isinstance(node, dict):
            assert "$ref" not in node and "anyOf" not in node, path
            if "properties" in node or "items" in node:
                assert node.get("type") in {"object", "array"}, path
            for key, value in node.items():
                walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}[{i}]")

    for crd in build_crds().values():
        schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        walk(schema, crd["metadata"]["name"])
        conditions = schema["properties"]["status"]["properties"]["conditions"]
        assert conditions["x-kubernetes-list-type"] == "map"
        assert conditions["x-kubernetes-list-map-keys"] == ["type"]
