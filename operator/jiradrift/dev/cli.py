"""``jiradrift dev ...``: a local control plane for trying the operator without a cluster."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import typer

from jiradrift.dev.controlplane import ControlPlane, find_binaries, install_crds

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
) -> None:
    """Start etcd + kube-apiserver on 127.0.0.1, install the CRDs, and print the kubeconfig."""
    workdir = workdir.resolve()
    with ControlPlane.start(workdir) as plane:
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
