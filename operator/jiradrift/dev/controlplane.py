"""A real kube-apiserver + etcd on loopback, for tests and the demo (envtest-equivalent).

    with ControlPlane.start() as cp:
        cp.kubeconfig            # admin (system:masters) kubeconfig path
        cp.kubectl("get", "ns")  # runs the kubectl built next to the apiserver
        cp.user_kubeconfig("alice", groups=["dev"])   # client-cert identity, for RBAC tests

Binaries come from ``tools/build-control-plane.sh`` (built from the Go module proxy, cached
outside the repository). Every process is started in its own process group and killed on
exit, on error, and at interpreter exit, so a failing test leaves nothing behind.
"""

from __future__ import annotations

import atexit
import base64
import datetime as dt
import ipaddress
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from jiradrift.generate.crds import write_crds

REPO_ROOT = Path(__file__).resolve().parents[3]
BUILD_SCRIPT = REPO_ROOT / "tools" / "build-control-plane.sh"


SERVICE_CIDR = "10.0.0.0/24"
SERVICE_IP = "10.0.0.1"  # the `kubernetes` Service's ClusterIP: pods reach the API server here


AUDIT_POLICY = """apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
    userGroups: ["system:serviceaccounts"]
  - level: None
"""


class ControlPlaneError(RuntimeError):
    """The control plane could not be built or started; the message says which step and why."""


def find_binaries(build: bool = True) -> Path:
    """Directory holding kube-apiserver, etcd, kubectl and helm.

    ``JIRADRIFT_K8S_BIN`` wins; otherwise the build script is run (seconds when cached).
    """
    env_dir = os.environ.get("JIRADRIFT_K8S_BIN")
    if env_dir:
        return Path(env_dir)
    if not build:
        raise ControlPlaneError("JIRADRIFT_K8S_BIN is not set and building was not allowed")
    proc = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ControlPlaneError(f"{BUILD_SCRIPT} failed (exit {proc.returncode}); last output:\n{proc.stderr[-3000:]}")
    bin_dir = Path(proc.stdout.strip().splitlines()[-1])
    os.environ["JIRADRIFT_K8S_BIN"] = str(bin_dir)
    return bin_dir


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- certificates ---------------------------------------------------------------------------


@dataclass
class _CA:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @classmethod
    def create(cls, name: str) -> _CA:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, name),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "jiradrift"),
            ]
        )
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=7))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert)

    def issue(
        self, cn: str, orgs: Sequence[str] = (), *, server: bool = False, sans: Sequence[str] = ()
    ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        key = ec.generate_private_key(ec.SECP256R1())
        # ServiceAccount user names exceed the 64-character CN bound of RFC 5280; the API server
        # accepts them, so skip the library's check.
        attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn, _validate=False)]
        attrs += [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
        now = dt.datetime.now(dt.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attrs))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=7))
        )
        if server:
            names: list[x509.GeneralName] = []
            for san in ("localhost", "127.0.0.1", *sans):
                try:
                    names.append(x509.IPAddress(ipaddress.ip_address(san)))
                except ValueError:
                    names.append(x509.DNSName(san))
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False).add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
        else:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
            )
        return key, builder.sign(self.key, hashes.SHA256())


def _pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _pem_key(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


# --- processes ------------------------------------------------------------------------------

_LIVE: set[subprocess.Popen[bytes]] = set()


def _kill_all() -> None:
    for proc in list(_LIVE):
        _stop(proc)


atexit.register(_kill_all)


def _spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    out = open(log, "wb")
    proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    _LIVE.add(proc)
    return proc


def _stop(proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=timeout)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=timeout)
    _LIVE.discard(proc)


def _wait_until(check: object, what: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last_error = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ControlPlaneError(f"{what} exited with {proc.returncode}; log tail:\n{log.read_text()[-3000:]}")
        try:
            if check():  # type: ignore[operator]
                return
        except httpx.HTTPError as exc:
            last_error = str(exc)
        time.sleep(0.2)
    raise ControlPlaneError(
        f"{what} not ready after {timeout:.0f}s ({last_error}); log tail:\n{log.read_text()[-3000:]}"
    )


# --- the control plane ----------------------------------------------------------------------


@dataclass
class ControlPlane:
    """A running etcd + kube-apiserver pair; use ``ControlPlane.start()`` as a context manager."""

    workdir: Path
    bin_dir: Path
    url: str
    kubeconfig: Path
    _client_ca: _CA
    _serving_ca: _CA
    _procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @classmethod
    @contextmanager
    def start(cls, workdir: Path | None = None, *, timeout: float = 90) -> Iterator[ControlPlane]:
        plane = cls.launch(workdir, timeout=timeout)
        try:
            yield plane
        finally:
            plane.stop()

    @classmethod
    def launch(
        cls,
        workdir: Path | None = None,
        *,
        timeout: float = 90,
        attempts: int = 3,
        bind_address: str = "127.0.0.1",
    ) -> ControlPlane:
        """Start etcd + kube-apiserver. Ports are picked free and then handed to the child, so a
        busy machine can take one in between: a start that fails on a taken port is retried."""
        for attempt in range(1, attempts + 1):
            try:
                return cls._launch(workdir, timeout=timeout, bind_address=bind_address)
            except ControlPlaneError as exc:
                if attempt == attempts or "address already in use" not in str(exc):
                    raise
        raise AssertionError("unreachable")

    @classmethod
    def _launch(cls, workdir: Path | None = None, *, timeout: float, bind_address: str) -> ControlPlane:
        """``bind_address`` other than loopback serves pods too (see :mod:`jiradrift.dev.node`): then the
        API server also authorizes kubelets (Node authorizer), admits ServiceAccounts, publishes the
        ``kubernetes`` Service's endpoints, and reaches kubelets for logs and exec."""
        for_pods = bind_address != "127.0.0.1"
        bin_dir = find_binaries()
        own_dir = workdir is None
        root = Path(tempfile.mkdtemp(prefix="jiradrift-cp-")) if workdir is None else workdir
        root.mkdir(parents=True, exist_ok=True)
        certs = root / "certs"
        certs.mkdir(exist_ok=True)

        serving_ca, client_ca = _CA.create("jiradrift-serving-ca"), _CA.create("jiradrift-client-ca")
        skey, scert = serving_ca.issue(
            "kube-apiserver",
            server=True,
            sans=[bind_address, SERVICE_IP, "kubernetes", "kubernetes.default", "kubernetes.default.svc"],
        )
        (certs / "apiserver.crt").write_bytes(_pem_cert(scert) + _pem_cert(serving_ca.cert))
        (certs / "apiserver.key").write_bytes(_pem_key(skey))
        (certs / "client-ca.crt").write_bytes(_pem_cert(client_ca.cert))
        (certs / "serving-ca.crt").write_bytes(_pem_cert(serving_ca.cert))
        sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        (certs / "sa.key").write_bytes(_pem_key(sa_key))
        (certs / "sa.pub").write_bytes(
            sa_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

        procs: list[subprocess.Popen[bytes]] = []
        try:
            etcd_port, peer_port, api_port = free_port(), free_port(), free_port()
            etcd_log = root / "etcd.log"
            etcd = _spawn(
                [
                    str(bin_dir / "etcd"),
                    f"--data-dir={root / 'etcd'}",
                    f"--listen-client-urls=http://127.0.0.1:{etcd_port}",
                    f"--advertise-client-urls=http://127.0.0.1:{etcd_port}",
                    f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
                    f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
                    f"--initial-cluster=default=http://127.0.0.1:{peer_port}",
                    "--unsafe-no-fsync=true",
                    "--log-level=warn",
                ],
                etcd_log,
            )
            procs.append(etcd)
            _wait_until(
                lambda: httpx.get(f"http://127.0.0.1:{etcd_port}/health", timeout=2).status_code == 200,
                "etcd",
                etcd,
                etcd_log,
                timeout,
            )

            api_log = root / "kube-apiserver.log"
            api_args = [
                str(bin_dir / "kube-apiserver"),
                f"--etcd-servers=http://127.0.0.1:{etcd_port}",
                f"--cert-dir={certs}",
                f"--tls-cert-file={certs / 'apiserver.crt'}",
                f"--tls-private-key-file={certs / 'apiserver.key'}",
                f"--secure-port={api_port}",
                f"--bind-address={bind_address}",
                f"--advertise-address={bind_address}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--allow-privileged=true",
                f"--service-account-issuer=https://{bind_address}:{api_port}/",
                f"--service-account-key-file={certs / 'sa.pub'}",
                f"--service-account-signing-key-file={certs / 'sa.key'}",
                f"--client-ca-file={certs / 'client-ca.crt'}",
                "--enable-priority-and-fairness=false",
                "--event-ttl=1h",
                "--v=0",
            ]
            if for_pods:
                kkey, kcert = client_ca.issue("kube-apiserver-kubelet-client", ["system:masters"])
                (certs / "kubelet-client.crt").write_bytes(_pem_cert(kcert))
                (certs / "kubelet-client.key").write_bytes(_pem_key(kkey))
                # Who called what: the audit log records every request by a ServiceAccount (the chart's
                # identities), so tests compare the RBAC the chart grants with the calls the code makes.
                (root / "audit-policy.yaml").write_text(AUDIT_POLICY)
                api_args += [
                    f"--audit-policy-file={root / 'audit-policy.yaml'}",
                    f"--audit-log-path={root / 'audit.log'}",
                    "--audit-log-format=json",
                    "--authorization-mode=Node,RBAC",
                    "--endpoint-reconciler-type=lease",
                    f"--kubelet-client-certificate={certs / 'kubelet-client.crt'}",
                    f"--kubelet-client-key={certs / 'kubelet-client.key'}",
                    "--kubelet-preferred-address-types=InternalIP,Hostname",
                ]
            else:
                # envtest's shape: no controller creates ServiceAccounts, no node reads Endpoints.
                api_args += [
                    "--authorization-mode=RBAC",
                    "--disable-admission-plugins=ServiceAccount",
                    "--endpoint-reconciler-type=none",
                ]
            api = _spawn(api_args, api_log)
            procs.append(api)
            url = f"https://{bind_address}:{api_port}"
            plane = cls(root, bin_dir, url, root / "admin.kubeconfig", client_ca, serving_ca, procs)
            plane._write_kubeconfig(plane.kubeconfig, "admin", ["system:masters"])
            plane._wait_apiserver_ready(api, timeout)
            plane._own_dir = own_dir  # type: ignore[attr-defined]
            plane._api_args = api_args  # type: ignore[attr-defined]
            return plane
        except BaseException:
            for proc in reversed(procs):
                _stop(proc)
            if own_dir:
                shutil.rmtree(root, ignore_errors=True)
            raise

    def stop_apiserver(self) -> None:
        """Stop kube-apiserver only; etcd keeps running and keeps the data (an API outage for tests)."""
        _stop(self._procs[-1])

    def restart_apiserver(self, timeout: float = 90) -> None:
        """Start kube-apiserver again on the same port, certificates and etcd; wait until it is ready."""
        if self._procs[-1].poll() is None:
            raise ControlPlaneError("kube-apiserver is running; call stop_apiserver() first")
        api = _spawn(self._api_args, self.workdir / "kube-apiserver.log")  # type: ignore[attr-defined]
        self._procs[-1] = api
        self._wait_apiserver_ready(api, timeout)

    def _wait_apiserver_ready(self, api: subprocess.Popen[bytes], timeout: float) -> None:
        certs = self.workdir / "certs"
        tls = ssl.create_default_context(cafile=str(certs / "serving-ca.crt"))
        tls.load_cert_chain(certs / "admin.crt", certs / "admin.key")
        _wait_until(
            lambda: httpx.get(f"{self.url}/readyz", verify=tls, timeout=2).status_code == 200,
            "kube-apiserver",
            api,
            self.workdir / "kube-apiserver.log",
            timeout,
        )

    def stop(self) -> None:
        for proc in reversed(self._procs):
            _stop(proc)
        self._procs.clear()
        if getattr(self, "_own_dir", False) and not os.environ.get("JIRADRIFT_KEEP_CONTROL_PLANE_DIR"):
            shutil.rmtree(self.workdir, ignore_errors=True)

    @property
    def audit_log(self) -> Path:
        """JSON lines, one per request by a ServiceAccount (a plane that serves pods only)."""
        return self.workdir / "audit.log"

    @property
    def ca_file(self) -> Path:
        return self.workdir / "certs" / "serving-ca.crt"

    def _write_kubeconfig(self, path: Path, user: str, groups: Sequence[str]) -> Path:
        key, cert = self._client_ca.issue(user, groups)
        certs = self.workdir / "certs"
        safe = user.replace(":", "_").replace("/", "_")
        (certs / f"{safe}.crt").write_bytes(_pem_cert(cert))
        (certs / f"{safe}.key").write_bytes(_pem_key(key))

        def b64(data: bytes) -> str:
            return base64.b64encode(data).decode()

        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "jiradrift",
                    "cluster": {
                        "server": self.url,
                        "certificate-authority-data": b64(_pem_cert(self._serving_ca.cert)),
                    },
                }
            ],
            "users": [
                {
                    "name": user,
                    "user": {
                        "client-certificate-data": b64(_pem_cert(cert)),
                        "client-key-data": b64(_pem_key(key)),
                    },
                }
            ],
            "contexts": [{"name": "jiradrift", "context": {"cluster": "jiradrift", "user": user}}],
            "current-context": "jiradrift",
        }
        path.write_text(yaml.safe_dump(config))
        path.chmod(0o600)
        return path

    def user_kubeconfig(self, user: str, groups: Sequence[str] = ()) -> Path:
        """A kubeconfig authenticating as ``user`` (client certificate CN) in ``groups`` (O)."""
        safe = user.replace(":", "_").replace("/", "_")
        return self._write_kubeconfig(self.workdir / f"{safe}.kubeconfig", user, groups)

    def service_account_kubeconfig(self, namespace: str, name: str) -> Path:
        """A kubeconfig that the API server authenticates as the ServiceAccount ``namespace/name``.

        A client certificate with the ServiceAccount's user name and groups: RBAC sees exactly the
        identity a pod with that ServiceAccount would have (no token controller needed).
        """
        return self.user_kubeconfig(
            f"system:serviceaccount:{namespace}:{name}",
            ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"],
        )

    def kubectl(
        self, *args: str, kubeconfig: Path | None = None, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bin_dir / "kubectl"), f"--kubeconfig={kubeconfig or self.kubeconfig}", *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, input=input, check=False, timeout=120)
        if check and proc.returncode != 0:
            raise ControlPlaneError(f"kubectl {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc

    def helm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "HELM_CACHE_HOME": str(self.workdir / "helm-cache"),
            "HELM_CONFIG_HOME": str(self.workdir / "helm-config"),
            "HELM_DATA_HOME": str(self.workdir / "helm-data"),
        }
        proc = subprocess.run(
            [str(self.bin_dir / "helm"), *args],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=300,
        )
        if check and proc.returncode != 0:
            raise ControlPlaneError(f"helm {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc


# --- the project's CRDs ---------------------------------------------------------------------


def install_crds(plane: ControlPlane, directory: Path) -> None:
    write_crds(directory)
    plane.kubectl("apply", "--server-side", "-f", str(directory))
    wait_crds_established(plane)


def wait_crds_established(plane: ControlPlane) -> None:
    plane.kubectl(
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/jiratenants.jiradrift.io",
        "crd/snapshots.jiradrift.io",
        "crd/sitecomparisons.jiradrift.io",
    )
