"""The CRDs against the real kube-apiserver: accepted, refused with a message naming the field."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes.client.rest import ApiException

from jiradrift.dev.controlplane import ControlPlane

pytestmark = pytest.mark.k8s

GROUP, VERSION = "jiradrift.io", "v1alpha1"

TENANT: dict[str, Any] = {
    "apiVersion": f"{GROUP}/{VERSION}",
    "kind": "JiraTenant",
    "metadata": {"name": "acme"},
    "spec": {
        "site": "https://acme.atlassian.net",
        "auth": {"apiToken": {"secretRef": {"name": "acme-jira"}}},
        "schedule": {"interval": "30m"},
        "snapshotTypes": ["workflows", "fields"],
    },
}
SNAPSHOT: dict[str, Any] = {
    "apiVersion": f"{GROUP}/{VERSION}",
    "kind": "Snapshot",
    "metadata": {"name": "acme-workflows-manual"},
    "spec": {"tenantRef": {"name": "acme"}, "type": "workflows", "reason": "Manual"},
}


def _create(api: k8s.ApiClient, ns: str, body: dict[str, Any]) -> dict[str, Any]:
    plural = {"JiraTenant": "jiratenants", "Snapshot": "snapshots"}[body["kind"]]
    result: dict[str, Any] = k8s.CustomObjectsApi(api).create_namespaced_custom_object(
        GROUP,
        VERSION,
        ns,
        plural,
        body,
        field_validation="Strict",  # what kubectl apply does by default
    )
    return result


def _refusal(api: k8s.ApiClient, ns: str, body: dict[str, Any]) -> str:
    with pytest.raises(ApiException) as err:
        _create(api, ns, body)
    assert err.value.status in (400, 422), err.value.body
    return str(json.loads(err.value.body)["message"])


def test_crds_are_established(control_plane: ControlPlane) -> None:
    out = control_plane.kubectl("get", "crd", "-o", "jsonpath={.items[*].metadata.name}").stdout
    assert {"jiratenants.jiradrift.io", "snapshots.jiradrift.io"} <= set(out.split())
    established = control_plane.kubectl(
        "get",
        "crd",
        "jiratenants.jiradrift.io",
        "-o",
        'jsonpath={.status.conditions[?(@.type=="Established")].status}',
    ).stdout
    assert established == "True"


def test_valid_objects_are_accepted_with_defaults(k8s_api: k8s.ApiClient, k8s_namespace: str) -> None:
    tenant = _create(k8s_api, k8s_namespace, copy.deepcopy(TENANT))
    assert tenant["spec"]["deployment"] == "Cloud"  # schema default applied by the server
    assert tenant["spec"]["auth"]["allowWriteScopes"] is False
    snap = _create(k8s_api, k8s_namespace, copy.deepcopy(SNAPSHOT))
    assert snap["spec"]["reason"] == "Manual"
    loopback = copy.deepcopy(TENANT)
    loopback["metadata"]["name"] = "emulator"
    loopback["spec"]["site"] = "http://127.0.0.1:8080"
    assert _create(k8s_api, k8s_namespace, loopback)["spec"]["site"] == "http://127.0.0.1:8080"


def _tenant(**spec_changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(TENANT)
    for key, value in spec_changes.items():
        if value is None:
            body["spec"].pop(key, None)
        else:
            body["spec"][key] = value
    return body


INVALID_TENANTS = {
    "bad URL": (_tenant(site="ftp://acme"), "spec.site"),
    "plain http off loopback": (_tenant(site="http://acme.atlassian.net"), "spec.site"),
    "two auth methods": (
        _tenant(auth={"apiToken": {"secretRef": {"name": "a"}}, "pat": {"secretRef": {"name": "b"}}}),
        "exactly one of oauth, serviceAccount, apiToken or pat",
    ),
    "no auth method": (_tenant(auth={}), "exactly one of oauth, serviceAccount, apiToken or pat"),
    "no auth at all": (_tenant(auth=None), "spec.auth"),
    "interval too short": (_tenant(schedule={"interval": "4m"}), "spec.schedule.interval"),
    "interval not a duration": (_tenant(schedule={"interval": "often"}), "spec.schedule.interval"),
    "unknown snapshot type": (_tenant(snapshotTypes=["workflows", "boards"]), "spec.snapshotTypes"),
    "oversized list": (_tenant(drift={"ignore": [f"field/*:p{i}" for i in range(101)]}), "spec.drift.ignore"),
    # a diff's cost grows with rules x their length: both are capped where they are admitted
    "ignore rule too long": (_tenant(drift={"ignore": ["field/*:" + "*?" * 253]}), "spec.drift.ignore[0]"),
    "inline credential": (
        _tenant(auth={"apiToken": {"secretRef": {"name": "a"}, "token": "hunter2"}}),
        'unknown field "spec.auth.apiToken.token"',
    ),
    "baseline without a name": (_tenant(drift={"compareTo": "baseline"}), "spec.drift.baselineSnapshot"),
    # Where credentials would go: what the API server can tell without the admin's allowlist.
    "metadata address as site": (_tenant(site="https://169.254.169.254"), "spec.site must name a host, not an IP"),
    "private IP as gateway": (_tenant(apiGateway="https://10.0.0.1"), "spec.apiGateway must name a host, not an IP"),
    "IPv6 link-local site": (_tenant(site="https://[fe80::1]"), "spec.site"),
    "cluster-internal site": (_tenant(site="https://jira.tools.svc.cluster.local"), "cluster-internal host"),
    "single-label site": (_tenant(site="https://kubernetes"), "cluster-internal host"),
    "upper-case host": (_tenant(site="https://Acme.atlassian.net"), "spec.site must use a lower-case host"),
    "default port": (_tenant(site="https://acme.atlassian.net:443"), "must not spell out the default port"),
    "user info": (_tenant(site="https://acme.atlassian.net@evil.example"), "spec.site"),
    # Notification destinations: bounded, named, typed, and never an inline URL.
    "notification name": (
        _tenant(notifications=[{"name": "Ops Chat", "type": "slack", "urlSecretRef": {"name": "h"}}]),
        "spec.notifications[0].name",
    ),
    "notification type": (
        _tenant(notifications=[{"name": "ops", "type": "email", "urlSecretRef": {"name": "h"}}]),
        "spec.notifications[0].type",
    ),
    "too many notifications": (
        _tenant(notifications=[{"name": f"d{i}", "type": "slack", "urlSecretRef": {"name": "h"}} for i in range(9)]),
        "spec.notifications",
    ),
    "duplicate notification name": (
        _tenant(notifications=[{"name": "ops", "type": t, "urlSecretRef": {"name": "h"}} for t in ("slack", "teams")]),
        "Duplicate value",
    ),
    "inline webhook URL": (
        _tenant(notifications=[{"name": "ops", "type": "slack", "url": "https://hooks.slack.com/services/x"}]),
        'unknown field "spec.notifications[0].url"',
    ),
    "internal token endpoint": (
        _tenant(auth={"oauth": {"secretRef": {"name": "a"}, "tokenUrl": "https://169.254.169.254/token"}}),
        "tokenUrl must name a host, not an IP",
    ),
}


@pytest.mark.parametrize("case", sorted(INVALID_TENANTS))
def test_invalid_tenants_are_refused_naming_the_field(case: str, k8s_api: k8s.ApiClient, k8s_namespace: str) -> None:
    body, expected = INVALID_TENANTS[case]
    message = _refusal(k8s_api, k8s_namespace, body)
    assert expected in message, message


def test_missing_tenant_ref_is_refused(k8s_api: k8s.ApiClient, k8s_namespace: str) -> None:
    body = copy.deepcopy(SNAPSHOT)
    del body["spec"]["tenantRef"]
    assert "spec.tenantRef" in _refusal(k8s_api, k8s_namespace, body)


def test_scheduled_snapshot_needs_a_window(k8s_api: k8s.ApiClient, k8s_namespace: str) -> None:
    body = copy.deepcopy(SNAPSHOT)
    body["spec"]["reason"] = "Scheduled"
    assert "spec.windowStart" in _refusal(k8s_api, k8s_namespace, body)


def test_snapshot_spec_is_immutable(k8s_api: k8s.ApiClient, k8s_namespace: str) -> None:
    _create(k8s_api, k8s_namespace, copy.deepcopy(SNAPSHOT))
    objects = k8s.CustomObjectsApi(k8s_api)
    with pytest.raises(ApiException) as err:
        objects.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            k8s_namespace,
            "snapshots",
            SNAPSHOT["metadata"]["name"],
            {"spec": {"type": "fields"}},
        )
    assert err.value.status == 422
    assert "immutable" in json.loads(err.value.body)["message"]
    # status is a separate subresource: the operator can still write it
    objects.patch_namespaced_custom_object_status(
        GROUP,
        VERSION,
        k8s_namespace,
        "snapshots",
        SNAPSHOT["metadata"]["name"],
        {"status": {"phase": "Capturing"}},
    )
    got = objects.get_namespaced_custom_object(GROUP, VERSION, k8s_namespace, "snapshots", SNAPSHOT["metadata"]["name"])
    assert got["status"]["phase"] == "Capturing"
    assert got["spec"]["type"] == "workflows"


def test_status_is_ignored_on_spec_writes(k8s_api: k8s.ApiClient, k8s_namespace: str) -> None:
    body = copy.deepcopy(TENANT)
    body["status"] = {"observedGeneration": 99}
    created = _create(k8s_api, k8s_namespace, body)
    assert "status" not in created or created["status"].get("observedGeneration") != 99


def test_printer_columns(control_plane: ControlPlane, k8s_api: k8s.ApiClient, k8s_namespace: str) -> None:
    _create(k8s_api, k8s_namespace, copy.deepcopy(TENANT))
    _create(k8s_api, k8s_namespace, copy.deepcopy(SNAPSHOT))
    tenants = control_plane.kubectl("get", "jiratenants", "-n", k8s_namespace).stdout
    header = tenants.splitlines()[0].split()
    assert header[:3] == ["NAME", "SITE", "READY"]
    assert "https://acme.atlassian.net" in tenants
    for column in ["LAST", "SNAPSHOT", "UNACCEPTED", "CHANGE", "TOKEN", "EXPIRES", "AGE"]:
        assert column in header
    both = control_plane.kubectl("get", "jiradrift", "-n", k8s_namespace).stdout
    assert "jiratenant.jiradrift.io/acme" in both
    assert "snapshot.jiradrift.io/acme-workflows-manual" in both
    snaps = control_plane.kubectl("get", "snap", "-n", k8s_namespace).stdout.splitlines()
    columns = ["NAME", "TENANT", "TYPE", "WINDOW", "PHASE", "MODE", "ITEMS", "CHANGES", "ACCEPTED", "AGE"]
    assert snaps[0].split() == columns
    assert snaps[1].split()[:3] == ["acme-workflows-manual", "acme", "workflows"]
    short = control_plane.kubectl("get", "jt", "-n", k8s_namespace, "-o", "name").stdout.strip()
    assert short == "jiratenant.jiradrift.io/acme"


def test_printer_columns_say_one_thing_each_plainly(
    control_plane: ControlPlane, k8s_api: k8s.ApiClient, k8s_namespace: str
) -> None:
    custom = k8s.CustomObjectsApi(k8s_api)
    _create(k8s_api, k8s_namespace, copy.deepcopy(TENANT))
    custom.patch_namespaced_custom_object_status(
        GROUP,
        VERSION,
        k8s_namespace,
        "jiratenants",
        "acme",
        {
            "status": {
                "token": {"expiresAt": "2099-01-02T03:04:05Z"},
                "unaccepted": {"total": 2, "highestSeverity": "high"},
                "drift": {"summary": "1 change (medium) in workflows"},
            }
        },
    )
    table = control_plane.kubectl("get", "jt", "acme", "-n", k8s_namespace).stdout
    # A valid token's expiry is a time in the future: shown as it is, not as kubectl's <invalid>.
    assert "2099-01-02T03:04:05Z" in table and "<invalid>" not in table, table
    header = table.splitlines()[0]
    assert header.index("UNACCEPTED") < header.index("SEVERITY") < header.index("LAST CHANGE"), header
    accepted = copy.deepcopy(SNAPSHOT)
    accepted["metadata"]["labels"] = {"jiradrift.io/accepted": "true"}
    _create(k8s_api, k8s_namespace, accepted)
    other = copy.deepcopy(SNAPSHOT)
    other["metadata"]["name"] = "acme-workflows-later"
    _create(k8s_api, k8s_namespace, other)
    rows = control_plane.kubectl("get", "snap", "-n", k8s_namespace).stdout.splitlines()
    at = rows[0].index("ACCEPTED")
    accepted_column = {row.split()[0]: row[at : at + len("ACCEPTED")].strip() for row in rows[1:]}
    assert accepted_column == {"acme-workflows-manual": "true", "acme-workflows-later": ""}, rows


def test_kubectl_apply_refuses_an_inline_credential(control_plane: ControlPlane, k8s_namespace: str) -> None:
    body = copy.deepcopy(TENANT)
    body["spec"]["auth"]["apiToken"]["token"] = "hunter2"
    proc = control_plane.kubectl("apply", "-n", k8s_namespace, "-f", "-", input=json.dumps(body), check=False)
    assert proc.returncode != 0
    assert 'unknown field "spec.auth.apiToken.token"' in proc.stderr
    assert "hunter2" not in proc.stderr


# The same rules `jiradrift.model.ignore` cannot parse, refused by the API server, naming the rule.
UNPARSABLE_IGNORE_RULES = ["field/*:", ":description", "   ", " workflow/*:\t", "\u3000:x"]


@pytest.mark.parametrize("rule", UNPARSABLE_IGNORE_RULES)
def test_unparsable_ignore_rules_are_refused_naming_the_rule(
    rule: str, k8s_api: k8s.ApiClient, k8s_namespace: str
) -> None:
    body = _tenant(drift={"ignore": ["field/*:description", rule]})
    message = _refusal(k8s_api, k8s_namespace, body)
    assert "spec.drift.ignore[1]" in message and f"ignore rule '{rule}' is not KEY_GLOB" in message, message


def test_parsable_ignore_rules_are_accepted(k8s_api: k8s.ApiClient, k8s_namespace: str) -> None:
    rules = [
        "field/*:description",
        "workflow/*:**?**?**?**?**?**?**?**?**?**?**?**?~",
        " field/x ",
        "\x1c:x",  # not whitespace to CEL's trim() nor to the parser
        "project/*:**.avatarUrls",
    ]
    created = _create(k8s_api, k8s_namespace, _tenant(drift={"ignore": rules}))
    assert created["spec"]["drift"]["ignore"] == rules
