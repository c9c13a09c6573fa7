"""What an admin does in the first five minutes: install, follow NOTES, upgrade, uninstall, reinstall.

Runs on an empty control plane, so the chart itself installs the CRDs, as it would on a new cluster.
"""

from __future__ import annotations

import json
import re
import shlex

import pytest
from chartlib import CHART

from jiradrift.dev.controlplane import ControlPlane

pytestmark = pytest.mark.k8s

NS = "jiradrift-system"
CRDS = ("crd/jiratenants.jiradrift.io", "crd/snapshots.jiradrift.io")


def _notes_commands(notes: str) -> tuple[list[str], list[str], str]:
    """The `kubectl create secret` and `kubectl annotate` (opt-in) commands and the sample JiraTenant
    from NOTES, as printed."""
    secret = re.search(r"kubectl (-n \S+ create secret generic .*?)\n\n", notes.replace("\\\n", " "), re.S)
    annotate = re.search(r"kubectl (-n \S+ annotate secret .*?)\n", notes)
    tenant = re.search(r"<<'YAML'\n(.*?)\n\s*YAML\n", notes, re.S)
    assert secret and annotate and tenant, notes
    lines = "\n".join(line[5:] for line in tenant.group(1).splitlines())
    return shlex.split(secret.group(1)), shlex.split(annotate.group(1)), lines


def _json(plane: ControlPlane, *args: str) -> dict:  # type: ignore[type-arg]
    return json.loads(plane.kubectl(*args, "-o", "json").stdout)  # type: ignore[no-any-return]


def test_install_upgrade_uninstall_reinstall(fresh_cluster: ControlPlane) -> None:
    plane = fresh_cluster
    plane.kubectl("create", "namespace", NS)
    plane.kubectl("create", "namespace", "team-x")

    installed = plane.helm("install", "drift", str(CHART), "--namespace", NS)
    plane.kubectl("wait", "--for=condition=Established", "--timeout=30s", *CRDS)
    notes = installed.stdout.split("NOTES:", 1)[1]
    assert f"kubectl -n {NS} logs deploy/drift-jira-drift-operator" in notes
    assert "kubectl get jiratenants,snapshots" in notes

    # Follow NOTES literally: create the Secret, apply the sample tenant, list.
    secret_args, annotate_args, tenant = _notes_commands(notes)
    plane.kubectl(*secret_args)
    plane.kubectl(*annotate_args)
    opt_in = _json(plane, "get", "secret", "acme-jira", "-n", NS)["metadata"]["annotations"]
    assert opt_in["jiradrift.io/allowed-tenants"] == "acme"
    plane.kubectl("apply", "-f", "-", input=tenant)
    listed = plane.kubectl("get", "jiratenants,snapshots", "-n", NS).stdout
    assert "acme" in listed and "https://acme.atlassian.net" in listed
    assert plane.kubectl("get", "jiradrift", "-A").returncode == 0  # the category works

    deployment = _json(plane, "get", "deploy/drift-jira-drift-operator", "-n", NS)
    assert f"--namespace={NS}" in deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert plane.kubectl("get", "role", "-n", "team-x", "-l", "app.kubernetes.io/instance=drift").stdout == ""

    # Upgrade to changed values: a second namespace, another schedule, no metrics Service.
    plane.helm(
        "upgrade",
        "drift",
        str(CHART),
        "--namespace",
        NS,
        "--set",
        f"watchNamespaces={{{NS},team-x}}",
        "--set",
        "tokenRefresh.schedule=15 */6 * * *",
        "--set",
        "metrics.enabled=false",
    )
    args = _json(plane, "get", "deploy/drift-jira-drift-operator", "-n", NS)["spec"]["template"]["spec"]["containers"][
        0
    ]["args"]
    assert f"--namespace={NS}" in args and "--namespace=team-x" in args and "--metrics-port=0" in args
    roles = _json(plane, "get", "role", "-n", "team-x", "-l", "app.kubernetes.io/instance=drift")["items"]
    assert len(roles) == 2  # operator and token job
    cron = _json(plane, "get", "cronjob/drift-jira-drift-operator-token-refresh", "-n", NS)
    assert cron["spec"]["schedule"] == "15 */6 * * *"
    missing = plane.kubectl("get", "service/drift-jira-drift-operator-metrics", "-n", NS, check=False)
    assert missing.returncode != 0 and "NotFound" in missing.stderr
    history = json.loads(plane.helm("history", "drift", "--namespace", NS, "-o", "json").stdout)
    assert [h["status"] for h in history] == ["superseded", "deployed"]

    plane.helm("uninstall", "drift", "--namespace", NS)
    for kind in ("deploy", "cronjob", "sa", "role", "rolebinding"):
        leftover = plane.kubectl("get", kind, "-A", "-l", "app.kubernetes.io/instance=drift", "-o", "name").stdout
        assert leftover == "", f"{kind} left behind: {leftover}"
    assert plane.kubectl("get", "validatingadmissionpolicies", "-o", "name").stdout == ""
    # Kept: the CRDs, the tenant, and the tenant's Secret.
    plane.kubectl("get", *CRDS)
    assert _json(plane, "get", "jiratenant/acme", "-n", NS)["spec"]["auth"]["apiToken"]["secretRef"] == {
        "name": "acme-jira"
    }
    assert _json(plane, "get", "secret/acme-jira", "-n", NS)["data"]["email"]

    # Reinstalling the same release adopts the kept CRDs.
    plane.helm("install", "drift", str(CHART), "--namespace", NS)
    assert "acme" in plane.kubectl("get", "jiratenants", "-n", NS).stdout
    plane.helm("uninstall", "drift", "--namespace", NS)
