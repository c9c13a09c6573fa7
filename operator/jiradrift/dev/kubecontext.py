"""A cluster the user already has, named by a kubectl context: what ``jiradrift demo --context`` runs on.

    cluster = ContextCluster.open("kind-kind", workdir)   # kubectl and helm from PATH
    cluster.kubectl("get", "nodes")
    cluster.load_image("jira-drift-operator:demo")          # kind, k3d or minikube; else the image must be pullable

The context is flattened into a kubeconfig of its own (``kubectl config view --minify --flatten``), so
every kubectl, helm and jiradrift call the demo makes talks to that cluster whatever the current
context is. Nothing here needs root or builds Kubernetes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


class ContextError(RuntimeError):
    """The context cannot be used; the message says what to install or fix."""


def _tool(name: str, why: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ContextError(f"`{name}` is not on PATH; the demo against a cluster needs it {why}")
    return path


@dataclass(frozen=True)
class ContextCluster:
    context: str
    kubeconfig: Path
    workdir: Path
    kubectl_bin: str
    helm_bin: str

    @classmethod
    def open(cls, context: str, workdir: Path) -> ContextCluster:
        kubectl = _tool("kubectl", "to talk to the cluster")
        helm = _tool("helm", "to install the chart")
        view = subprocess.run(
            [kubectl, "config", "view", "--minify", "--flatten", f"--context={context}"],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        if view.returncode != 0:
            raise ContextError(
                f"kubectl context {context!r}: {view.stderr.strip()} (see `kubectl config get-contexts`)"
            )
        workdir.mkdir(parents=True, exist_ok=True)
        kubeconfig = workdir / "kubeconfig"
        kubeconfig.write_text(view.stdout)
        kubeconfig.chmod(0o600)
        return cls(context, kubeconfig, workdir, kubectl, helm)

    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [self.kubectl_bin, f"--kubeconfig={self.kubeconfig}", *args],
            capture_output=True,
            text=True,
            input=input,
            check=False,
            timeout=180,
        )
        if check and proc.returncode != 0:
            raise ContextError(f"kubectl {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc

    def helm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig)}
        proc = subprocess.run([self.helm_bin, *args], capture_output=True, text=True, env=env, check=False, timeout=600)
        if check and proc.returncode != 0:
            raise ContextError(f"helm {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc

    def load_image(self, image: str) -> str:
        """Put a locally built image into the cluster when it is kind, k3d or minikube; say how it went."""
        if self.context.startswith("kind-"):
            cmd = ["kind", "load", "docker-image", image, "--name", self.context.removeprefix("kind-")]
        elif self.context.startswith("k3d-"):
            cmd = ["k3d", "image", "import", image, "--cluster", self.context.removeprefix("k3d-")]
        elif self.context == "minikube":
            cmd = ["minikube", "image", "load", image]
        else:
            return f"{image}: not loaded (context {self.context!r} is not kind, k3d or minikube: it must be pullable)"
        _tool(cmd[0], f"to load {image} into {self.context}")
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=600)
        if proc.returncode != 0:
            raise ContextError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}")
        return f"{image}: loaded with {cmd[0]}"


def build_image(dockerfile: Path, tag: str, context_dir: Path) -> None:
    """``docker build`` one of the repository's images (the operator's or the emulator's)."""
    docker = _tool("docker", f"to build {tag} (or pass the image with --image/--emulator-image)")
    proc = subprocess.run(
        [docker, "build", "-f", str(dockerfile), "-t", tag, str(context_dir)],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    if proc.returncode != 0:
        raise ContextError(f"docker build -f {dockerfile.name} failed ({proc.returncode}): {proc.stderr[-2000:]}")
