"""``jiradrift demo``: the whole path on an embedded default, in one command.

A real single-node cluster (``jiradrift.dev.node``), the operator image built from the Dockerfile, and
``helm install`` of the chart, so the operator runs as the chart's pod exactly as in a cluster; the
Jira emulator serves TLS on the node's bridge as ``https://jira.emulator.test``. A JiraTenant is
applied, becomes Ready and snapshots; the emulator's configuration is changed; a new Snapshot shows
the drift in ``kubectl get`` and ``jiradrift drift list``. Then the accept flow: the first snapshot
of each type was accepted by the operator, so the tenant turns ``Drifted=True`` (Unaccepted and
Severity columns); ``jiradrift drift list --unaccepted`` lists the outstanding changes and
``jiradrift accept`` makes the newest snapshots the baseline, after which ``Drifted=False``.
Needs root (a node changes host state, all of it undone on exit).
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import typer

from jiradrift.dev.controlplane import REPO_ROOT, ControlPlane
from jiradrift.dev.node import Cluster, build_operator_image
from jiradrift.dev.tls_jira import TlsJira, chart_values, tls_emulator
from jiradrift.k8s.credentials import ALLOWED_TENANTS_ANNOTATION
from jiradrift.snapshot.baseline import LABEL_ACCEPTED

NAMESPACE = "jira-demo"


def _step(text: str) -> None:
    typer.secho(f"\n==> {text}", fg=typer.colors.CYAN, bold=True)


def _show(plane: ControlPlane, *args: str) -> str:
    out = plane.kubectl(*args).stdout
    typer.echo(out.rstrip())
    return out


def demo_command(
    size: str = typer.Option("small", help="Emulated site size: small, medium, large, xl."),
    keep: bool = typer.Option(False, help="Keep everything running until Ctrl-C at the end."),
) -> None:
    """Run the demo: a real node, the chart's operator pod, the Jira emulator, then a real drift."""
    started = time.monotonic()
    _step("Starting a single-node cluster (Kubernetes from Go modules; containerd, runc, CNI from Debian)")
    with Cluster.start() as cluster:
        plane = cluster.plane
        typer.echo(f"kube-apiserver {plane.url}; kubeconfig {plane.kubeconfig}")
        _step("Building the operator image from the Dockerfile (cached) and loading it into the node")
        tarball, image = build_operator_image(REPO_ROOT)
        cluster.import_image(tarball)
        typer.echo(f"image {image}")
        with tls_emulator(size=size, seed=7) as jira:
            _demo(plane, jira, image, size, keep, started)


def _demo(plane: ControlPlane, tls: TlsJira, image: str, size: str, keep: bool, started: float) -> None:
    jira = tls.sim
    typer.echo(f"Jira emulator  {jira.base_url} (size {size}; TLS with a demo CA, on the node's bridge)")
    plane.kubectl("create", "namespace", NAMESPACE)
    plane.kubectl("create", "configmap", "jira-ca", "-n", NAMESPACE, f"--from-literal=ca.crt={tls.ca_pem}")
    _step("helm install jira-drift-operator: the operator runs as the chart's pod")
    # The admin allows the site's host, trusts its CA and names its address (no DNS for it here).
    plane.helm(
        "install",
        "jira-drift-operator",
        str(REPO_ROOT / "charts" / "jira-drift-operator"),
        "-n",
        NAMESPACE,
        *chart_values(tls, image),
        "--wait",
        "--timeout=180s",
    )
    _show(plane, "get", "pods", "-n", NAMESPACE)

    _step("Applying a Secret and a JiraTenant")
    creds = jira.credentials
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        # The Secret opts in to the tenant that may use it; without this the operator refuses it.
        "metadata": {
            "name": "acme-jira",
            "namespace": NAMESPACE,
            "annotations": {ALLOWED_TENANTS_ANNOTATION: "acme"},
        },
        "data": {"email": _b64(creds.email), "token": _b64(creds.api_token)},
    }
    tenant: dict[str, Any] = {
        "apiVersion": "jiradrift.io/v1alpha1",
        "kind": "JiraTenant",
        "metadata": {"name": "acme", "namespace": NAMESPACE},
        "spec": {
            "site": jira.base_url,
            "auth": {"apiToken": {"secretRef": {"name": "acme-jira"}}},
            "schedule": {"interval": "6h"},
            "snapshotTypes": ["workflows", "priorities", "schemes"],
        },
    }
    plane.kubectl("apply", "-f", "-", input=json.dumps(secret))
    plane.kubectl("apply", "-f", "-", input=json.dumps(tenant))
    typer.echo(json.dumps(tenant["spec"], indent=2))

    _wait_for(
        plane,
        lambda: (
            "True"
            in plane.kubectl(
                "get",
                "jt",
                "acme",
                "-n",
                NAMESPACE,
                "-o",
                'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
            ).stdout
        ),
        "JiraTenant Ready",
        timeout=120,
    )
    _wait_for(
        plane,
        lambda: _phases(plane) == ["Completed"] * 3,
        "first three Snapshots Completed",
        timeout=180,
    )
    _show(plane, "get", "jiratenants,snapshots", "-n", NAMESPACE)

    _step("Changing the Jira site through the emulator's admin API: a workflow's description is edited")
    wf = next(w for w in jira.site.workflows if w["scope"]["type"] == "GLOBAL")
    jira.admin.change_workflow(wf["id"], description="Edited by the demo: approvals now required")
    typer.echo(f"changed the description of workflow {wf['name']!r}")

    _step("Taking a manual Snapshot of workflows (kubectl apply)")
    manual = {
        "apiVersion": "jiradrift.io/v1alpha1",
        "kind": "Snapshot",
        "metadata": {"name": "acme-workflows-after-change", "namespace": NAMESPACE},
        "spec": {"tenantRef": {"name": "acme"}, "type": "workflows"},
    }
    plane.kubectl("apply", "-f", "-", input=json.dumps(manual))
    _wait_for(
        plane,
        lambda: _snapshot(plane, "acme-workflows-after-change", "{.status.phase}") == "Completed",
        "manual Snapshot Completed",
        timeout=120,
    )
    _show(plane, "get", "jiratenants,snapshots", "-n", NAMESPACE)
    _step("The drift as an admin sees it: the Event on the JiraTenant and the Snapshot's status")
    _show(plane, "get", "events", "-n", NAMESPACE, "--field-selector", "reason=DriftDetected")
    typer.echo(
        _snapshot(
            plane,
            "acme-workflows-after-change",
            '{.status.message}{"\\n"}'
            '{range .status.drift.changes[*]}{.op} {.key} ({.name}) {.path} ({.severity}) {.changedBy}{"\\n"}{end}',
        )
    )

    tenant_ref = f"--tenant acme -n {NAMESPACE}"
    _step(f"jiradrift drift list {tenant_ref}")
    _cli(plane, "drift", "list", "--tenant", "acme", "-n", NAMESPACE, "--limit", "10")

    _step("Accepted baselines: the first complete snapshot of each type was accepted, so the tenant is Drifted")
    _wait_for(plane, lambda: _drifted(plane) == "True", "JiraTenant Drifted=True", timeout=120)
    _show(plane, "get", "jt", "-n", NAMESPACE)
    _show_drifted(plane)
    _show(plane, "get", "snap", "-n", NAMESPACE, "-L", LABEL_ACCEPTED)

    _step(f"jiradrift drift list {tenant_ref} --unaccepted: the outstanding changes, with attribution")
    _cli(plane, "drift", "list", "--tenant", "acme", "-n", NAMESPACE, "--unaccepted")

    _step(f"jiradrift accept acme -n {NAMESPACE}: the newest snapshots become the baseline")
    _cli(plane, "accept", "acme", "-n", NAMESPACE)
    _wait_for(plane, lambda: _drifted(plane) == "False", "JiraTenant Drifted=False after accept", timeout=120)
    _show(plane, "get", "jt", "-n", NAMESPACE)
    _show_drifted(plane)

    typer.secho(f"\nDemo finished in {time.monotonic() - started:.0f}s.", fg=typer.colors.GREEN, bold=True)
    if keep:
        typer.echo(f"export KUBECONFIG={plane.kubeconfig}   # Ctrl-C to stop")
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass


def _cli(plane: ControlPlane, *args: str) -> None:
    """Run ``jiradrift ARGS`` against the demo cluster as the admin would, and show its output."""
    env = {**_environ(), "KUBECONFIG": str(plane.kubeconfig), "COLUMNS": "160"}
    result = subprocess.run(
        [sys.executable, "-m", "jiradrift", *args], capture_output=True, text=True, env=env, check=False
    )
    typer.echo(result.stdout.rstrip() or result.stderr.rstrip())
    if result.returncode != 0:
        raise typer.Exit(_fail(f"jiradrift {' '.join(args)}: exit {result.returncode}\n{result.stderr[-2000:]}"))


_DRIFTED = '{.status.conditions[?(@.type=="Drifted")]'


def _drifted(plane: ControlPlane) -> str:
    jsonpath = f"jsonpath={_DRIFTED}.status}}"
    return plane.kubectl("get", "jt", "acme", "-n", NAMESPACE, "-o", jsonpath).stdout.strip()


def _show_drifted(plane: ControlPlane) -> None:
    jsonpath = f'jsonpath=Drifted={_DRIFTED}.status}} ({_DRIFTED}.reason}}): {_DRIFTED}.message}}{{"\\n"}}'
    _show(plane, "get", "jt", "acme", "-n", NAMESPACE, "-o", jsonpath)


def _wait_for(plane: ControlPlane, check: Callable[[], bool], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pods = plane.kubectl("get", "pods,jt,snap", "-n", NAMESPACE, check=False).stdout
            logs = plane.kubectl("logs", "-n", NAMESPACE, "deploy/jira-drift-operator", "--tail=30", check=False)
            raise typer.Exit(_fail(f"{what}: not after {timeout:.0f}s\n{pods}\n{logs.stdout}"))
        time.sleep(0.5)


def _fail(message: str) -> int:
    typer.secho(message, fg=typer.colors.RED, err=True)
    return 1


def _snapshot(plane: ControlPlane, name: str, jsonpath: str) -> str:
    return plane.kubectl("get", "snap", name, "-n", NAMESPACE, "-o", f"jsonpath={jsonpath}").stdout.rstrip()


def _phases(plane: ControlPlane) -> list[str]:
    out = plane.kubectl("get", "snap", "-n", NAMESPACE, "-o", "jsonpath={.items[*].status.phase}").stdout
    return out.split()


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _environ() -> dict[str, str]:
    import os

    return dict(os.environ)
