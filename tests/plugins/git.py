"""pytest fixtures for real git servers on loopback, for the history tests (registered in tests/conftest.py;
test tooling): ``ssh_git`` and ``https_git``, one of each per session, and ``repo_name``, a fresh repository
name per test.

- :class:`SshGitServer`: Debian's OpenSSH ``sshd`` on a free loopback port, with its own host key and
  config in a temporary directory; the client key's ``authorized_keys`` line forces ``git-shell``,
  so the key can run git's pack protocols and nothing else.
- :class:`HttpsGitServer`: ``git http-backend`` (git's smart HTTP) as a CGI behind the demo's small
  threaded HTTPS server (``jiradrift.dev.git_https``) with a certificate from a CA made for the
  purpose; requests without the token (HTTP basic auth) get 401.

Both serve bare repositories under one root; :meth:`GitServers.new_repo` makes one, optionally with a
``pre-receive`` hook that refuses every push (a protected branch). Startup waits on the condition
(the port accepts connections), bounded; both are stopped when the session ends.
"""

from __future__ import annotations

import base64
import getpass
import itertools
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from jiradrift.dev.controlplane import _CA, _pem_cert, _pem_key, free_port
from jiradrift.dev.git_https import USERNAME, GitHttpServer

PROTECTED_HOOK = "#!/bin/sh\necho 'GL-HOOK-ERR: branch is protected: pushes to it are refused' >&2\nexit 1\n"


def _wait_port(
    port: int, proc: subprocess.Popen[bytes] | None, what: str, log: Path | None, timeout: float = 20
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}: {log.read_text() if log else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)  # polling a condition (the port), bounded by the deadline
    raise RuntimeError(f"{what} did not open port {port} within {timeout} s: {log.read_text() if log else ''}")


def keygen(path: Path) -> str:
    """An ed25519 key pair at ``path`` (and ``path.pub``); returns the public key line."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path)], check=True)
    return (path.with_name(path.name + ".pub")).read_text().strip()


@dataclass
class SshGitServer:
    port: int
    root: Path
    host_key_line: str  # the pinned known_hosts line
    client_key: str  # the deploy key (private, OpenSSH PEM) that is authorised
    other_key: str  # a key the server does not know
    wrong_host_line: str  # a known_hosts line with another key for the same host
    proc: subprocess.Popen[bytes]
    log: Path

    def url(self, repo: str) -> str:
        return f"ssh://{getpass.getuser()}@127.0.0.1:{self.port}{self.root / repo}"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    @classmethod
    def start(cls, workdir: Path, root: Path) -> SshGitServer:
        workdir.mkdir(parents=True, exist_ok=True)
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # sshd's privilege-separation directory
        host_pub = keygen(workdir / "host_ed25519")
        keygen(workdir / "client")
        keygen(workdir / "other")
        other_host_pub = keygen(workdir / "other_host")
        client_pub = (workdir / "client.pub").read_text().strip()
        forced = (
            'command="git-shell -c \\"$SSH_ORIGINAL_COMMAND\\"",'
            "no-port-forwarding,no-X11-forwarding,no-agent-forwarding,no-pty"
        )
        (workdir / "authorized_keys").write_text(f"{forced} {client_pub}\n")
        port = free_port()
        config = workdir / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"Port {port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {workdir / 'host_ed25519'}",
                    f"PidFile {workdir / 'sshd.pid'}",
                    f"AuthorizedKeysFile {workdir / 'authorized_keys'}",
                    "StrictModes no",
                    "UsePAM no",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "PubkeyAuthentication yes",
                    "PermitRootLogin forced-commands-only",
                    f"AllowUsers {getpass.getuser()}",
                    "LogLevel VERBOSE",
                    "",
                ]
            )
        )
        log = workdir / "sshd.log"
        proc = subprocess.Popen(
            [shutil.which("sshd") or "/usr/sbin/sshd", "-D", "-e", "-f", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=log.open("wb"),
        )
        _wait_port(port, proc, "sshd", log)
        host = f"[127.0.0.1]:{port}"
        return cls(
            port=port,
            root=root,
            host_key_line=f"{host} {' '.join(host_pub.split()[:2])}",
            client_key=(workdir / "client").read_text(),
            other_key=(workdir / "other").read_text(),
            wrong_host_line=f"{host} {' '.join(other_host_pub.split()[:2])}",
            proc=proc,
            log=log,
        )


@dataclass
class HttpsGitServer:
    port: int
    root: Path
    token: str
    username: str
    ca_pem: str
    server: GitHttpServer

    def url(self, repo: str) -> str:
        return f"https://127.0.0.1:{self.port}/{repo}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @classmethod
    def start(cls, workdir: Path, root: Path) -> HttpsGitServer:
        workdir.mkdir(parents=True, exist_ok=True)
        ca = _CA.create("jiradrift-test-git-ca")
        key, cert = ca.issue("127.0.0.1", server=True)
        (workdir / "tls.crt").write_bytes(_pem_cert(cert))
        (workdir / "tls.key").write_bytes(_pem_key(key))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(workdir / "tls.crt", workdir / "tls.key")
        token = base64.b32encode(os.urandom(20)).decode()
        server = GitHttpServer(("127.0.0.1", 0), root, token)  # the demo's server, on loopback
        server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, name="git-https", daemon=True).start()
        port = int(server.server_address[1])
        _wait_port(port, None, "git https server", None)
        return cls(port, root, token, USERNAME, _pem_cert(ca.cert).decode(), server)


def new_repo(root: Path, name: str, *, protected: bool = False) -> Path:
    """A bare repository ``name`` under ``root`` (``protected``: a pre-receive hook refuses every push)."""
    path = root / name
    subprocess.run(["git", "init", "--quiet", "--bare", "--initial-branch=main", str(path)], check=True)
    subprocess.run(["git", f"--git-dir={path}", "config", "http.receivepack", "true"], check=True)
    if protected:
        hook = path / "hooks" / "pre-receive"
        hook.write_text(PROTECTED_HOOK)
        hook.chmod(0o755)
    return path


_names = itertools.count()


@pytest.fixture(scope="session")
def git_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("git-repos")


@pytest.fixture(scope="session")
def ssh_git(tmp_path_factory: pytest.TempPathFactory, git_root: Path) -> Iterator[SshGitServer]:
    server = SshGitServer.start(tmp_path_factory.mktemp("sshd"), git_root)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def https_git(tmp_path_factory: pytest.TempPathFactory, git_root: Path) -> Iterator[HttpsGitServer]:
    server = HttpsGitServer.start(tmp_path_factory.mktemp("git-https"), git_root)
    yield server
    server.stop()


@pytest.fixture
def repo_name() -> str:
    return f"history-{next(_names)}.git"
