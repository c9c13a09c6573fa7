"""``jiradrift dev ...``: a local control plane for trying the operator without a cluster."""

from __future__ import annotations

import contextlib
import signal
import time
from pathlib import Path

import typer

from jiradrift.dev.controlplane import REPO_ROOT, ControlPlane, find_binaries, install_crds
from jiradrift.dev.node import NODE_NAME, Cluster, build_operator_image
from jiradrift.dev.node import cleanup as node_cleanup

dev_app = typer.Typer(help="Local development helpers: a real kube-apiserver + etcd on loopback.", no_args_is_help=True)


@dev_app.command("build")
def build_command() -> None:
    """Build (or reuse) kube-apiserver, etcd, kubectl and helm from the Go module proxy."""
    typer.echo(find_binaries())


@dev_app.command("cluster")
def cluster_command(
    workdir: Path = typer.Option(Path(".jiradrift-dev"), help="Where certificates, etcd data and kubeconfigs go."),
    crds: bool = typer.Option(True, help="Install the jiradrift CRDs."),
    wait: bool = typer.Option(True, help="Keep running until Ctrl-C; --no-wait starts, checks and stops."),
    node: bool = typer.Option(
        False,
        help="A real single-node cluster (controllers, scheduler, containerd, kubelet, kube-proxy) with the "
        "operator image built from the Dockerfile loaded, as the tests use; needs root. Host state is undone on "
        "exit, and by `jiradrift dev cleanup` after a crash.",
    ),
) -> None:
    """Start etcd + kube-apiserver on 127.0.0.1 (or a whole node), install the CRDs, print the kubeconfig."""
    workdir = workdir.resolve()
    with contextlib.ExitStack() as stack:
        if node:
            cluster = stack.enter_context(Cluster.start())
            tarball, ref = build_operator_image(REPO_ROOT)
            cluster.import_image(tarball)
            typer.echo(f"node {NODE_NAME} Ready; image {ref} loaded (helm: --set image.pullPolicy=Never)")
            plane = cluster.plane
        else:
            plane = stack.enter_context(ControlPlane.start(workdir))
        if crds:
            install_crds(plane, workdir / "crds")
        typer.echo(f"kube-apiserver: {plane.url}")
        typer.echo(f"export KUBECONFIG={plane.kubeconfig}")
        typer.echo(f"kubectl: {plane.bin_dir / 'kubectl'}")
        if not wait:
            return
        stop = False

        def _stop(*_: object) -> None:
            nonlocal stop
            stop = True

        signal.signal(signal.SIGTERM, _stop)
        try:
            while not stop:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass


@dev_app.command("cleanup")
def cleanup_command() -> None:
    """Undo what a node left on this host (processes, mounts, iptables chains, bridge, cgroups, sysctls)."""
    node_cleanup()
    typer.echo("node state removed")
