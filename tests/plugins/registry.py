"""pytest fixtures for a real OCI registry: the CNCF distribution registry (``registry`` from
github.com/distribution/distribution/v3, built by ``tools/build-go-tool.sh registry``), registered
in tests/conftest.py; test tooling.

``oci_registry`` runs one per session on plain http. It binds to ``JIRADRIFT_REGISTRY_HOST``
(default 127.0.0.1): a node test whose containerd must pull from it sets an address the node
reaches. ``start_registry`` is the same server as a context manager, with TLS on request (a
self-signed certificate for the bind address, for a client that insists on https), and
``python -m tests.plugins.registry --host ADDR --port N [--tls]`` runs it by hand.

``JIRADRIFT_REGISTRY_BIN`` names the binary; otherwise the build script runs (instant when cached).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from jiradrift.dev.controlplane import _CA, _pem_cert, _pem_key

REPO = Path(__file__).resolve().parents[2]
HOST_ENV = "JIRADRIFT_REGISTRY_HOST"


@dataclass(frozen=True)
class Registry:
    host: str
    port: int
    root: Path
    log: Path
    ca: Path | None = None  # the CA file clients trust, when served over TLS

    @property
    def address(self) -> str:
        """host:port, as image and chart references spell it."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.ca else 'http'}://{self.address}"

    def digest(self, repository: str, reference: str, accept: str) -> str:
        """The registry's own answer: the digest it serves for repository:reference."""
        r = httpx.head(
            f"{self.url}/v2/{repository}/manifests/{reference}",
            headers={"Accept": accept},
            verify=str(self.ca) if self.ca else True,
            timeout=10,
        )
        r.raise_for_status()
        return r.headers["Docker-Content-Digest"]


def go_tool(name: str) -> Path:
    """A tool built by tools/build-go-tool.sh (registry, crane, cosign, helm-docs, actionlint)."""
    env_var = "JIRADRIFT_" + name.upper().replace("-", "_") + "_BIN"
    found = os.environ.get(env_var)
    if found:
        return Path(found)
    out = subprocess.run(
        ["bash", str(REPO / "tools" / "build-go-tool.sh"), name],
        check=True,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    path = Path(out.stdout.strip().splitlines()[-1])
    os.environ[env_var] = str(path)
    return path


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def serving_certificate(host: str, directory: Path) -> tuple[Path, Path, Path]:
    """A CA, and a serving certificate it issued for ``host`` (an IP address or a name), as the
    control plane makes its own: (certificate chain, key, CA file for clients)."""
    ca = _CA.create("jiradrift test registry CA")
    key, cert = ca.issue(host, server=True, sans=[host])
    chain, key_path, ca_path = directory / "registry.crt", directory / "registry.key", directory / "ca.crt"
    chain.write_bytes(_pem_cert(cert) + _pem_cert(ca.cert))
    key_path.write_bytes(_pem_key(key))
    ca_path.write_bytes(_pem_cert(ca.cert))
    return chain, key_path, ca_path


@contextmanager
def start_registry(root: Path, host: str = "127.0.0.1", port: int = 0, tls: bool = False) -> Iterator[Registry]:
    """The distribution registry on host:port (a free port when 0), storing under ``root``."""
    binary = go_tool("registry")
    root.mkdir(parents=True, exist_ok=True)
    port = port or free_port(host)
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    tls_config = ""
    ca = None
    if tls:
        chain, key, ca = serving_certificate(host, root)
        tls_config = f"  tls:\n    certificate: {chain}\n    key: {key}\n"
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: info\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: {bind}\n{tls_config}"
    )
    log = root / "registry.log"
    env = {"PATH": os.environ.get("PATH", ""), "OTEL_TRACES_EXPORTER": "none", "OTEL_SDK_DISABLED": "true"}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(binary), "serve", str(config)], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    registry = Registry(host, port, root, log, ca)
    try:
        deadline = time.monotonic() + 30
        while True:  # the registry answers /v2/ with 200 once it serves
            if proc.poll() is not None:
                raise RuntimeError(f"the registry exited ({proc.returncode}): {log.read_text()[-2000:]}")
            try:
                context: ssl.SSLContext | bool = ssl.create_default_context(cafile=str(ca)) if ca else True
                if httpx.get(f"{registry.url}/v2/", timeout=1.0, verify=context).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the registry did not answer on {registry.url}/v2/: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield registry
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


@pytest.fixture(scope="session")
def oci_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """One registry for the session, plain http on JIRADRIFT_REGISTRY_HOST (default 127.0.0.1)."""
    host = os.environ.get(HOST_ENV, "127.0.0.1")
    with start_registry(tmp_path_factory.mktemp("registry"), host=host) as registry:
        yield registry


def main() -> None:
    ap = argparse.ArgumentParser(description="Run the test registry by hand (the node test, a dry run).")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=5000)
    ap.add_argument("--root", type=Path, default=Path("/tmp/jiradrift-registry"))
    ap.add_argument("--tls", action="store_true")
    args = ap.parse_args()
    with start_registry(args.root, args.host, args.port, args.tls) as registry:
        print(f"registry at {registry.url} (ca: {registry.ca}); Ctrl-C stops it", flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
