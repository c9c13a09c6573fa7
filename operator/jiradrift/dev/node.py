"""A real single-node cluster on this machine: the control plane plus kube-controller-manager,
kube-scheduler, containerd, kubelet and kube-proxy, with pods on a bridge network.

    with Cluster.start() as cluster:
        cluster.plane.kubectl("get", "nodes")
        cluster.import_image(tarball)         # a `docker save` tarball, for imagePullPolicy: Never

What this changes on the host, and undoes on stop (``reference/kubernetes.md`` section 1b): the
bridge ``jiradrift0`` (10.244.0.1/24, the API server binds there so pods reach it through the
``kubernetes`` Service and the host through the bridge), iptables chains from kube-proxy and the CNI
plugins, cgroups under ``kubepods``, mounts under the work dir, and a few sysctls kubelet sets. All of
it is recorded in a state file before it happens, so :func:`cleanup` also undoes a node whose process
crashed. There is one node per machine at a time (an exclusive lock); a second start waits for it.

No public registry is reachable: pods use images imported into containerd (``imagePullPolicy: Never``)
or pulled from a registry on this machine that :meth:`Cluster.trust_registry` names to containerd
(TLS with a CA made for it, in ``certs.d/<host:port>/hosts.toml``); the sandbox ("pause") image is
compiled from the ``k8s.io/kubernetes`` module's ``pause.c``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import shlex
import shutil
import signal
import subprocess
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import yaml

from jiradrift.dev.controlplane import (
    SERVICE_CIDR,
    SERVICE_IP,
    ControlPlane,
    ControlPlaneError,
    _spawn,
    _stop,
    _wait_until,
    find_binaries,
    free_port,
)

NODE_DIR = Path(os.environ.get("JIRADRIFT_NODE_DIR", "/var/lib/jiradrift-node"))
LOCK_FILE = Path("/run/jiradrift-node.lock")
STATE_FILE = Path("/run/jiradrift-node.state.json")
BRIDGE = "jiradrift0"
GATEWAY = "10.244.0.1"
POD_CIDR = "10.244.0.0/24"
NODE_NAME = "jiradrift-node"
ISOLATION_CHAIN = "JIRADRIFT-ISOLATE"
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"
K8S_VERSION = "v1.36.3"
CNI_BIN = Path("/usr/lib/cni")
# kubelet sets these on start; they are host-wide, so they are put back on stop.
SYSCTLS = ("kernel.panic", "kernel.panic_on_oops", "vm.overcommit_memory", "net.ipv4.ip_forward")
DEBIAN_PACKAGES = ("containerd", "runc", "containernetworking-plugins", "iptables", "conntrack")


def _run(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(args), capture_output=True, text=True, check=False, timeout=timeout)
    if check and proc.returncode != 0:
        raise ControlPlaneError(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def _sysctl_path(name: str) -> Path:
    return Path("/proc/sys") / name.replace(".", "/")


# --- images without a registry ----------------------------------------------------------------


def pause_image_tar(cache: Path) -> Path:
    """An OCI image tarball of the pause container, compiled statically from the module cache."""
    out = cache / "images" / "pause-3.10.tar"
    if out.exists():
        return out
    gomodcache = _run("go", "env", "GOMODCACHE").stdout.strip()
    source = Path(gomodcache) / f"k8s.io/kubernetes@{K8S_VERSION}" / "build/pause/linux/pause.c"
    if not source.exists():
        _run("go", "mod", "download", f"k8s.io/kubernetes@{K8S_VERSION}", timeout=600)
    out.parent.mkdir(parents=True, exist_ok=True)
    binary = out.with_suffix(".bin")
    _run("gcc", "-static", "-Os", "-DVERSION=3.10", "-o", str(binary), str(source))
    _run("strip", str(binary))
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        info = tar.gettarinfo(str(binary), arcname="pause")
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mtime = 0
        with open(binary, "rb") as fh:
            tar.addfile(info, fh)
    binary.unlink()
    _write_oci_tar(out, layer.getvalue(), PAUSE_IMAGE, {"Entrypoint": ["/pause"], "User": "65535:65535"})
    return out


def _write_oci_tar(out: Path, layer: bytes, name: str, config: dict[str, Any]) -> None:
    def blob(data: bytes) -> tuple[str, int, bytes]:
        return "sha256:" + hashlib.sha256(data).hexdigest(), len(data), data

    layer_digest, layer_size, _ = blob(layer)
    image_config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": config,
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        }
    ).encode()
    config_digest, config_size, _ = blob(image_config)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": config_size,
            },
            "layers": [
                {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer_size}
            ],
        }
    ).encode()
    manifest_digest, manifest_size, _ = blob(manifest)
    index = json.dumps(
        {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": manifest_digest,
                    "size": manifest_size,
                    "annotations": {"io.containerd.image.name": name, "org.opencontainers.image.ref.name": "3.10"},
                }
            ],
        }
    ).encode()
    tmp = out.with_suffix(".tmp")
    with tarfile.open(tmp, mode="w") as tar:
        for arcname, data in (
            ("oci-layout", b'{"imageLayoutVersion": "1.0.0"}'),
            ("index.json", index),
            (f"blobs/sha256/{layer_digest[7:]}", layer),
            (f"blobs/sha256/{config_digest[7:]}", image_config),
            (f"blobs/sha256/{manifest_digest[7:]}", manifest),
        ):
            info = tarfile.TarInfo(arcname)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    tmp.rename(out)


def build_operator_image(repo: Path, dockerfile: str = "Dockerfile") -> tuple[Path, str]:
    """Build (or reuse) the operator image from the repository's Dockerfile, or with ``Dockerfile.emulator``
    the emulator's image: (tarball, image ref)."""
    proc = subprocess.run(
        ["bash", str(repo / "tools" / "build-image.sh"), dockerfile],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    if proc.returncode != 0:
        raise ControlPlaneError(f"tools/build-image.sh {dockerfile} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    tarball, ref = proc.stdout.strip().splitlines()[-1].split()
    return Path(tarball), ref


# --- host state: recorded before it changes, undone on stop and after a crash ----------------


def _load_state() -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = json.loads(STATE_FILE.read_text())
        return loaded
    except (FileNotFoundError, ValueError):
        return {}


def _save_state(state: dict[str, Any]) -> None:
    STATE_FILE.write_text(json.dumps(state))


def _kill_pids(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    for pid in pids:
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def _processes_under(workdir: Path) -> list[int]:
    """PIDs whose command line names the work dir: containerd, its shims, kubelet, kube-proxy."""
    needle = str(workdir).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _unmount_under(workdir: Path) -> None:
    prefix = str(workdir)
    mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    for mount in sorted((m for m in mounts if m.startswith(prefix)), key=len, reverse=True):
        _run("umount", "-l", mount, check=False)


def _iptables_cleanup() -> None:
    for tool in ("iptables", "ip6tables"):
        if shutil.which(tool) is None:
            continue
        for table in ("filter", "nat", "mangle"):
            rules = _run(tool, "-t", table, "-S", check=False).stdout.splitlines()
            ours = ("KUBE-", "CNI-", "JIRADRIFT-")
            # Jumps into our chains first, then the chains themselves.
            for rule in rules:
                if rule.startswith("-A ") and any(f"-j {p}" in rule for p in ours):
                    _run(tool, "-t", table, *shlex.split(rule.replace("-A ", "-D ", 1)), check=False)
            for rule in rules:
                if rule.startswith("-N ") and rule[3:].startswith(ours):
                    _run(tool, "-t", table, "-F", rule[3:], check=False)
            for rule in rules:
                if rule.startswith("-N ") and rule[3:].startswith(ours):
                    _run(tool, "-t", table, "-X", rule[3:], check=False)
            # The CNI bridge plugin's masquerade rules name the pod subnet.
            for rule in _run(tool, "-t", table, "-S", check=False).stdout.splitlines():
                if rule.startswith("-A ") and POD_CIDR in rule:
                    _run(tool, "-t", table, *shlex.split(rule.replace("-A ", "-D ", 1)), check=False)


def _cgroup_cleanup() -> None:
    root = Path("/sys/fs/cgroup")
    for kubepods in list(root.glob("*/kubepods")) + list(root.glob("kubepods")):
        for directory in sorted(kubepods.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            if directory.is_dir():
                with contextlib.suppress(OSError):
                    directory.rmdir()
        with contextlib.suppress(OSError):
            kubepods.rmdir()


def _isolate_pods() -> None:
    """Pods talk to this machine only: the API server and the emulator on the bridge, and Services
    (whose DNAT happens before forwarding). Anything else a pod sends is refused, never routed out."""
    _run("iptables", "-N", ISOLATION_CHAIN)
    _run("iptables", "-A", ISOLATION_CHAIN, "-s", POD_CIDR, "!", "-d", POD_CIDR, "-j", "REJECT")
    _run("iptables", "-I", "FORWARD", "1", "-j", ISOLATION_CHAIN)


def cleanup() -> None:
    """Undo everything a node did to this host, whether it stopped cleanly or crashed."""
    state = _load_state()
    workdir = Path(state.get("workdir", NODE_DIR))
    _kill_pids([pid for pid in state.get("pids", []) if isinstance(pid, int)])
    _kill_pids(_processes_under(workdir))
    _unmount_under(workdir)
    _iptables_cleanup()
    if Path(f"/sys/class/net/{BRIDGE}").exists():
        _run("ip", "link", "delete", BRIDGE, check=False)
    for veth in Path("/sys/class/net").iterdir():
        master = veth / "master"
        if master.exists() and master.resolve().name == BRIDGE:
            _run("ip", "link", "delete", veth.name, check=False)
    _cgroup_cleanup()
    for name, value in state.get("sysctls", {}).items():
        with contextlib.suppress(OSError):
            _sysctl_path(name).write_text(str(value))
    for link in Path("/var/log/containers").glob("*.log") if Path("/var/log/containers").exists() else []:
        if link.is_symlink() and str(workdir) in os.readlink(link):
            link.unlink()
    shutil.rmtree(workdir, ignore_errors=True)
    STATE_FILE.unlink(missing_ok=True)


# --- the cluster ----------------------------------------------------------------------------


@dataclass
class Cluster:
    """The control plane (bound on the bridge) and one node; use ``Cluster.start()``."""

    plane: ControlPlane
    workdir: Path
    _lock: IO[str]
    _procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)  # by component name

    @property
    def containerd_socket(self) -> Path:
        return self.workdir / "containerd" / "containerd.sock"

    @property
    def registry_hosts(self) -> Path:
        """containerd's registry host configuration (``certs.d/<host:port>/hosts.toml``), read on each pull."""
        return self.workdir / "containerd" / "certs.d"

    @classmethod
    @contextlib.contextmanager
    def start(cls, *, timeout: float = 180) -> Iterator[Cluster]:
        cluster = cls.launch(timeout=timeout)
        try:
            yield cluster
        finally:
            cluster.stop()

    @classmethod
    def launch(cls, *, timeout: float = 180) -> Cluster:
        preflight()
        LOCK_FILE.parent.mkdir(parents=True, exist_ok=True)
        lock = open(LOCK_FILE, "w")  # held for the node's lifetime
        fcntl.flock(lock, fcntl.LOCK_EX)  # one node per machine: a second start waits its turn
        cleanup()  # whatever a crashed node left behind
        workdir = NODE_DIR
        workdir.mkdir(parents=True, exist_ok=True)
        state: dict[str, Any] = {"workdir": str(workdir), "pids": [], "sysctls": {}}
        for name in SYSCTLS:
            with contextlib.suppress(OSError):
                state["sysctls"][name] = _sysctl_path(name).read_text().strip()
        _save_state(state)
        plane: ControlPlane | None = None
        cluster: Cluster | None = None
        try:
            _sysctl_path("net.ipv4.ip_forward").write_text("1")
            _run("ip", "link", "add", BRIDGE, "type", "bridge")
            _run("ip", "addr", "add", f"{GATEWAY}/24", "dev", BRIDGE)
            _run("ip", "link", "set", BRIDGE, "up")
            _isolate_pods()
            plane = ControlPlane.launch(workdir / "control-plane", timeout=timeout, bind_address=GATEWAY)
            state["pids"] += [p.pid for p in plane._procs]
            _save_state(state)
            cluster = cls(plane, workdir, lock)
            cluster._start_node(state, timeout)
            return cluster
        except BaseException:
            if cluster is not None:
                cluster.stop()
            else:
                if plane is not None:
                    plane.stop()
                cleanup()
                lock.close()
            raise

    def _spawn(self, state: dict[str, Any], name: str, args: list[str]) -> subprocess.Popen[bytes]:
        proc = _spawn(args, self.workdir / f"{name}.log")
        self._procs[name] = proc
        state["pids"].append(proc.pid)
        _save_state(state)
        return proc

    def _kubeconfig(self, name: str, user: str, groups: list[str]) -> Path:
        return self.plane._write_kubeconfig(self.workdir / f"{name}.kubeconfig", user, groups)

    def _start_node(self, state: dict[str, Any], timeout: float) -> None:
        bins = self.plane.bin_dir
        certs = self.plane.workdir / "certs"
        w = self.workdir
        self._spawn(
            state,
            "kube-controller-manager",
            [
                str(bins / "kube-controller-manager"),
                f"--kubeconfig={self._kubeconfig('controller-manager', 'system:kube-controller-manager', [])}",
                f"--root-ca-file={certs / 'serving-ca.crt'}",
                f"--service-account-private-key-file={certs / 'sa.key'}",
                "--use-service-account-credentials=true",
                "--leader-elect=false",
                "--secure-port=0",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--kube-api-qps=100",
                "--kube-api-burst=200",
                "--concurrent-gc-syncs=5",
            ],
        )
        self._spawn(
            state,
            "kube-scheduler",
            [
                str(bins / "kube-scheduler"),
                f"--kubeconfig={self._kubeconfig('scheduler', 'system:kube-scheduler', [])}",
                "--leader-elect=false",
                "--secure-port=0",
            ],
        )
        # containerd, with its CRI plugin set for this host (no CAP_SYS_RESOURCE, cgroup v1, no registry).
        ctd = w / "containerd"
        cni_conf = w / "cni" / "net.d"
        for d in (ctd, cni_conf, w / "cni" / "ipam"):
            d.mkdir(parents=True, exist_ok=True)
        (ctd / "config.toml").write_text(
            f"""version = 2
root = "{ctd / "root"}"
state = "{ctd / "state"}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "{self.containerd_socket}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{CNI_BIN}"
    conf_dir = "{cni_conf}"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "{self.registry_hosts}"
"""
        )
        (cni_conf / "10-jiradrift.conflist").write_text(
            json.dumps(
                {
                    "cniVersion": "1.0.0",
                    "name": "jiradrift",
                    "plugins": [
                        {
                            "type": "bridge",
                            "bridge": BRIDGE,
                            "isGateway": True,
                            "ipMasq": True,
                            "hairpinMode": True,
                            "ipam": {
                                "type": "host-local",
                                "dataDir": str(w / "cni" / "ipam"),
                                "ranges": [[{"subnet": POD_CIDR, "gateway": GATEWAY}]],
                                "routes": [{"dst": "0.0.0.0/0"}],
                            },
                        },
                        {"type": "portmap", "capabilities": {"portMappings": True}},
                        {"type": "firewall"},
                    ],
                }
            )
        )
        self._spawn(state, "containerd", ["containerd", "--config", str(ctd / "config.toml")])
        self._wait(lambda: self._ctr("version", check=False).returncode == 0, "containerd", "containerd", timeout)
        self.import_image(pause_image_tar(find_binaries().parent.parent))

        # kubelet
        kubelet_dir = w / "kubelet"
        kubelet_dir.mkdir(exist_ok=True)
        (w / "pod-logs").mkdir(exist_ok=True)
        kubelet_config = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "failCgroupV1": False,
            "cgroupDriver": "cgroupfs",
            "containerRuntimeEndpoint": f"unix://{self.containerd_socket}",
            "failSwapOn": False,
            "podLogsDir": str(w / "pod-logs"),
            "authentication": {
                "anonymous": {"enabled": False},
                "webhook": {"enabled": True},
                "x509": {"clientCAFile": str(certs / "client-ca.crt")},
            },
            "authorization": {"mode": "Webhook"},
            "clusterDomain": "cluster.local",
            "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
            "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 99,
            "serializeImagePulls": False,
            "resolvConf": "/etc/resolv.conf",
            "maxPods": 60,
        }
        (kubelet_dir / "config.yaml").write_text(yaml.safe_dump(kubelet_config))
        node_kubeconfig = self._kubeconfig("kubelet", f"system:node:{NODE_NAME}", ["system:nodes"])
        self._spawn(
            state,
            "kubelet",
            [
                str(bins / "kubelet"),
                f"--config={kubelet_dir / 'config.yaml'}",
                f"--kubeconfig={node_kubeconfig}",
                f"--root-dir={kubelet_dir / 'root'}",
                f"--cert-dir={kubelet_dir / 'pki'}",
                f"--hostname-override={NODE_NAME}",
                f"--node-ip={GATEWAY}",
                "--v=1",
            ],
        )
        # kube-proxy, iptables mode
        proxy_config = {
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
            "kind": "KubeProxyConfiguration",
            "mode": "iptables",
            "clusterCIDR": POD_CIDR,
            "nodePortAddresses": [f"{GATEWAY}/32"],
            "hostnameOverride": NODE_NAME,
            "clientConnection": {
                "kubeconfig": str(self._kubeconfig("kube-proxy", "system:kube-proxy", [])),
            },
            "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
            "metricsBindAddress": f"127.0.0.1:{free_port()}",
            "healthzBindAddress": f"127.0.0.1:{free_port()}",
        }
        (w / "kube-proxy.yaml").write_text(yaml.safe_dump(proxy_config))
        self._spawn(state, "kube-proxy", [str(bins / "kube-proxy"), f"--config={w / 'kube-proxy.yaml'}"])

        def node_ready() -> bool:
            out = self.plane.kubectl(
                "get", "node", NODE_NAME, "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}", check=False
            )
            return out.stdout.strip() == "True"

        self._wait(node_ready, "the node", "kubelet", timeout)
        # Pods reach the API server only once kube-proxy has programmed the `kubernetes` Service.
        self._wait(
            lambda: SERVICE_IP in _run("iptables", "-t", "nat", "-S", "KUBE-SERVICES", check=False).stdout,
            "kube-proxy (the kubernetes Service's rules)",
            "kube-proxy",
            timeout,
        )
        # kube-root-ca.crt in every namespace comes from the controller-manager; pods wait for it.
        self._wait(
            lambda: (
                self.plane.kubectl("get", "configmap", "-n", "default", "kube-root-ca.crt", check=False).returncode == 0
            ),
            "kube-controller-manager",
            "kube-controller-manager",
            timeout,
        )

    def _wait(self, check: Any, what: str, name: str, timeout: float) -> None:
        """Until ``check()``; fails with the log tail of component ``name`` if it exits meanwhile."""
        _wait_until(check, what, self._procs[name], self.workdir / f"{name}.log", timeout)

    def _ctr(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return _run(
            "ctr", "--address", str(self.containerd_socket), "-n", "k8s.io", *args, check=check, timeout=timeout
        )

    def import_image(self, tarball: Path) -> None:
        """Load an image tarball into the node's containerd (pods then use ``imagePullPolicy: Never``)."""
        self._ctr("images", "import", "--no-unpack", str(tarball), timeout=600)

    def trust_registry(self, address: str, ca: Path) -> None:
        """Let the node's containerd pull from the registry at ``address`` (host:port) over TLS,
        trusting ``ca`` for that registry only, as an admin configures a private registry on a node.
        containerd reads the file on each pull: no restart."""
        hosts = self.registry_hosts / address
        hosts.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ca, hosts / "ca.crt")
        (hosts / "hosts.toml").write_text(
            f'server = "https://{address}"\n\n'
            f'[host."https://{address}"]\n'
            '  capabilities = ["pull", "resolve"]\n'
            f'  ca = "{hosts / "ca.crt"}"\n'
        )

    def image_digests(self) -> dict[str, str]:
        """What the node's containerd holds: image name -> manifest (or index) digest."""
        out = self._ctr("images", "ls").stdout.splitlines()[1:]
        return {line.split()[0]: line.split()[2] for line in out if line.strip()}

    def tag_image(self, source: str, target: str) -> None:
        self._ctr("images", "tag", "--force", _qualified(source), _qualified(target))

    def stop(self) -> None:
        """Stop in the order that leaves nothing behind: controllers first (else ReplicaSets recreate
        pods), pods while kubelet still runs, then kube-proxy and kubelet, the API server, and last the
        host state (mounts, iptables, the bridge, cgroups, sysctls)."""
        try:
            by_name = self._procs
            for name in ("kube-controller-manager", "kube-scheduler"):
                if name in by_name:
                    _stop(by_name[name])
            if "kubelet" in by_name and by_name["kubelet"].poll() is None:
                self.plane.kubectl(
                    "delete", "pods", "--all", "-A", "--grace-period=1", "--wait=true", "--timeout=60s", check=False
                )
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    tasks = self._ctr("tasks", "ls", "-q", check=False).stdout.split()
                    if not tasks:
                        break
                    time.sleep(0.5)
            if "kube-proxy" in by_name:
                _stop(by_name["kube-proxy"])
            for name in ("kubelet", "containerd"):
                if name in by_name:
                    _stop(by_name[name])
            self.plane.stop()
        finally:
            cleanup()
            with contextlib.suppress(OSError):
                self._lock.close()


def _qualified(ref: str) -> str:
    """containerd names images in full: ``docker.io/library/name:tag`` for a short ``name:tag``."""
    first = ref.split("/", 1)[0]
    if "/" not in ref:
        return f"docker.io/library/{ref}"
    if "." not in first and ":" not in first and first != "localhost":
        return f"docker.io/{ref}"
    return ref


def preflight() -> None:
    """Root and the Debian packages a node needs; install the packages if they are missing."""
    if os.geteuid() != 0:
        raise ControlPlaneError("a node needs root (it manages containerd, a bridge and iptables)")
    missing = [
        pkg
        for pkg, probe in zip(
            DEBIAN_PACKAGES,
            (
                shutil.which("containerd"),
                shutil.which("runc"),
                (CNI_BIN / "bridge").exists() or None,
                shutil.which("iptables"),
                shutil.which("conntrack"),
            ),
            strict=True,
        )
        if not probe
    ]
    if missing:
        _run("apt-get", "update", "-qq", timeout=600)
        _run("apt-get", "install", "-y", "-qq", *missing, timeout=900)
