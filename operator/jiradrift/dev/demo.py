"""``jiradrift demo``: the whole path on an embedded default, in one command.

A real single-node cluster (``jiradrift.dev.node``), the operator image built from the Dockerfile, and
``helm install`` of the chart, so the operator runs as the chart's pod exactly as in a cluster; the
Jira emulator serves TLS on the node's bridge as ``https://jira.emulator.test``, and its sandbox (the
site derived from it: same names, other ids, known differences) as ``https://sandbox.emulator.test:8443``.
A git server runs as a pod (``jiradrift.dev.gitpod``: smart HTTP over HTTPS with a token).

The JiraTenant ``acme`` has incremental windows every minute and ``spec.history`` on that git server;
``acme-sandbox`` watches the sandbox. After the first full captures the emulator's configuration is
changed; the next incremental window reports it as an ``Incremental`` Snapshot (MODE column,
``status.capture``) with its drift, its audit attribution and the projects it affects, shown by
``kubectl get`` and ``jiradrift drift list``. Then the accept flow: the first snapshot of each type was
accepted by the operator, so the tenant turns ``Drifted=True``; ``jiradrift accept`` makes the newest
snapshots the baseline, after which ``Drifted=False``. The change is a commit on the git server whose
author is the Jira user the audit log names (``git log``). Last, a SiteComparison of ``acme`` with
``acme-sandbox``: ``InSync=False`` and the differences with the projects they affect
(``kubectl get sitecomparisons``, ``jiradrift comparison-report``). Every wait is on a condition,
bounded. Needs root (a node changes host state, all of it undone on exit).

``jiradrift demo --context NAME`` runs the same flow on a cluster the user already has (kind, k3d,
minikube, any kubectl context; ``jiradrift.dev.kubecontext``): no root and no Kubernetes build; the
chart runs the emulator as a pod (``emulator.enabled``), the demo runs the sandbox
(``jiradrift.dev.sandbox_pod``) and the git server as pods, and the operator reaches them by name.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import typer

from jiradrift.api.credentials import ALLOWED_TENANTS_ANNOTATION
from jiradrift.dev.controlplane import REPO_ROOT, ControlPlane
from jiradrift.dev.gitpod import GIT_HOST, GitPod, start_git_pod
from jiradrift.dev.kubecontext import ContextCluster, ContextError, build_image
from jiradrift.dev.node import Cluster, build_operator_image
from jiradrift.dev.sandbox_pod import SANDBOX_HOST, SANDBOX_NAME, start_sandbox_pod
from jiradrift.dev.tls_jira import TlsJira, chart_values, tls_emulators
from jiradrift.sim.variant import RENAMED_GROUP

NAMESPACE = "jira-demo"
EMULATOR_HOST = "jira.emulator.test"
DEMO_EDIT = "Edited by the demo: approvals now required"
RELEASE = "jira-drift-operator"
# The chart's emulator objects for release RELEASE (templates/emulator.yaml).
EMULATOR = f"{RELEASE}-jira-emulator"
TYPES = ["workflows", "priorities", "schemes", "projects"]  # projects: what each change affects
SANDBOX = "acme-sandbox"
COMPARISON = "acme-vs-sandbox"


@dataclass(frozen=True)
class Extras:
    """What the demo shows beyond the drift, when the cluster has it: the sandbox site for a
    SiteComparison (its URL and credentials Secret) and the git server for spec.history."""

    sandbox_site: str | None = None
    sandbox_secret: str | None = None
    git: GitPod | None = None


class DemoCluster(Protocol):
    """What the demo needs of a cluster: the node's ControlPlane, or a kubectl context (``ContextCluster``)."""

    @property
    def kubeconfig(self) -> Path: ...

    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]: ...

    def helm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]: ...


_STARTED = [time.monotonic()]  # when the demo started: each step says how long it has run


def _step(text: str) -> None:
    typer.secho(f"\n==> {text}  [{time.monotonic() - _STARTED[0]:.0f}s]", fg=typer.colors.CYAN, bold=True)


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
    started = _STARTED[0] = time.monotonic()
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
        with tls_emulators(size=size, seed=7) as (jira, sandbox):
            _demo(plane, jira, sandbox, image, size, keep, started)


def _demo(
    plane: DemoCluster, tls: TlsJira, sandbox: TlsJira, image: str, size: str, keep: bool, started: float
) -> None:
    jira = tls.sim
    typer.echo(f"Jira emulator  {jira.base_url} (size {size}; TLS with a demo CA, on the node's bridge)")
    typer.echo(f"its sandbox    {sandbox.sim.base_url} (derived from it: same names, other ids, known differences)")
    plane.kubectl("create", "namespace", NAMESPACE)
    plane.kubectl("create", "configmap", "jira-ca", "-n", NAMESPACE, f"--from-literal=ca.crt={tls.ca_pem}")
    git = _git_server(plane, image, pull_never=True)
    _step("helm install jira-drift-operator: the operator runs as the chart's pod")
    # The admin allows the sites' hosts and the git host, trusts the sites' CA and names their
    # addresses (no DNS for them here).
    plane.helm(
        "install",
        "jira-drift-operator",
        str(REPO_ROOT / "charts" / "jira-drift-operator"),
        "-n",
        NAMESPACE,
        *chart_values(tls, image, also=(sandbox,)),
        *_git_values(git, 1),
        "--wait",
        "--timeout=180s",
    )
    _show(plane, "get", "pods", "-n", NAMESPACE)

    _step("Applying a Secret and a JiraTenant")
    creds = jira.credentials
    wf = next(w for w in jira.site.workflows if w["scope"]["type"] == "GLOBAL")

    def change() -> None:
        jira.admin.change_workflow(wf["id"], description=DEMO_EDIT)

    _apply_secret(plane, "acme-jira", "acme", {"email": creds.email, "token": creds.api_token})
    screds = sandbox.sim.credentials
    _apply_secret(plane, "acme-sandbox-jira", SANDBOX, {"email": screds.email, "token": screds.api_token})
    extras = Extras(sandbox.sim.base_url, "acme-sandbox-jira", git)
    tenant_flow(plane, jira.base_url, "acme-jira", str(wf["name"]), change, keep, started, extras)


def _git_server(plane: DemoCluster, image: str, pull_never: bool) -> GitPod:
    _step(
        f"A git server on the cluster for spec.history: git's smart HTTP over HTTPS with a token, as https://{GIT_HOST}"
    )
    typer.echo("(a pod from the operator's image, which has git: git http-backend behind a small HTTPS server)")
    git = start_git_pod(plane, NAMESPACE, image, pull_never=pull_never)
    _show(plane, "get", "pod,service", "git-server", "-n", NAMESPACE)
    return git


def _git_values(git: GitPod, alias: int) -> list[str]:
    """The admin allows the git host for history (history.allowedHosts) and names its address."""
    return [
        *("--set", f"history.allowedHosts={{{GIT_HOST}}}"),
        *("--set", f"hostAliases[{alias}].ip={git.ip}", "--set", f"hostAliases[{alias}].hostnames[0]={GIT_HOST}"),
    ]


def _apply_secret(plane: DemoCluster, name: str, tenant: str, data: dict[str, str]) -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        # The Secret opts in to the tenant that may use it; without this the operator refuses it.
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "annotations": {ALLOWED_TENANTS_ANNOTATION: tenant},
        },
        "data": {k: _b64(v) for k, v in data.items()},
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
    extras: Extras | None = None,
) -> None:
    """From a JiraTenant to an accepted drift: the part of the demo every cluster shares."""
    extras = extras or Extras()
    spec: dict[str, Any] = {
        "site": site,
        "auth": {"apiToken": {"secretRef": {"name": secret_name}}},
        # Full captures every 6 h; in between, incremental windows every minute (the least the CRD allows).
        "schedule": {"interval": "6h", "incremental": {"enabled": True, "interval": "1m"}},
        "snapshotTypes": TYPES,
    }
    if extras.git is not None:
        _apply_secret(plane, "acme-history", "acme", extras.git.secret_data())
        spec["history"] = {
            "repository": extras.git.url,
            "branch": "main",
            "pathPrefix": "jira/acme",
            "secretRef": {"name": "acme-history"},
        }
    tenants = [_tenant("acme", spec)]
    if extras.sandbox_site and extras.sandbox_secret:
        sandbox_spec = {
            "site": extras.sandbox_site,
            "auth": {"apiToken": {"secretRef": {"name": extras.sandbox_secret}}},
            "schedule": {"interval": "6h"},
            "snapshotTypes": TYPES,
        }
        tenants.append(_tenant(SANDBOX, sandbox_spec))
    for tenant in tenants:
        plane.kubectl("apply", "-f", "-", input=json.dumps(tenant))
        typer.echo(f"JiraTenant {tenant['metadata']['name']}: {json.dumps(tenant['spec'], indent=2)}")

    names = [str(tenant["metadata"]["name"]) for tenant in tenants]
    for name in names:
        _wait_for(plane, partial(_is_ready, plane, name), f"JiraTenant {name} Ready", timeout=120)
    for name in names:
        what = f"the first {len(TYPES)} Snapshots of {name} Completed (full captures)"
        _wait_for(plane, partial(_captured, plane, name), what, timeout=240)
    _show(plane, "get", "jiratenants,snapshots", "-n", NAMESPACE)
    # The first full captures are the accepted baselines: wait for that before changing the site.
    _wait_for(plane, lambda: _drifted(plane) == "False", "JiraTenant acme Drifted=False (baselines accepted)", 120)

    _step("Changing the Jira site through the emulator's admin API: a workflow's description is edited")
    change()
    changed_at = time.monotonic()
    typer.echo(f"changed the description of workflow {workflow_name!r}")

    _step("An incremental window (every minute) reads the audit log and probes, re-reads only what changed")
    incremental = _wait_for_value(plane, _incremental_snapshot, "an Incremental Snapshot Completed", timeout=240)
    typer.echo(f"detected by an incremental window {time.monotonic() - changed_at:.0f}s after the change")
    _show(plane, "get", "snapshots", "-n", NAMESPACE, "-l", "jiradrift.io/tenant=acme")
    typer.echo(
        _snapshot(
            plane,
            incremental,
            "Snapshot {.metadata.name}: reason {.spec.reason}, status.capture mode {.status.capture.mode}, "
            'reread {.status.capture.reread} of {.status.itemCount} objects{"\\n"}',
        )
    )
    _step("The drift as an admin sees it: the Event on the JiraTenant and the Snapshot's status")
    _show(plane, "get", "events", "-n", NAMESPACE, "--field-selector", "reason=DriftDetected")
    typer.echo(
        _snapshot(
            plane,
            incremental,
            '{.status.message}{"\\n"}'
            "{range .status.drift.changes[*]}{.op} {.key} ({.name}) {.path} ({.severity}) "
            '{.changedBy}; affects {.affects.count} project(s): {.affects.first[*]}{"\\n"}{end}',
        )
    )

    tenant_ref = f"--tenant acme -n {NAMESPACE}"
    _step(f"jiradrift drift list {tenant_ref}")
    _cli(plane, "drift", "list", "--tenant", "acme", "-n", NAMESPACE, "--limit", "10")

    _step("Accepted baselines: the first complete snapshot of each type was accepted, so the tenant is Drifted")
    _wait_for(plane, lambda: _drifted(plane) == "True", "JiraTenant Drifted=True", timeout=120)
    _show(plane, "get", "jt", "-n", NAMESPACE)
    _show_drifted(plane)
    _show(plane, "get", "snap", "-n", NAMESPACE, "-l", "jiradrift.io/tenant=acme")  # the ACCEPTED column

    _step(f"jiradrift drift list {tenant_ref} --unaccepted: the outstanding changes, with attribution")
    _cli(plane, "drift", "list", "--tenant", "acme", "-n", NAMESPACE, "--unaccepted")

    _step(f"jiradrift accept acme -n {NAMESPACE}: the newest snapshots become the baseline")
    _cli(plane, "accept", "acme", "-n", NAMESPACE)
    _wait_for(plane, lambda: _drifted(plane) == "False", "JiraTenant Drifted=False after accept", timeout=120)
    _show(plane, "get", "jt", "-n", NAMESPACE)
    _show_drifted(plane)

    if extras.git is not None:
        _history(plane, extras.git, incremental)
    if len(tenants) > 1:
        _comparison(plane, workflow_name)

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


def _is_ready(plane: DemoCluster, tenant: str) -> bool:
    return _condition(plane, tenant, "Ready") == "True"


def _captured(plane: DemoCluster, tenant: str) -> bool:
    return _phases(plane, tenant) == ["Completed"] * len(TYPES)


def _tenant(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "jiradrift.io/v1alpha1",
        "kind": "JiraTenant",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": spec,
    }


def _incremental_snapshot(plane: DemoCluster) -> str | None:
    """The name of acme's Incremental Snapshot once it is Completed (None before)."""
    out = plane.kubectl(
        "get",
        "snap",
        "-n",
        NAMESPACE,
        "-l",
        "jiradrift.io/tenant=acme",
        "-o",
        'jsonpath={range .items[?(@.spec.reason=="Incremental")]}{.metadata.name} {.status.phase}{"\\n"}{end}',
    ).stdout
    done = [line.split()[0] for line in out.splitlines() if line.endswith(" Completed")]
    return done[0] if done else None


def _history(plane: DemoCluster, git: GitPod, snapshot: str) -> None:
    _step(f"spec.history: each Snapshot with changes is one commit, pushed to {git.url}")
    _wait_for(
        plane,
        lambda: _tenant_field(plane, "acme", "{.status.history.lastSnapshot}") == snapshot,
        f"the operator pushed {snapshot} (status.history.lastSnapshot)",
        timeout=120,
    )
    typer.echo(
        _tenant_field(
            plane,
            "acme",
            "status.history: lastCommit {.status.history.lastCommit}, lastSnapshot {.status.history.lastSnapshot}, "
            'lag {.status.history.lag}{"\\n"}',
        )
    )
    typer.echo("$ git log main   # in the git server's pod; author: the Jira user the audit log names")
    typer.echo(git.git(plane, "log", "main", "--format=%h author: %an <%ae>  committer: %cn%n    %s").rstrip())
    typer.echo("\n$ git show --stat main")
    typer.echo(git.git(plane, "show", "--stat", "--format=%B", "main").rstrip())


def _comparison(plane: DemoCluster, workflow_name: str) -> None:
    _step(f"A SiteComparison: is the sandbox ({SANDBOX}) configured like production (acme)?")
    # The sandbox's administrators group has another name: an expected difference, declared once.
    mapping = f"group:{RENAMED_GROUP[0]}={RENAMED_GROUP[1]}"
    comparison = {
        "apiVersion": "jiradrift.io/v1alpha1",
        "kind": "SiteComparison",
        "metadata": {"name": COMPARISON, "namespace": NAMESPACE},
        "spec": {"left": {"name": "acme"}, "right": {"name": SANDBOX}, "mappings": [mapping]},
    }
    plane.kubectl("apply", "-f", "-", input=json.dumps(comparison))
    typer.echo(json.dumps(comparison["spec"], indent=2))
    jsonpath = '{.status.conditions[?(@.type=="InSync")].status}'

    def compared() -> bool:
        out = plane.kubectl("get", "sitecomparisons", COMPARISON, "-n", NAMESPACE, "-o", f"jsonpath={jsonpath}")
        return out.stdout.strip() in ("True", "False")

    _wait_for(plane, compared, f"SiteComparison {COMPARISON} compared (InSync set)", timeout=120)
    _show(plane, "get", "sitecomparisons", "-n", NAMESPACE)
    in_sync = '{.status.conditions[?(@.type=="InSync")]'
    _show(
        plane,
        "get",
        "sitecomparisons",
        COMPARISON,
        "-n",
        NAMESPACE,
        "-o",
        f'jsonpath=InSync={in_sync}.status}} ({in_sync}.reason}}): {in_sync}.message}}{{"\\n"}}',
    )
    _step(f"jiradrift comparison-report {NAMESPACE}/{COMPARISON}: every difference and the projects it affects")
    report = json.loads(_cli_output(plane, "comparison-report", f"{NAMESPACE}/{COMPARISON}"))
    typer.echo(f"in_sync: {report.get('in_sync')}; {len(report.get('changes') or [])} difference(s)")
    for change in report.get("changes") or []:
        where = f"{change['key']} {change.get('path') or ''}".rstrip()
        typer.echo(f"  {change['op']} {where} ({change['severity']}) {_affects(change)}")
    typer.echo(f"(workflow {workflow_name!r} differs too: the demo edited it on production above)")


def _affects(change: dict[str, Any]) -> str:
    affects = change.get("affects")
    if not affects:
        return "affects: not computed"
    count, first = int(affects.get("count") or 0), list(affects.get("first") or [])
    more = f" +{count - len(first)}" if count > len(first) else ""
    return f"affects {count} project(s): {', '.join(first)}{more}" if count else "affects no project"


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
        git = _git_server(cluster, images["operator"], pull_never=False)
        _step(f"The site's sandbox as a second emulator pod (--variant sandbox), as https://{SANDBOX_HOST}")
        sandbox = start_sandbox_pod(cluster, NAMESPACE, images["emulator"], size=size, seed=7)
        _show(cluster, "get", "pod,service", SANDBOX_NAME, "-n", NAMESPACE)
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
            f"Letting the operator reach https://{EMULATOR_HOST} ({ip}) and https://{SANDBOX_HOST} ({sandbox.ip}): "
            "allowedHosts, their CAs, hostAliases entries, and allowedNetworks (a Service address is private: the "
            f"operator refuses private addresses unless allowed); and https://{GIT_HOST} for history"
        )
        chart_ca = cluster.kubectl(
            "get", "configmap", f"{EMULATOR}-ca", "-n", NAMESPACE, "-o", "jsonpath={.data.ca\\.crt}"
        ).stdout
        bundle = chart_ca.rstrip() + "\n" + sandbox.ca_pem
        cluster.kubectl("create", "configmap", "demo-ca", "-n", NAMESPACE, f"--from-literal=ca.crt={bundle}")
        cluster.helm(
            "upgrade",
            RELEASE,
            chart,
            *common,
            *("--set", f"allowedHosts={{{EMULATOR_HOST},{SANDBOX_HOST}}}"),
            *("--set", "extraCACertificates.configMap=demo-ca"),
            *("--set", f"hostAliases[0].ip={ip}", "--set", f"hostAliases[0].hostnames[0]={EMULATOR_HOST}"),
            *("--set", f"hostAliases[1].ip={sandbox.ip}", "--set", f"hostAliases[1].hostnames[0]={SANDBOX_HOST}"),
            *_git_values(git, 2),
            *("--set", f"allowedNetworks={{{ip}/32,{sandbox.ip}/32}}"),
        )
        _show(cluster, "get", "pods", "-n", NAMESPACE)
        _apply_secret(cluster, "acme-sandbox-jira", SANDBOX, {"email": sandbox.email, "token": sandbox.token})

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

        extras = Extras(sandbox.url, "acme-sandbox-jira", git)
        tenant_flow(
            cluster, f"https://{EMULATOR_HOST}", f"{EMULATOR}-credentials", "jira", change, keep, started, extras
        )
    finally:
        if not keep:
            _step("Removing the demo: helm uninstall and the namespace (--keep leaves them)")
            cluster.helm("uninstall", RELEASE, "-n", NAMESPACE, "--wait", check=False)
            cluster.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


def _cli(plane: DemoCluster, *args: str) -> None:
    """Run ``jiradrift ARGS`` against the demo cluster as the admin would, and show its output."""
    result = _run_cli(plane, *args)
    typer.echo(result.stdout.rstrip() or result.stderr.rstrip())


def _cli_output(plane: DemoCluster, *args: str) -> str:
    """Run ``jiradrift ARGS`` against the demo cluster; its standard output."""
    return _run_cli(plane, *args).stdout


def _run_cli(plane: DemoCluster, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**_environ(), "KUBECONFIG": str(plane.kubeconfig), "COLUMNS": "160"}
    result = subprocess.run(
        [sys.executable, "-m", "jiradrift", *args], capture_output=True, text=True, env=env, check=False
    )
    if result.returncode != 0:
        raise typer.Exit(_fail(f"jiradrift {' '.join(args)}: exit {result.returncode}\n{result.stderr[-2000:]}"))
    return result


_DRIFTED = '{.status.conditions[?(@.type=="Drifted")]'


def _drifted(plane: DemoCluster) -> str:
    return _condition(plane, "acme", "Drifted")


def _condition(plane: DemoCluster, tenant: str, kind: str) -> str:
    return _tenant_field(plane, tenant, f'{{.status.conditions[?(@.type=="{kind}")].status}}').strip()


def _tenant_field(plane: DemoCluster, tenant: str, jsonpath: str) -> str:
    return plane.kubectl("get", "jt", tenant, "-n", NAMESPACE, "-o", f"jsonpath={jsonpath}").stdout


def _show_drifted(plane: DemoCluster) -> None:
    jsonpath = f'jsonpath=Drifted={_DRIFTED}.status}} ({_DRIFTED}.reason}}): {_DRIFTED}.message}}{{"\\n"}}'
    _show(plane, "get", "jt", "acme", "-n", NAMESPACE, "-o", jsonpath)


def _wait_for(plane: DemoCluster, check: Callable[[], bool], what: str, timeout: float) -> None:
    _wait_for_value(plane, lambda _: check() or None, what, timeout)


def _wait_for_value(plane: DemoCluster, check: Callable[[DemoCluster], Any], what: str, timeout: float) -> Any:
    """Poll ``check`` until it returns something truthy (the condition), at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := check(plane)):
        if time.monotonic() > deadline:
            pods = plane.kubectl("get", "pods,jt,snap,sitecomparisons", "-n", NAMESPACE, check=False).stdout
            logs = plane.kubectl("logs", "-n", NAMESPACE, "deploy/jira-drift-operator", "--tail=40", check=False)
            raise typer.Exit(_fail(f"{what}: not after {timeout:.0f}s\n{pods}\n{logs.stdout}"))
        time.sleep(0.5)  # polling the condition, bounded by the deadline
    return value


def _fail(message: str) -> int:
    typer.secho(message, fg=typer.colors.RED, err=True)
    return 1


def _snapshot(plane: DemoCluster, name: str, jsonpath: str) -> str:
    return plane.kubectl("get", "snap", name, "-n", NAMESPACE, "-o", f"jsonpath={jsonpath}").stdout.rstrip()


def _phases(plane: DemoCluster, tenant: str) -> list[str]:
    selector = f"jiradrift.io/tenant={tenant}"
    out = plane.kubectl("get", "snap", "-n", NAMESPACE, "-l", selector, "-o", "jsonpath={.items[*].status.phase}")
    return out.stdout.split()


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _environ() -> dict[str, str]:
    import os

    return dict(os.environ)
