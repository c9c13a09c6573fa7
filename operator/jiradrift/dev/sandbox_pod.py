"""The emulated site's sandbox as a pod, for ``jiradrift demo --context``: a SiteComparison needs two sites.

    sandbox = start_sandbox_pod(cluster, "jira-demo", emulator_image, size="small", seed=7)
    sandbox.url      # https://sandbox.emulator.test (the operator resolves it with hostAliases)
    sandbox.ip       # the Service's ClusterIP
    sandbox.ca_pem   # the CA of its certificate, to add to the operator's extraCACertificates bundle

It runs the emulator image as the chart's emulator does, with ``--variant sandbox``: the site of the
same size and seed with other ids and the known differences of :mod:`jiradrift.sim.variant`. Its
certificate comes from a CA made for the purpose; its API token is generated here.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from typing import Any

from jiradrift.dev.controlplane import _CA, _pem_cert, _pem_key
from jiradrift.dev.gitpod import Kubectl

SANDBOX_HOST = "sandbox.emulator.test"
SANDBOX_NAME = "jira-sandbox"
EMAIL = "jira-drift@emulator.test"


@dataclass(frozen=True)
class SandboxPod:
    ip: str
    ca_pem: str
    token: str
    email: str = EMAIL
    host: str = SANDBOX_HOST
    url: str = f"https://{SANDBOX_HOST}"


def _b64(data: bytes | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def _objects(
    namespace: str, image: str, size: str, seed: int, token: str, crt: bytes, key: bytes
) -> list[dict[str, Any]]:
    labels = {"app.kubernetes.io/name": SANDBOX_NAME, "app.kubernetes.io/part-of": "jiradrift-demo"}
    meta = {"namespace": namespace, "labels": labels}
    token_ref = {"name": SANDBOX_NAME, "key": "token"}
    container = {
        "name": "jira-emulator",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "args": [
            "--tls-cert=/etc/jira-emulator/tls/tls.crt",
            "--tls-key=/etc/jira-emulator/tls/tls.key",
            f"--public-url=https://{SANDBOX_HOST}",
            f"--size={size}",
            f"--seed={seed}",
            "--variant=sandbox",
            f"--email={EMAIL}",
            "--port=8443",
        ],
        "env": [{"name": "JIRA_EMULATOR_API_TOKEN", "valueFrom": {"secretKeyRef": token_ref}}],
        "ports": [{"name": "https", "containerPort": 8443}],
        "readinessProbe": {"tcpSocket": {"port": "https"}, "periodSeconds": 1},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "resources": {"requests": {"cpu": "50m", "memory": "96Mi"}, "limits": {"memory": "256Mi"}},
        "volumeMounts": [
            {"name": "tls", "mountPath": "/etc/jira-emulator/tls", "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": SANDBOX_NAME, **meta},
        "spec": {
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "securityContext": {"runAsNonRoot": True, "runAsUser": 65532, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [container],
            "volumes": [
                {"name": "tls", "secret": {"secretName": f"{SANDBOX_NAME}-tls"}},
                {"name": "tmp", "emptyDir": {}},
            ],
        },
    }
    return [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": f"{SANDBOX_NAME}-tls", **meta},
            "type": "kubernetes.io/tls",
            "data": {"tls.crt": _b64(crt), "tls.key": _b64(key)},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": SANDBOX_NAME, **meta},
            "data": {"token": _b64(token)},
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": SANDBOX_NAME, **meta},
            "spec": {
                "type": "ClusterIP",
                "selector": labels,
                "ports": [{"name": "https", "port": 443, "targetPort": "https", "protocol": "TCP"}],
            },
        },
        pod,
    ]


def start_sandbox_pod(
    plane: Kubectl, namespace: str, image: str, *, size: str, seed: int, timeout: int = 300
) -> SandboxPod:
    """Create the sandbox emulator's objects and wait until its pod is Ready (bounded)."""
    ca = _CA.create("jiradrift-demo-sandbox-ca")
    key, cert = ca.issue(SANDBOX_HOST, server=True, sans=[SANDBOX_HOST])
    token = "emulator-" + base64.b32encode(os.urandom(20)).decode().lower()
    items = _objects(namespace, image, size, seed, token, _pem_cert(cert), _pem_key(key))
    plane.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    plane.kubectl("wait", "-n", namespace, f"pod/{SANDBOX_NAME}", "--for=condition=Ready", f"--timeout={timeout}s")
    ip = plane.kubectl("get", "service", SANDBOX_NAME, "-n", namespace, "-o", "jsonpath={.spec.clusterIP}").stdout
    return SandboxPod(ip.strip(), _pem_cert(ca.cert).decode(), token)
