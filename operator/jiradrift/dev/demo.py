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

``jiradrift demo --context NAME`` runs the same flow on a cluster the user already has (kind, k3d,
minikube, any kubectl context; ``jiradrift.dev.kubecontext``): no root and no Kubernetes build; the
chart runs the emulator as a pod (``emulator.enabled``) and the operator reaches it by name, as above.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import typer

from jiradrift.api.baseline import LABEL_ACCEPTED
from jiradrift.api.credentials import ALLOWED_TENANTS_ANNOTATION
from jiradrift.dev.controlplane import REPO_ROOT, ControlPlane
from jiradrift.dev.kubecontext import ContextCluster, ContextError, build_image
from jiradrift.dev.node import Cluster, build_operator_image
from jiradrift.dev.tls_jira import TlsJira, chart_values, tls_emulator

NAMESPACE = "jira-demo"
EMULATOR_HOST = "jira.emulator.test"
DEMO_EDIT = "Edited by the demo: approvals now required"
RELEASE = "jira-drift-operator"
# The chart's emulator objects for release RELEASE (templates/emulator.yaml).
EMULATOR = f"{RELEASE}-jira-emulator"


class DemoCluster(Protocol):
    """What the demo needs of a cluster: the node's ControlPlane, or a kubectl context (``ContextCluster``)."""

    @property
    def kubeconfig(self) -> Path: ...

    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]: ...

    def helm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]: ...


def _step(text: str) -> None:
    typer.secho(f"\n==> {text}", fg=typer.colors.CYAN, bold=True)


def _show(plane: DemoCluster, *args: str) -> str:
    out = plane.kubectl(*args).stdout
    typer.echo(out.rstrip())
    return out


def demo_command(
    size: str = typer.Option("small", help="Emulated site size: small, medium, large, xl."),
    keep: bool = typer.Option(False, help="Keep everything running until Ctrl-C at the end."),
    context: str = typer.Option(
        "",
        help="Run against this kubectl context (kind, k3d, minikube, any cluster) instead of a local node: "
        "the emulator runs as a pod from the chart; no root, no Kubernetes build. Needs kubectl and helm.",
    ),
    image: str = typer.Option("", help="With --context: the operator image to use instead of building one."),
    emulator_image: str = typer.Option("", help="With --context: the emulator image to use instead of building one."),
) -> None:
    """Run the demo: a real node, the chart's operator pod, the Jira emulator, then a real drift."""
    started = time.monotonic()
    if context:
        try:
            _demo_on_context(context, image, emulator_image, size, keep, started)
        except ContextError as err:
            raise typer.Exit(_fail(str(err))) from None
        return
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


def _demo(plane: DemoCluster, tls: TlsJira, image: str, size: str, keep: bool, started: float) -> None:
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
    wf = next(w for w in jira.site.workflows if w["scope"]["type"] == "GLOBAL")

    def change() -> None:
        jira.admin.change_workflow(wf["id"], description=DEMO_EDIT)

    _apply_secret(plane, creds.email, creds.api_token)
    tenant_flow(plane, jira.base_url, "acme-jira", str(wf["name"]), change, keep, started)


def _apply_secret(plane: DemoCluster, email: str, token: str) -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        # The Secret opts in to the tenant that may use it; without this the operator refuses it.
        "metadata": {
            "name": "acme-jira",
            "namespace": NAMESPACE,
            "annotations": {ALLOWED_TENANTS_ANNOTATION: "acme"},
        },
        "data": {"email": _b64(email), "token": _b64(token)},
    }
    plane.kubectl("apply", "-f", "-", input=json.dumps(secret))


def tenant_flow(
    plane: DemoCluster,
    site: str,
    secret_name: str,
    workflow_name: str,
    change: Callable[[], None],
    keep: bool,
    started: float,
) -> None:
    """From a JiraTenant to an accepted drift: the part of the demo every cluster shares."""
    tenant: dict[str, Any] = {
        "apiVersion": "jiradrift.io/v1alpha1",
        "kind": "JiraTenant",
        "metadata": {"name": "acme", "namespace": NAMESPACE},
        "spec": {
            "site": site,
            "auth": {"apiToken": {"secretRef": {"name": secret_name}}},
            "schedule": {"interval": "6h"},
            "snapshotTypes": ["workflows", "priorities", "schemes"],
        },
    }
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
    change()
    typer.echo(f"changed the description of workflow {workflow_name!r}")

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
    if keep and not isinstance(plane, ControlPlane):
        typer.echo(f"export KUBECONFIG={plane.kubeconfig}   # the demo stays in namespace {NAMESPACE}")
    elif keep:
        typer.echo(f"export KUBECONFIG={plane.kubeconfig}   # Ctrl-C to stop")
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass


def _demo_on_context(context: str, image: str, emulator_image: str, size: str, keep: bool, started: float) -> None:
    """The demo on a cluster the user already has: the chart runs the operator and the emulator as pods."""
    _step(f"Using kubectl context {context!r}")
    cluster = ContextCluster.open(context, Path(tempfile.mkdtemp(prefix="jiradrift-demo-")))
    _show(cluster, "get", "nodes")
    images = {"operator": image, "emulator": emulator_image}
    for kind, dockerfile in (("operator", "Dockerfile"), ("emulator", "Dockerfile.emulator")):
        if not images[kind]:
            images[kind] = f"jira-drift-{kind}:demo"
            _step(f"Building the {kind} image from {dockerfile}")
            build_image(REPO_ROOT / dockerfile, images[kind], REPO_ROOT)
            typer.echo(cluster.load_image(images[kind]))
    op_repo, op_tag = images["operator"].rsplit(":", 1)
    em_repo, em_tag = images["emulator"].rsplit(":", 1)
    cluster.kubectl("create", "namespace", NAMESPACE)
    try:
        _step("helm install jira-drift-operator with the chart's Jira emulator (emulator.enabled=true)")
        chart = str(REPO_ROOT / "charts" / "jira-drift-operator")
        common = [
            *("-n", NAMESPACE, "--wait", "--timeout=300s"),
            *("--set", f"image.repository={op_repo}", "--set", f"image.tag={op_tag}"),
            *("--set", "emulator.enabled=true", "--set", f"emulator.size={size}"),
            *("--set", f"emulator.image.repository={em_repo}", "--set", f"emulator.image.tag={em_tag}"),
        ]
        cluster.helm("install", RELEASE, chart, *common)
        ip = cluster.kubectl("get", "service", EMULATOR, "-n", NAMESPACE, "-o", "jsonpath={.spec.clusterIP}").stdout
        _step(
            f"Letting the operator reach https://{EMULATOR_HOST} ({ip}): allowedHosts, its CA, a hostAliases entry, "
            "and allowedNetworks (a Service address is private: the operator refuses private addresses unless allowed)"
        )
        cluster.helm(
            "upgrade",
            RELEASE,
            chart,
            *common,
            *("--set", f"allowedHosts={{{EMULATOR_HOST}}}"),
            *("--set", f"extraCACertificates.configMap={EMULATOR}-ca"),
            *("--set", f"hostAliases[0].ip={ip}", "--set", f"hostAliases[0].hostnames[0]={EMULATOR_HOST}"),
            *("--set", f"allowedNetworks={{{ip}/32}}"),
        )
        _show(cluster, "get", "pods", "-n", NAMESPACE)

        def change() -> None:
            # The emulator's admin API, from inside its pod: nothing is exposed outside the cluster.
            body = json.dumps({"workflow": "jira", "description": DEMO_EDIT})
            script = (
                "import ssl,sys,urllib.request as u;"
                "r=u.Request('https://127.0.0.1:8443/_sim/admin/change_workflow',method='POST',"
                "headers={'content-type':'application/json'},data=sys.argv[1].encode());"
                "u.urlopen(r,context=ssl._create_unverified_context()).read()"
            )
            cluster.kubectl("exec", "-n", NAMESPACE, f"deploy/{EMULATOR}", "--", "python3", "-c", script, body)

        tenant_flow(cluster, f"https://{EMULATOR_HOST}", f"{EMULATOR}-credentials", "jira", change, keep, started)
    finally:
        if not keep:
            _step("Removing the demo: helm uninstall and the namespace (--keep leaves them)")
            cluster.helm("uninstall", RELEASE, "-n", NAMESPACE, "--wait", check=False)
            cluster.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


def _cli(plane: DemoCluster, *args: str) -> None:
    """Run ``jiradrift ARGS`` against the demo cluster as the admin would, and show its output."""
    env = {**_environ(), "KUBECONFIG": str(plane.kubeconfig), "COLUMNS": "160"}
    result = subprocess.run(
        [sys.executable, "-m", "jiradrift", *args], capture_output=True, text=True, env=env, check=False
    )
    typer.echo(result.stdout.rstrip() or result.stderr.rstrip())
    if result.returncode != 0:
        raise typer.Exit(_fail(f"jiradrift {' '.join(args)}: exit {result.returncode}\n{result.stderr[-2000:]}"))


_DRIFTED = '{.status.conditions[?(@.type=="Drifted")]'


def _drifted(plane: DemoCluster) -> str:
    jsonpath = f"jsonpath={_DRIFTED}.status}}"
    return plane.kubectl("get", "jt", "acme", "-n", NAMESPACE, "-o", jsonpath).stdout.strip()


def _show_drifted(plane: DemoCluster) -> None:
    jsonpath = f'jsonpath=Drifted={_DRIFTED}.status}} ({_DRIFTED}.reason}}): {_DRIFTED}.message}}{{"\\n"}}'
    _show(plane, "get", "jt", "acme", "-n", NAMESPACE, "-o", jsonpath)


def _wait_for(plane: DemoCluster, check: Callable[[], bool], what: str, timeout: float) -> None:
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


def _snapshot(plane: DemoCluster, name: str, jsonpath: str) -> str:
    return plane.kubectl("get", "snap", name, "-n", NAMESPACE, "-o", f"jsonpath={jsonpath}").stdout.rstrip()


def _phases(plane: DemoCluster) -> list[str]:
    out = plane.kubectl("get", "snap", "-n", NAMESPACE, "-o", "jsonpath={.items[*].status.phase}").stdout
    return out.split()


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _environ() -> dict[str, str]:
    import os

    return dict(os.environ)
