"""A JiraTenant that cannot work says why: a condition with a stable reason, a message naming the
fix, a Warning Event -- and no hot loop against the site or the API server.
"""

from __future__ import annotations

import base64
import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from tests.operator.kube import condition, get, make_secret, make_tenant, snapshots

from jiradrift.dev.controlplane import ControlPlane, free_port
from jiradrift.dev.operator_process import running_operator, wait_for

pytestmark = pytest.mark.k8s


class _HtmlHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # a web server that is not Jira: HTML for every path
        body = b"<html><body><h1>Welcome to nginx!</h1></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def html_site() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HtmlHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def warning_reasons(plane: ControlPlane, ns: str, name: str) -> list[str]:
    events = json.loads(plane.kubectl("get", "events", "-n", ns, "-o", "json").stdout)["items"]
    return [e["reason"] for e in events if e["involvedObject"]["name"] == name and e["type"] == "Warning"]


def test_each_failure_is_a_condition_with_a_reason_and_a_warning(
    control_plane: ControlPlane,
    k8s_api: k8s.ApiClient,
    k8s_namespace: str,
    jira_sim: Any,
    html_site: str,
    tmp_path: Path,
) -> None:
    ns, creds = k8s_namespace, jira_sim.credentials
    make_secret(k8s_api, ns, "good", {"email": creds.email, "token": creds.api_token})
    make_secret(k8s_api, ns, "wrong", {"email": creds.email, "token": "not-the-token"})
    make_secret(k8s_api, ns, "no-token", {"email": creds.email})
    dead = f"http://127.0.0.1:{free_port()}"
    cases = {
        # tenant: (site, secret, condition, reason, words the message must contain)
        "missing-secret": (
            jira_sim.base_url,
            "absent",
            "CredentialsValid",
            "SecretNotFound",
            ["absent", "email, token"],
        ),
        "missing-key": (
            jira_sim.base_url,
            "no-token",
            "CredentialsValid",
            "SecretKeyMissing",
            ["no-token", "token"],
        ),
        "wrong-token": (jira_sim.base_url, "wrong", "CredentialsValid", "CredentialsRejected", ["rejected"]),
        "unreachable": (dead, "good", "Reachable", "Unreachable", ["cannot reach", dead]),
        "not-jira": (html_site, "good", "Reachable", "NotJira", ["spec.site"]),
    }
    for name, (site, secret, *_rest) in cases.items():
        make_tenant(k8s_api, ns, name, site, secret, ["priorities"])
    with running_operator(control_plane, [ns], tmp_path, tenant_interval=1) as op:
        for name, (_site, _secret, type_, reason, words) in cases.items():
            tenant = wait_for(
                lambda n=name, t=type_: (
                    (x := get(k8s_api, ns, "jiratenants", n)) and condition(x, t).get("status") == "False" and x
                ),
                f"{name}: {type_}=False",
                op=op,
                timeout=60,
            )
            failing = condition(tenant, type_)
            assert failing["reason"] == reason, (name, failing)
            for word in words:
                assert word in failing["message"], (name, failing["message"])
            ready = condition(tenant, "Ready")
            assert ready["status"] == "False" and ready["reason"] == reason
            assert failing["observedGeneration"] == tenant["metadata"]["generation"]
        for name, (*_x, reason, _w) in cases.items():
            wait_for(
                lambda n=name, r=reason: r in warning_reasons(control_plane, ns, n),
                f"{name}: Warning {reason}",
                op=op,
                timeout=30,
            )
        assert snapshots(k8s_api, ns) == []  # nothing is scheduled for a tenant that is not Ready

        # no hot loop: with a 1 s reconcile timer, the failing site is asked once per recheck period
        before = jira_sim.requests.count("GET /rest/api/3/serverInfo")
        time.sleep(8)
        after = jira_sim.requests.count("GET /rest/api/3/serverInfo")
        assert after - before <= 1, f"{after - before} serverInfo calls in 8 s"
        events = [r for n in cases for r in warning_reasons(control_plane, ns, n)]
        assert len(events) <= 2 * len(cases), events  # one Warning per transition, not per tick

        # fixing the Secret heals the tenant without a restart
        k8s.CoreV1Api(k8s_api).patch_namespaced_secret(
            "wrong", ns, {"data": {"token": base64.b64encode(creds.api_token.encode()).decode()}}
        )
        wait_for(
            lambda: condition(get(k8s_api, ns, "jiratenants", "wrong-token"), "Ready").get("status") == "True",
            "wrong-token Ready after the Secret is fixed",
            op=op,
            timeout=60,
        )
