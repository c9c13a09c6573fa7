"""Nothing a JiraTenant author writes can leak a credential (issue 12).

A sentinel credential is planted in Secrets; tenants then try every way to misuse it: a site or
token endpoint off the admin's allowlist, another workload's Secret, a site that rejects it (401),
and a hostile site that echoes it back in its error text. The operator (and the token job) must
refuse before sending anything where refused, say why in status, and nowhere -- log line, Event
(ours and kopf's own), condition, status, metric label, job output -- may the sentinel appear.
"""

from __future__ import annotations

import base64
import http.server
import json
import subprocess
import sys
import threading
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from tests.operator.kube import condition, get, make_secret

from jiradrift.api.resources import GROUP, VERSION
from jiradrift.dev.controlplane import ControlPlane
from jiradrift.dev.operator_process import running_operator, wait_for

pytestmark = pytest.mark.k8s


@dataclass
class HostileSite:
    """Answers every request with a 400 whose error text quotes the credential it was sent: the Jira
    API in Jira's error format, the token endpoint (POST) in OAuth's."""

    url: str
    authorizations: list[str] = field(default_factory=list)


def _serve(answer: Callable[[http.server.BaseHTTPRequestHandler], tuple[int, bytes]]) -> http.server.HTTPServer:
    """A loopback server answering every GET and POST with ``answer(request)``."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = answer(self)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def hostile_site() -> Iterator[HostileSite]:
    seen: list[str] = []

    def echo(request: http.server.BaseHTTPRequestHandler) -> tuple[int, bytes]:
        header = request.headers.get("Authorization", "")
        seen.append(header)
        scheme, _, value = header.partition(" ")
        secret = base64.b64decode(value).decode().partition(":")[2] if scheme == "Basic" else value
        if request.command == "POST":  # the token endpoint: the client secret is in the body
            sent = json.loads(request.rfile.read(int(request.headers.get("Content-Length") or 0)) or b"{}")
            seen.append(str(sent.get("client_secret", "")))
            error = {"error": "invalid_request", "error_description": f"unknown client {sent.get('client_secret')}"}
            return 400, json.dumps(error).encode()
        return 400, json.dumps({"errorMessages": [f"no user has the credential {secret}"]}).encode()

    server = _serve(echo)
    yield HostileSite(f"http://127.0.0.1:{server.server_address[1]}", seen)
    server.shutdown()


@pytest.fixture
def refused_site() -> Iterator[HostileSite]:
    """A server the tenants name as ``localhost``, which this operator's allowlist does not hold."""
    seen: list[str] = []

    def record(request: http.server.BaseHTTPRequestHandler) -> tuple[int, bytes]:
        seen.append(request.headers.get("Authorization", ""))
        return 404, b"{}"

    server = _serve(record)
    yield HostileSite(f"http://localhost:{server.server_address[1]}", seen)
    server.shutdown()


def _tenant(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "JiraTenant",
        "metadata": {"name": name},
        "spec": {"schedule": {"interval": "6h"}, "snapshotTypes": ["priorities"], **spec},
    }


def _reason(api: k8s.ApiClient, ns: str, name: str, type_: str) -> str:
    c = condition(get(api, ns, "jiratenants", name), type_)
    return str(c.get("reason", "")) if c.get("status") == "False" else ""


def test_a_planted_credential_goes_nowhere_it_may_not_and_appears_in_no_output(
    control_plane: ControlPlane,
    k8s_api: k8s.ApiClient,
    k8s_namespace: str,
    jira_sim: Any,
    hostile_site: HostileSite,
    refused_site: HostileSite,
    tmp_path: Path,
) -> None:
    ns, creds = k8s_namespace, jira_sim.credentials
    sentinel = f"sentinel-{uuid.uuid4().hex}"
    make_secret(
        k8s_api, ns, "opted", {"email": creds.email, "token": sentinel}, tenants="echo,rejected,exfil,oauth-exfil"
    )
    make_secret(
        k8s_api,
        ns,
        "opted-oauth",
        {"client_id": creds.client_id, "client_secret": sentinel, "refresh_token": sentinel + "-r"},
        tenants="oauth-exfil,oauth-echo",
    )
    # Another workload's Secrets: they never opted in to any JiraTenant.
    make_secret(k8s_api, ns, "victim", {"email": creds.email, "token": sentinel}, tenants=None)
    make_secret(
        k8s_api,
        ns,
        "victim-oauth",
        {"client_id": creds.client_id, "client_secret": sentinel, "refresh_token": sentinel + "-v"},
        tenants="someone-else",
    )
    victim_version = k8s.CoreV1Api(k8s_api).read_namespaced_secret("victim-oauth", ns).metadata.resource_version
    oauth = {"tokenUrl": jira_sim.token_url}
    tenants = {
        "echo": {"site": hostile_site.url, "auth": {"apiToken": {"secretRef": {"name": "opted"}}}},
        "rejected": {"site": jira_sim.base_url, "auth": {"apiToken": {"secretRef": {"name": "opted"}}}},
        "exfil": {"site": refused_site.url, "auth": {"apiToken": {"secretRef": {"name": "opted"}}}},
        "borrower": {"site": jira_sim.base_url, "auth": {"apiToken": {"secretRef": {"name": "victim"}}}},
        "oauth-borrower": {
            "site": jira_sim.base_url,
            "apiGateway": jira_sim.gateway_url,
            "auth": {"oauth": {"secretRef": {"name": "victim-oauth"}, **oauth}},
        },
        "oauth-echo": {
            "site": jira_sim.base_url,
            "apiGateway": jira_sim.gateway_url,
            "auth": {"oauth": {"secretRef": {"name": "opted-oauth"}, "tokenUrl": f"{hostile_site.url}/oauth/token"}},
        },
        "oauth-exfil": {
            "site": jira_sim.base_url,
            "apiGateway": jira_sim.gateway_url,
            "auth": {"oauth": {"secretRef": {"name": "opted-oauth"}, "tokenUrl": f"{refused_site.url}/oauth/token"}},
        },
    }
    objects = k8s.CustomObjectsApi(k8s_api)
    for name, spec in tenants.items():
        objects.create_namespaced_custom_object(GROUP, VERSION, ns, "jiratenants", _tenant(name, spec))
    for tenant in ("echo", "oauth-echo"):  # capture failures: an Incomplete one, and one retried
        manual = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Snapshot",
            "metadata": {"name": f"{tenant}-manual"},
            "spec": {"tenantRef": {"name": tenant}, "type": "priorities"},
        }
        objects.create_namespaced_custom_object(GROUP, VERSION, ns, "snapshots", manual)

    expected = {
        "echo": ("Reachable", "JiraError"),
        "rejected": ("CredentialsValid", "CredentialsRejected"),
        "exfil": ("CredentialsValid", "HostNotAllowed"),
        "borrower": ("CredentialsValid", "SecretNotOptedIn"),
        "oauth-borrower": ("CredentialsValid", "SecretNotOptedIn"),
        "oauth-exfil": ("CredentialsValid", "HostNotAllowed"),
        "oauth-echo": ("TokenFresh", "RefreshFailed"),
    }
    with running_operator(control_plane, [ns], tmp_path, tenant_interval=1, allowed_hosts=("127.0.0.1",)) as op:

        def reasons() -> dict[str, str]:
            return {t: _reason(k8s_api, ns, t, c) for t, (c, _) in expected.items()}

        try:
            wait_for(lambda: reasons() == {t: r for t, (_, r) in expected.items()}, "refusals", op=op, timeout=60)
        except AssertionError:
            raise AssertionError(f"every tenant refused with its reason, got {reasons()}") from None

        # the record of the failed attempt, with the error's text (the hostile site's answer): the
        # operator logs it (Snapshots run from raw events, so kopf does not), through the redaction filter
        def failure_logged() -> bool:
            return any(
                line.get("logger") == "jiradrift.handlers"
                and "oauth-echo-manual" in str(line.get("message"))
                and "; retried in " in str(line.get("message"))
                for line in op.lines()
            )

        wait_for(failure_logged, "the failed attempt of the Snapshot logged", op=op, timeout=60)
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{op.metrics_port}/metrics", timeout=10).read().decode()
        log = op.text()

    # The token job, run like the CronJob: refuses the same tenants, writes nothing.
    job = subprocess.run(
        [
            sys.executable,
            "-m",
            "jiradrift",
            "refresh-tokens",
            "-n",
            ns,
            "--kubeconfig",
            str(control_plane.kubeconfig),
            "--allowed-hosts",
            "127.0.0.1",
            "--log-format",
            "plain",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert job.returncode == 1 and "0 refreshed, 0 skipped, 3 failed" in job.stdout, job.stdout + job.stderr

    # Nothing was sent where it may not go; what was sent went to the allowed host only.
    assert refused_site.authorizations == []
    assert jira_sim.requests.count("POST /oauth/token") == 0
    assert hostile_site.authorizations, "the echo site was never asked"
    assert k8s.CoreV1Api(k8s_api).read_namespaced_secret("victim-oauth", ns).metadata.resource_version == (
        victim_version
    )

    # How to fix it is in the message.
    borrowed = condition(get(k8s_api, ns, "jiratenants", "borrower"), "CredentialsValid")["message"]
    assert f"kubectl annotate secret victim -n {ns} jiradrift.io/allowed-tenants=borrower" in borrowed
    exfil = condition(get(k8s_api, ns, "jiratenants", "oauth-exfil"), "CredentialsValid")["message"]
    assert "spec.auth.oauth.tokenUrl" in exfil and "allowedHosts" in exfil

    # And the sentinel is nowhere: logs, Events, conditions and status, metric labels, job output.
    events = json.dumps([e.to_dict() for e in k8s.CoreV1Api(k8s_api).list_namespaced_event(ns).items], default=str)
    status = json.dumps(
        [objects.list_namespaced_custom_object(GROUP, VERSION, ns, p)["items"] for p in ("jiratenants", "snapshots")]
    )
    outputs = {
        "operator log": log,
        "events": events,
        "status": status,
        "metrics": metrics,
        "token job": job.stdout + job.stderr,
    }
    leaked = [where for where, text in outputs.items() if sentinel in text]
    assert leaked == [], f"the sentinel credential appears in: {leaked}"
    assert "[REDACTED]" in status or "[REDACTED]" in events  # the echo was there, and was redacted
