"""``jiradrift demo``: the whole path on an embedded default, in one command.

A local control plane (real kube-apiserver + etcd), the Jira emulator, the operator as its own
process; a JiraTenant is applied, becomes Ready and snapshots; the emulator's configuration is
changed; a new Snapshot shows the drift in ``kubectl get`` and ``jiradrift drift list``.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import typer

from jiradrift.dev.controlplane import ControlPlane, install_crds, wait_crds_established
from jiradrift.dev.operator_process import running_operator, wait_for
from jiradrift.k8s.credentials import ALLOWED_TENANTS_ANNOTATION

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
    workdir: Path | None = typer.Option(None, help="Where to keep certificates, logs and kubeconfig."),
    chart: bool = typer.Option(
        True, help="Install with the Helm chart (CRDs, RBAC) and run the operator as its ServiceAccount."
    ),
) -> None:
    """Run the demo: control plane + Jira emulator + operator, then show a real drift."""
    from jiradrift.sim import Emulator

    root = workdir or Path(tempfile.mkdtemp(prefix="jiradrift-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    _step("Starting a local control plane (kube-apiserver + etcd built from Go modules)")
    with ControlPlane.start(root / "cluster") as plane, Emulator(size=size, seed=7).running() as jira:
        typer.echo(f"kube-apiserver {plane.url}; kubeconfig {plane.kubeconfig}")
        typer.echo(f"Jira emulator  {jira.base_url} (size {size})")
        plane.kubectl("create", "namespace", NAMESPACE)
        kubeconfig = None
        chart_dir = Path(__file__).resolve().parents[3] / "charts" / "jira-drift-operator"
        if chart and chart_dir.exists():
            _step("helm install jira-drift-operator (CRDs, ServiceAccounts, least-privilege RBAC)")
            # The emulator listens on loopback: allowed here, as an admin allows their Jira sites.
            plane.helm(
                "install",
                "jira-drift-operator",
                str(chart_dir),
                "-n",
                NAMESPACE,
                "--wait=false",
                "--set",
                "allowedHosts={127.0.0.1}",
            )
            wait_crds_established(plane)
            kubeconfig = plane.service_account_kubeconfig(NAMESPACE, "jira-drift-operator")
            typer.echo("the operator will run with the chart's ServiceAccount permissions")
        else:
            _step("Installing the CRDs")
            install_crds(plane, root / "crds")

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

        _step("Starting the operator (jiradrift run)")
        with running_operator(plane, [NAMESPACE], root / "operator", kubeconfig=kubeconfig, tenant_interval=3) as op:
            wait_for(
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
                op=op,
                timeout=120,
            )
            wait_for(
                lambda: _phases(plane) == ["Completed"] * 3,
                "first three Snapshots Completed",
                op=op,
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
            wait_for(
                lambda: (
                    "Completed"
                    in plane.kubectl(
                        "get",
                        "snap",
                        "acme-workflows-after-change",
                        "-n",
                        NAMESPACE,
                        "-o",
                        "jsonpath={.status.phase}",
                    ).stdout
                ),
                "manual Snapshot Completed",
                op=op,
                timeout=120,
            )
            _show(plane, "get", "jiratenants,snapshots", "-n", NAMESPACE)
            _step("The drift as an admin sees it: the Event on the JiraTenant and the Snapshot's status")
            _show(plane, "get", "events", "-n", NAMESPACE, "--field-selector", "reason=DriftDetected")
            _show(
                plane,
                "get",
                "snap",
                "acme-workflows-after-change",
                "-n",
                NAMESPACE,
                "-o",
                'jsonpath={.status.message}{"\\n"}'
                '{range .status.drift.changes[*]}{.op} {.key} ({.name}) {.path} ({.severity}) {.changedBy}{"\\n"}{end}',
            )

            _step(f"jiradrift drift list --tenant {NAMESPACE}/acme")
            cli = [
                sys.executable,
                "-m",
                "jiradrift",
                "drift",
                "list",
                "--tenant",
                f"{NAMESPACE}/acme",
                "--limit",
                "10",
            ]
            env_kube = {"KUBECONFIG": str(plane.kubeconfig), "COLUMNS": "160"}
            result = subprocess.run(cli, capture_output=True, text=True, env={**_environ(), **env_kube}, check=False)
            typer.echo(result.stdout.rstrip() or result.stderr.rstrip())

            typer.secho(f"\nDemo finished in {time.monotonic() - started:.0f}s.", fg=typer.colors.GREEN, bold=True)
            if keep:
                typer.echo(f"export KUBECONFIG={plane.kubeconfig}   # Ctrl-C to stop")
                try:
                    while op.proc.poll() is None:
                        time.sleep(1)
                except KeyboardInterrupt:
                    pass
    if workdir is None and not keep:
        shutil.rmtree(root, ignore_errors=True)


def _phases(plane: ControlPlane) -> list[str]:
    out = plane.kubectl("get", "snap", "-n", NAMESPACE, "-o", "jsonpath={.items[*].status.phase}").stdout
    return out.split()


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _environ() -> dict[str, str]:
    import os

    return dict(os.environ)
