"""End to end with the chart's own identities: helm install, the operator, the token job, the emulator.

The chart is installed into the real API server (CRDs already there: ``crds.install=false``); the
operator runs as its own process with a kubeconfig that authenticates as the chart's operator
ServiceAccount, its scope taken from the Deployment's arguments; an OAuth and an apiToken JiraTenant
against the Jira emulator become Ready and snapshot. Then the token job runs exactly the command
line of the chart's CronJob, as the chart's token-refresh ServiceAccount, and rotates the OAuth
refresh token. Neither process may meet a 403 from the API server: the chart's RBAC suffices.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from chartlib import CHART, unique
from kubernetes import client as k8s
from tests.operator.kube import condition, get, make_secret, snapshots

from jiradrift.api.resources import GROUP, VERSION
from jiradrift.dev.controlplane import ControlPlane
from jiradrift.dev.operator_process import running_operator, wait_for

pytestmark = pytest.mark.k8s

# What a 403 from the API server looks like in kopf's, the kubernetes client's or our own log lines.
FORBIDDEN = re.compile(r"\b403\b|forbidden|system:serviceaccount:", re.IGNORECASE)


@dataclass
class Installed:
    release: str
    namespace: str  # the release's
    tenants: str  # the watched namespace
    deployment: dict[str, Any]
    cronjob: dict[str, Any]
    operator_sa: str
    token_sa: str


@pytest.fixture
def installed(control_plane: ControlPlane, k8s_api: k8s.ApiClient) -> Iterator[Installed]:
    release_ns, tenants_ns = unique("jde"), unique("jdt")
    core = k8s.CoreV1Api(k8s_api)
    for name in (release_ns, tenants_ns):
        core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
    # A short fullname: the ServiceAccount's client-certificate CN may not exceed 64 characters.
    release = unique("e2e")
    control_plane.helm(
        "install",
        release,
        str(CHART),
        "--namespace",
        release_ns,
        "--set",
        "crds.install=false",
        "--set",
        f"fullnameOverride={release}",
        "--set",
        f"watchNamespaces={{{tenants_ns}}}",
        # Larger than the emulator's access-token lifetime (1h): the job must refresh.
        "--set",
        "tokenRefresh.window=48h",
        # The emulator listens on loopback: the admin allows it, as they would allow a Jira site.
        "--set",
        "allowedHosts={127.0.0.1}",
    )

    def one(kind: str, component: str) -> dict[str, Any]:
        out = control_plane.kubectl(
            "get",
            kind,
            "-n",
            release_ns,
            "-o",
            "json",
            "-l",
            f"app.kubernetes.io/instance={release},app.kubernetes.io/component={component}",
        ).stdout
        items = json.loads(out)["items"]
        assert len(items) == 1, f"expected one {kind} for {component}, got {len(items)}"
        return dict(items[0])

    deployment, cronjob = one("deployment", "operator"), one("cronjob", "token-refresh")
    operator_sa = deployment["spec"]["template"]["spec"]["serviceAccountName"]
    token_sa = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["serviceAccountName"]

    # The authorizer sees new Roles and bindings through its own watch, a moment after helm returns:
    # the test asserts "no 403", so it starts only once the grants are in effect.
    def granted(sa: str, verb: str, resource: str) -> bool:
        who = f"--as=system:serviceaccount:{release_ns}:{sa}"
        kind, _, sub = resource.partition("/")
        args = ["auth", "can-i", verb, kind, "-n", tenants_ns, who, *([f"--subresource={sub}"] if sub else [])]
        answer = control_plane.kubectl(*args, check=False)
        return answer.stdout.strip() == "yes"

    for sa, verb, resource in (
        (operator_sa, "list", "jiratenants.jiradrift.io"),
        (operator_sa, "patch", "snapshots.jiradrift.io/status"),
        (operator_sa, "create", "leases.coordination.k8s.io"),
        (operator_sa, "update", "secrets"),
        (token_sa, "update", "secrets"),
        (token_sa, "patch", "jiratenants.jiradrift.io/status"),
    ):
        wait_for(lambda c=(sa, verb, resource): granted(*c), f"{sa} may {verb} {resource}", timeout=60)
    yield Installed(
        release,
        release_ns,
        tenants_ns,
        deployment,
        cronjob,
        operator_sa,
        token_sa,
    )
    control_plane.helm("uninstall", release, "--namespace", release_ns)
    for name in (release_ns, tenants_ns):
        core.delete_namespace(name)


def _secret_value(api: k8s.ApiClient, ns: str, name: str, key: str) -> str:
    data = k8s.CoreV1Api(api).read_namespaced_secret(name, ns).data or {}
    return base64.b64decode(data.get(key, "")).decode()


def _tenant(name: str, types: list[str], spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "JiraTenant",
        "metadata": {"name": name},
        "spec": {"schedule": {"interval": "6h"}, "snapshotTypes": types, **spec},
    }


def _arg_values(args: list[str], flag: str) -> list[str]:
    """``--flag=value`` and ``--flag value`` occurrences, in order."""
    values = []
    for i, arg in enumerate(args):
        if arg.startswith(f"{flag}="):
            values.append(arg.split("=", 1)[1])
        elif arg == flag and i + 1 < len(args):
            values.append(args[i + 1])
    return values


def _forbidden(text: str) -> list[str]:
    return [line for line in text.splitlines() if FORBIDDEN.search(line)]


@contextmanager
def _apiserver_requests(plane: ControlPlane) -> Iterator[Callable[[], list[str]]]:
    """The API server's own record of the requests it answered meanwhile (with their status).

    kube-apiserver logs every request with its status at verbosity 3 (httplog); the verbosity is
    raised at runtime (PUT /debug/flags/v) for the duration and put back to the harness's 0.
    """
    log = plane.workdir / "kube-apiserver.log"
    start = log.stat().st_size
    plane.kubectl("replace", "--raw", "/debug/flags/v", "-f", "-", input="3")

    def requests() -> list[str]:
        with log.open("rb") as f:
            f.seek(start)
            text = f.read().decode(errors="replace")
        return [line for line in text.splitlines() if '"HTTP"' in line]

    try:
        yield requests
    finally:
        plane.kubectl("replace", "--raw", "/debug/flags/v", "-f", "-", input="0")


def test_operator_and_token_job_run_as_the_charts_service_accounts(
    control_plane: ControlPlane,
    k8s_api: k8s.ApiClient,
    installed: Installed,
    jira_sim: Any,
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    ns, creds = installed.tenants, jira_sim.credentials
    objects = k8s.CustomObjectsApi(k8s_api)

    # The operator: the Deployment's scope, the operator ServiceAccount's identity.
    container = installed.deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][0] == "run" and "--standalone" in container["args"]
    namespaces = _arg_values(container["args"], "--namespace")
    assert namespaces == [ns]
    operator_kubeconfig = control_plane.service_account_kubeconfig(installed.namespace, installed.operator_sa)

    # An admin applies the tenants and their Secrets (the operator may not create Secrets).
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
    make_secret(k8s_api, ns, "basic-jira", {"email": creds.email, "token": creds.api_token})
    for name, types, spec in (
        (
            "acme",
            ["priorities", "instance"],
            {
                "site": jira_sim.base_url,
                "apiGateway": jira_sim.gateway_url,
                "auth": {"oauth": {"secretRef": {"name": "acme-oauth"}, "tokenUrl": jira_sim.token_url}},
            },
        ),
        (
            "basic",
            ["priorities"],
            {"site": jira_sim.base_url, "auth": {"apiToken": {"secretRef": {"name": "basic-jira"}}}},
        ),
    ):
        objects.create_namespaced_custom_object(GROUP, VERSION, ns, "jiratenants", _tenant(name, types, spec))

    with (
        _apiserver_requests(control_plane) as apiserver_requests,
        running_operator(
            control_plane,
            namespaces,
            tmp_path / "operator",
            kubeconfig=operator_kubeconfig,
            name=f"{installed.release}-0",
            tenant_interval=1.0,
            allowed_hosts=_arg_values(container["args"], "--allowed-hosts")[0].split(","),
        ) as op,
    ):

        def tenants_ready() -> bool:
            return all(
                condition(get(k8s_api, ns, "jiratenants", t), "Ready").get("status") == "True"
                for t in ("acme", "basic")
            )

        def snapshots_completed() -> bool:
            phases = sorted(
                (s["spec"]["tenantRef"]["name"], (s.get("status") or {}).get("phase") or "")
                for s in snapshots(k8s_api, ns)
            )
            return phases == [("acme", "Completed"), ("acme", "Completed"), ("basic", "Completed")]

        wait_for(tenants_ready, "both JiraTenants Ready", op=op, timeout=120)
        wait_for(snapshots_completed, "the tenants' first Snapshots Completed", op=op, timeout=120)
        acme = get(k8s_api, ns, "jiratenants", "acme")
        assert acme["status"]["token"]["expiresAt"]
        assert acme["status"]["site"]["cloudId"] == jira_sim.cloud_id
        # The operator's own refresh wrote the rotated token back into the Secret.
        assert _secret_value(k8s_api, ns, "acme-oauth", "refresh_token") != creds.refresh_token

        # The token job: the CronJob's container, run as the token-refresh ServiceAccount.
        job = installed.cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
        assert "command" not in job, "the image's entrypoint is `jiradrift`"
        assert job["args"][0] == "refresh-tokens"
        assert _arg_values(job["args"], "--namespace") == [ns]
        assert _arg_values(job["args"], "--window") == ["48h"]
        env = {
            **os.environ,
            "KUBECONFIG": str(control_plane.service_account_kubeconfig(installed.namespace, installed.token_sa)),
            "POD_NAME": f"{installed.cronjob['metadata']['name']}-manual-x7k2p",
            "POD_NAMESPACE": installed.namespace,
        }
        env.pop("KUBERNETES_SERVICE_HOST", None)
        before_token = _secret_value(k8s_api, ns, "acme-oauth", "refresh_token")
        before_expiry = acme["status"]["token"]["expiresAt"]
        grants_before = jira_sim.requests.count("POST /oauth/token")
        result = subprocess.run(
            [sys.executable, "-m", "jiradrift", *job["args"]],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        # apiToken tenants have nothing to refresh and are not counted at all (jiradrift.tokens.job).
        assert result.stdout.splitlines() == ["Token refresh job: 1 refreshed, 0 skipped, 0 failed"]
        assert jira_sim.requests.count("POST /oauth/token") - grants_before == 1
        assert jira_sim.requests.count("POST /oauth/token", status=200) == jira_sim.requests.count("POST /oauth/token")
        after_token = _secret_value(k8s_api, ns, "acme-oauth", "refresh_token")
        assert after_token and after_token != before_token
        acme = get(k8s_api, ns, "jiratenants", "acme")
        assert acme["status"]["token"]["expiresAt"] >= before_expiry
        assert _forbidden(result.stderr) == [], result.stderr

        # The operator carries on with the rotated Secret: a manual Snapshot after a change in Jira
        # completes with drift and posts its Event (core/v1 Events as the operator ServiceAccount).
        jira_sim.admin.toggle_setting("votingEnabled", False)
        manual = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Snapshot",
            "metadata": {"name": "acme-after-rotation"},
            "spec": {"tenantRef": {"name": "acme"}, "type": "instance"},
        }
        objects.create_namespaced_custom_object(GROUP, VERSION, ns, "snapshots", manual)

        def manual_completed() -> dict[str, Any] | None:
            snap = get(k8s_api, ns, "snapshots", "acme-after-rotation")
            return snap if (snap.get("status") or {}).get("phase") == "Completed" else None

        snap = wait_for(manual_completed, "manual Snapshot after the rotation Completed", op=op, timeout=120)
        changes = snap["status"]["drift"]["changes"]
        assert any("votingEnabled" in json.dumps(c) for c in changes), changes

        # The Event follows the status patch: wait for it rather than race it.
        def drift_events() -> list[str]:
            found = k8s.CoreV1Api(k8s_api).list_namespaced_event(ns, field_selector="reason=DriftDetected").items
            return [e.involved_object.name for e in found]

        assert wait_for(drift_events, "the DriftDetected Event", op=op, timeout=120) == ["acme"]
        assert jira_sim.requests.count("POST /oauth/token") - grants_before == 1, "no refresh since the job"

        # The operator is still healthy, and never met a 403 from the API server.
        assert op.proc.poll() is None, op.text()[-4000:]
        assert _forbidden(op.text()) == [], "\n".join(_forbidden(op.text()))
        assert creds.refresh_token not in op.text() and after_token not in result.stderr
        # Whatever the processes logged or swallowed: the API server answered them no 403.
        answered = apiserver_requests()
        for call in (
            f'"PUT" URI="/api/v1/namespaces/{ns}/secrets/acme-oauth',  # rotated tokens written back
            f'"POST" URI="/api/v1/namespaces/{ns}/events',
            f'"POST" URI="/apis/coordination.k8s.io/v1/namespaces/{ns}/leases',
            f'"POST" URI="/api/v1/namespaces/{ns}/secrets',  # payload parts (type jiradrift.io/snapshot-pack)
            f'"PATCH" URI="/apis/{GROUP}/{VERSION}/namespaces/{ns}/jiratenants/acme/status',
            f'"PATCH" URI="/apis/{GROUP}/{VERSION}/namespaces/{ns}/snapshots/acme-after-rotation/status',
        ):
            assert any(call in line and "resp=2" in line for line in answered), f"no {call} in the httplog"
        denied = [line for line in answered if "resp=403" in line]
        assert denied == [], "\n".join(denied)
    print(f"\nchart end to end: {time.monotonic() - started:.1f}s")
