"""The reading boundary (api/objects.py): API objects into their models, tolerant where reading must be."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from jiradrift.api.conditions import find
from jiradrift.api.objects import InvalidObject, read_object
from jiradrift.api.resources import (
    ConditionStatus,
    JiraTenant,
    JiraTenantStatus,
    SiteComparison,
    Snapshot,
    SnapshotPhase,
)

METADATA = {
    "name": "acme",
    "namespace": "team-a",
    "uid": "0b4c6c1e-7d7a-4a55-a3a8-2f0b1f0d9c11",
    "generation": 3,
    "resourceVersion": "42",
    "labels": {"jiradrift.io/tenant": "acme"},
    "annotations": {"note": "x"},
    "creationTimestamp": "2026-12-01T08:00:00Z",
    "ownerReferences": [
        {"apiVersion": "jiradrift.io/v1alpha1", "kind": "JiraTenant", "name": "acme", "uid": "u-1", "controller": True}
    ],
    # the API server's own fields, which the model does not name: ignored, never refused
    "managedFields": [{"manager": "kubectl", "operation": "Apply"}],
    "finalizers": ["jiradrift.io/cleanup"],
}
SPEC = {"site": "https://acme.atlassian.net", "auth": {"oauth": {"secretRef": {"name": "acme-creds"}}}}
CONDITION = {
    "type": "TokenFresh",
    "status": "False",
    "reason": "ReauthorizationRequired",
    "message": "run jiradrift auth login",
    "lastTransitionTime": "2026-12-07T10:00:00Z",
    "observedGeneration": 3,
}


def tenant(spec: dict[str, Any] | None = None, status: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "jiradrift.io/v1alpha1",
        "kind": "JiraTenant",
        "metadata": METADATA,
        "spec": SPEC if spec is None else spec,
        "status": status or {},
    }


def test_metadata_fields_read_and_unknown_ones_are_ignored() -> None:
    meta = read_object(JiraTenant, tenant()).metadata
    assert (meta.name, meta.namespace, meta.key) == ("acme", "team-a", "team-a/acme")
    assert meta.uid == METADATA["uid"] and meta.generation == 3 and meta.resource_version == "42"
    assert meta.labels == {"jiradrift.io/tenant": "acme"} and meta.annotations == {"note": "x"}
    assert meta.creation_timestamp == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    owner = meta.owner_references[0]
    assert (owner.kind, owner.name, owner.uid, owner.controller) == ("JiraTenant", "acme", "u-1", True)


@pytest.mark.parametrize(
    ("status", "check"),
    [
        pytest.param(
            {"conditions": [CONDITION], "token": {"scopesReadOnly": False}},
            lambda s: s.token.scopes_read_only is False and s.conditions[0].reason == "ReauthorizationRequired",
            id="current-status",
        ),
        pytest.param(
            {"conditions": [{**CONDITION, "severity": "Error"}], "token": {"scopesReadOnly": False, "kind": "3LO"}},
            lambda s: s.token.scopes_read_only is False and s.conditions[0].status == ConditionStatus.FALSE,
            id="newer-version-unknown-fields-ignored",
        ),
        pytest.param(
            {"conditions": [CONDITION], "shardEpoch": 7, "lastSnapshotTime": "2026-12-07T09:00:00Z"},
            lambda s: s.last_snapshot_time == datetime(2026, 12, 7, 9, 0, tzinfo=UTC) and len(s.conditions) == 1,
            id="unknown-top-level-status-field",
        ),
        pytest.param(
            {"conditions": [CONDITION], "token": {"expiresAt": "soon", "scopesReadOnly": True}},
            lambda s: s.token.expires_at is None and s.token.scopes_read_only is True,
            id="older-version-value-left-out-rest-kept",
        ),
        pytest.param(
            {"conditions": [{"type": "TokenFresh", "status": "False", "reason": "ReauthorizationRequired"}]},
            lambda s: find(s.conditions, "TokenFresh").reason == "ReauthorizationRequired",
            id="condition-without-lastTransitionTime-still-read",
        ),
    ],
)
def test_status_of_another_operator_version_reads(status: dict[str, Any], check: Any) -> None:
    read = read_object(JiraTenant, tenant(status=status))
    assert isinstance(read.status, JiraTenantStatus)
    assert check(read.status)
    assert read.spec.site == "https://acme.atlassian.net"  # the spec is read as always


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param(
            {**SPEC, "site": "ftp://acme"},
            "spec.site is invalid (String should match pattern",
            id="bad-site",
        ),
        pytest.param(
            {**SPEC, "auth": {"oauth": {"secretRef": {"name": "acme-creds"}, "tokenUrl": 5}}},
            "spec.auth.oauth.tokenUrl is invalid (Input should be a valid string); fix the JiraTenant",
            id="bad-nested-field",
        ),
        pytest.param(
            {**SPEC, "colour": "blue"},
            "spec.colour is invalid (Extra inputs are not permitted); fix the JiraTenant",
            id="unknown-spec-field-still-refused",
        ),
        pytest.param({}, "spec.site is invalid (Field required); fix the JiraTenant", id="empty-spec"),
    ],
)
def test_an_invalid_spec_is_the_named_error(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidObject) as caught:
        read_object(JiraTenant, tenant(spec=spec))
    assert caught.value.message.startswith(message)
    assert caught.value.key == "team-a/acme" and caught.value.kind == "JiraTenant"
    assert str(caught.value).startswith("JiraTenant team-a/acme: spec.")


def test_an_invalid_spec_is_named_even_when_status_is_also_unreadable() -> None:
    with pytest.raises(InvalidObject, match=r"spec\.site is invalid"):
        read_object(JiraTenant, tenant(spec={**SPEC, "site": 1}, status={"conditions": "not a list"}))


def test_a_missing_spec_reads_as_an_empty_one() -> None:
    body = {"metadata": {"name": "acme", "namespace": "team-a"}}
    with pytest.raises(InvalidObject, match=r"^JiraTenant team-a/acme: spec.site is invalid \(Field required\)"):
        read_object(JiraTenant, body)


def test_snapshot_and_comparison_read_with_lenient_status() -> None:
    snapshot = read_object(
        Snapshot,
        {
            "metadata": {"name": "acme-workflows-1", "namespace": "team-a"},
            "spec": {"tenantRef": {"name": "acme"}, "type": "workflows"},
            "status": {"phase": "Completed", "drift": {"total": 2, "changes": [{"key": "k", "op": "added"}]}},
        },
    )
    assert snapshot.spec.tenant_ref.name == "acme" and snapshot.status is not None
    assert snapshot.status.phase is SnapshotPhase.COMPLETED and snapshot.status.drift is not None
    assert snapshot.status.drift.total == 2 and snapshot.status.drift.changes[0].key == "k"  # severity missing: kept
    comparison = read_object(
        SiteComparison,
        {
            "metadata": {"name": "prod-vs-sandbox", "namespace": "team-a"},
            "spec": {"left": {"name": "prod"}, "right": {"name": "sandbox"}},
            "status": {"equal": 3, "nextCompare": "2026-12-08T00:00:00Z"},
        },
    )
    assert comparison.spec.left.name == "prod" and comparison.status is not None and comparison.status.equal == 3


def test_a_valid_object_reads_as_the_model_validates_it() -> None:
    body = tenant(status={"conditions": [CONDITION]})
    assert read_object(JiraTenant, body) == JiraTenant.model_validate(body)


def test_a_newer_versions_fields_are_dropped_and_nothing_else() -> None:
    clean = {"conditions": [CONDITION], "token": {"scopesReadOnly": False}}
    newer = {
        "conditions": [{**CONDITION, "severity": "Error"}],
        "token": {"scopesReadOnly": False, "kind": "3LO"},
        "shardEpoch": 7,
    }
    body = tenant(status=newer)
    assert read_object(JiraTenant, body) == read_object(JiraTenant, tenant(status=clean))
    assert body["status"]["token"] == {"scopesReadOnly": False, "kind": "3LO"}  # the caller's JSON is not changed
