"""A git server as a pod, for the demo's ``spec.history``: smart HTTP over HTTPS with a token.

    git = start_git_pod(plane, "jira-demo", operator_image, pull_never=True)
    git.url                 # https://git.demo.test/acme.git (the operator resolves it with hostAliases)
    git.ip                  # the Service's ClusterIP, for the chart's hostAliases
    git.secret_data()       # the tenant's history Secret: token and ca.crt
    git.log(plane, "--format=%an")

The pod runs ``git_https.py`` (in a ConfigMap) from the operator's image, which has Debian's git and
Python: no other image is needed, on the dev node (no registry) or on any cluster (``--context``). Its
certificate is for ``git.demo.test``, from a CA made for the purpose; the Secret carries that CA.
The repository lives in an emptyDir: it goes with the pod.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from jiradrift.dev.controlplane import _CA, _pem_cert, _pem_key

GIT_HOST = "git.demo.test"
GIT_NAME = "git-server"
REPO = "acme.git"
ROOT = "/srv/git"
TLS_ARGS = ("--cert=/etc/git-tls/tls.crt", "--key=/etc/git-tls/tls.key")


class Kubectl(Protocol):
    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]: ...


@dataclass(frozen=True)
class GitPod:
    namespace: str
    ip: str
    token: str
    ca_pem: str
    url: str = f"https://{GIT_HOST}/{REPO}"

    def secret_data(self) -> dict[str, str]:
        return {"token": self.token, "ca.crt": self.ca_pem}

    def git(self, plane: Kubectl, *args: str) -> str:
        """``git ARGS`` in the server's bare repository, in its pod."""
        run = ("exec", "-n", self.namespace, GIT_NAME, "--", "git", f"--git-dir={ROOT}/{REPO}", *args)
        return plane.kubectl(*run).stdout


def _b64(data: bytes | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def _objects(namespace: str, image: str, pull_never: bool, token: str, crt: bytes, key: bytes) -> list[dict[str, Any]]:
    labels = {"app.kubernetes.io/name": GIT_NAME, "app.kubernetes.io/part-of": "jiradrift-demo"}
    meta = {"namespace": namespace, "labels": labels}
    script = (Path(__file__).with_name("git_https.py")).read_text()
    token_secret = f"{GIT_NAME}-token"
    restricted = {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": GIT_NAME, **meta},
        "spec": {
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "securityContext": {"runAsNonRoot": True, "runAsUser": 65532, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [
                {
                    "name": "git",
                    "image": image,
                    "imagePullPolicy": "Never" if pull_never else "IfNotPresent",
                    "command": ["python3", "/etc/git-server/git_https.py"],
                    "args": [f"--root={ROOT}", f"--repo={REPO}", *TLS_ARGS, "--port=8443"],
                    "env": [
                        {"name": "GIT_TOKEN", "valueFrom": {"secretKeyRef": {"name": token_secret, "key": "token"}}},
                        {"name": "HOME", "value": "/tmp"},
                    ],
                    "ports": [{"name": "https", "containerPort": 8443}],
                    "readinessProbe": {"tcpSocket": {"port": "https"}, "periodSeconds": 1},
                    "securityContext": restricted,
                    "volumeMounts": [
                        {"name": "script", "mountPath": "/etc/git-server", "readOnly": True},
                        {"name": "tls", "mountPath": "/etc/git-tls", "readOnly": True},
                        {"name": "repos", "mountPath": ROOT},
                        {"name": "tmp", "mountPath": "/tmp"},
                    ],
                    "resources": {"requests": {"cpu": "20m", "memory": "48Mi"}, "limits": {"memory": "256Mi"}},
                }
            ],
            "volumes": [
                {"name": "script", "configMap": {"name": f"{GIT_NAME}-script"}},
                {"name": "tls", "secret": {"secretName": f"{GIT_NAME}-tls"}},
                {"name": "repos", "emptyDir": {}},
                {"name": "tmp", "emptyDir": {}},
            ],
        },
    }
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"{GIT_NAME}-script", **meta},
            "data": {"git_https.py": script},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": f"{GIT_NAME}-tls", **meta},
            "type": "kubernetes.io/tls",
            "data": {"tls.crt": _b64(crt), "tls.key": _b64(key)},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": token_secret, **meta},
            "data": {"token": _b64(token)},
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": GIT_NAME, **meta},
            "spec": {
                "type": "ClusterIP",
                "selector": labels,
                "ports": [{"name": "https", "port": 443, "targetPort": "https", "protocol": "TCP"}],
            },
        },
        pod,
    ]


def start_git_pod(plane: Kubectl, namespace: str, image: str, *, pull_never: bool, timeout: int = 120) -> GitPod:
    """Create the git server's objects and wait until its pod is Ready (bounded)."""
    ca = _CA.create("jiradrift-demo-git-ca")
    key, cert = ca.issue(GIT_HOST, server=True, sans=[GIT_HOST])
    token = base64.b32encode(os.urandom(20)).decode()
    items = _objects(namespace, image, pull_never, token, _pem_cert(cert), _pem_key(key))
    body = {"apiVersion": "v1", "kind": "List", "items": items}
    plane.kubectl("apply", "-f", "-", input=json.dumps(body))
    plane.kubectl("wait", "-n", namespace, f"pod/{GIT_NAME}", "--for=condition=Ready", f"--timeout={timeout}s")
    ip = plane.kubectl("get", "service", GIT_NAME, "-n", namespace, "-o", "jsonpath={.spec.clusterIP}").stdout.strip()
    return GitPod(namespace, ip, token, _pem_cert(ca.cert).decode())
