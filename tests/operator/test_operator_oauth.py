"""OAuth tenants: the operator refreshes through jiradrift.tokens, reports expiry, and stops on a revoked grant."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client as k8s
from tests.operator.kube import condition, conditions_are, get, make_secret, snapshots

from jiradrift.api.resources import GROUP, VERSION
from jiradrift.dev.controlplane import ControlPlane
from jiradrift.dev.operator_process import running_operator, wait_for

pytestmark = pytest.mark.k8s


def oauth_tenant(ns: str, jira: Any, **auth: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "JiraTenant",
        "metadata": {"name": "acme", "namespace": ns},
        "spec": {
            "site": jira.base_url,
            "apiGateway": jira.gateway_url,
            "auth": {"oauth": {"secretRef": {"name": "acme-oauth"}, "tokenUrl": jira.token_url}, **auth},
            "schedule": {"interval": "6h"},
            "snapshotTypes": ["priorities"],
        },
    }


def test_oauth_tenant_is_ready_with_token_expiry_and_snapshots(
    control_plane: ControlPlane, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: Any, tmp_path: Path
) -> None:
    ns, creds = k8s_namespace, jira_sim.credentials
    make_secret(
        k8s_api,
        ns,
        "acme-oauth",
        {
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
            "refresh_token": creds.refresh_token,
        },
    )
    control_plane.kubectl("apply", "-f", "-", input=json.dumps(oauth_tenant(ns, jira_sim)))
    with running_operator(control_plane, [ns], tmp_path) as op:
        tenant = wait_for(
            lambda: conditions_are(k8s_api, ns, "acme", Ready="True", TokenFresh="True", ScopesReadOnly="True"),
            "OAuth tenant Ready",
            op=op,
            timeout=90,
        )
        assert condition(tenant, "TokenFresh")["status"] == "True"
        assert condition(tenant, "ScopesReadOnly")["status"] == "True"
        assert tenant["status"]["token"]["expiresAt"]
        assert tenant["status"]["site"]["cloudId"] == jira_sim.cloud_id
        wait_for(
            lambda: [(s.get("status") or {}).get("phase") for s in snapshots(k8s_api, ns)] == ["Completed"],
            "OAuth snapshot Completed",
            op=op,
            timeout=90,
        )
        # the expiry is a metric an alert can watch
        scrape = wait_for(
            lambda: (
                (m := httpx.get(f"http://127.0.0.1:{op.metrics_port}/metrics", timeout=5).text)
                and f'jiradrift_token_expiry_timestamp_seconds{{namespace="{ns}",tenant="acme"}}' in m
                and m
            ),
            "token expiry metric",
            op=op,
            timeout=30,
        )
        assert "jiradrift_token_expiry_timestamp_seconds" in scrape
        # ...and so is when it was last refreshed (JiraDriftTokenExpiringSoon compares both)
        wait_for(
            lambda: (
                f'jiradrift_token_last_refresh_timestamp_seconds{{namespace="{ns}",tenant="acme"}}'
                in httpx.get(f"http://127.0.0.1:{op.metrics_port}/metrics", timeout=5).text
            ),
            "token last-refresh metric",
            op=op,
            timeout=30,
        )
        # the rotated refresh token was written back, and no token reached the logs or the status
        secret = k8s.CoreV1Api(k8s_api).read_namespaced_secret("acme-oauth", ns)
        assert "access_token" in secret.data
        text = op.text()
        assert creds.refresh_token not in text and creds.client_secret not in text
        assert creds.refresh_token not in json.dumps(get(k8s_api, ns, "jiratenants", "acme"))


def test_write_scopes_are_refused_unless_allowed(
    control_plane: ControlPlane, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: Any, tmp_path: Path
) -> None:
    ns, creds = k8s_namespace, jira_sim.credentials
    from jiradrift.sim import read_only_scopes

    writer = jira_sim.oauth.create_grant([*read_only_scopes(), "manage:jira-configuration"])
    make_secret(
        k8s_api,
        ns,
        "acme-oauth",
        {
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
            "refresh_token": writer,
        },
    )
    control_plane.kubectl("apply", "-f", "-", input=json.dumps(oauth_tenant(ns, jira_sim)))
    with running_operator(control_plane, [ns], tmp_path) as op:
        # The token module writes ScopesReadOnly, the tenant reconcile then writes Ready: two patches.
        tenant = wait_for(
            lambda: conditions_are(k8s_api, ns, "acme", ScopesReadOnly="False", Ready="False"),
            "ScopesReadOnly=False and Ready=False",
            op=op,
            timeout=90,
        )
        assert condition(tenant, "ScopesReadOnly")["reason"] == "WriteScopesGranted"
        assert snapshots(k8s_api, ns) == []  # nothing captured with a write-capable token
        # JiraDriftTokenRefreshFailing sees it, by reason
        failures = (
            f'jiradrift_token_refresh_failures_total{{namespace="{ns}",reason="WriteScopesGranted",tenant="acme"}}'
        )
        wait_for(
            lambda: failures in httpx.get(f"http://127.0.0.1:{op.metrics_port}/metrics", timeout=5).text,
            "the token failure counted in jiradrift_token_refresh_failures_total",
            op=op,
            timeout=30,
        )
        control_plane.kubectl(
            "patch",
            "jt",
            "acme",
            "-n",
            ns,
            "--type=merge",
            "-p",
            json.dumps({"spec": {"auth": {"allowWriteScopes": True}}}),
        )
        wait_for(
            lambda: conditions_are(k8s_api, ns, "acme", Ready="True"),
            "Ready once write scopes are explicitly allowed",
            op=op,
            timeout=90,
        )
