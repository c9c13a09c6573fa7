"""The demo's git server (``jiradrift/dev/git_https.py``, run as a pod by ``jiradrift.dev.gitpod``), on
loopback: it creates the repository, takes a push over HTTPS with the token, and refuses one without."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jiradrift.dev import gitpod
from jiradrift.dev.controlplane import _CA, _pem_cert, _pem_key, free_port

SCRIPT = Path(gitpod.__file__).with_name("git_https.py")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    ca = _CA.create("test-git-ca")
    key, cert = ca.issue("localhost", server=True, sans=["localhost"])
    (tmp_path / "tls.crt").write_bytes(_pem_cert(cert))
    (tmp_path / "tls.key").write_bytes(_pem_key(key))
    (tmp_path / "ca.crt").write_bytes(_pem_cert(ca.cert))
    root = tmp_path / "root"
    root.mkdir()
    port = free_port()
    tls = [f"--cert={tmp_path / 'tls.crt'}", f"--key={tmp_path / 'tls.key'}"]
    args = [f"--root={root}", f"--repo={gitpod.REPO}", *tls]
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), *args, f"--port={port}"],
        env={**os.environ, "GIT_TOKEN": "the-token"},
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 20
    while True:  # the condition: the port accepts connections (bounded)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.05)
    try:
        yield port, tmp_path
    finally:
        proc.terminate()
        proc.wait(10)


def _push(work: Path, url: str, ca: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GIT_SSL_CAINFO": str(ca), "GIT_TERMINAL_PROMPT": "0"}
    return subprocess.run(["git", "-C", str(work), "push", url, "main"], capture_output=True, text=True, env=env)


def test_the_demo_git_server_takes_a_push_with_the_token_only(server: tuple[int, Path]) -> None:
    port, tmp = server
    work = tmp / "work"
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    (work / "workflow.yaml").write_text("description: edited\n")
    subprocess.run(["git", "-C", str(work), "add", "."], check=True)
    who = ["-c", "user.name=Site Admin", "-c", "user.email=admin@users.noreply.jiradrift.invalid"]
    subprocess.run(["git", "-C", str(work), *who, "commit", "-q", "-m", "workflows: 1 change"], check=True)

    refused = _push(work, f"https://x-access-token:wrong@localhost:{port}/{gitpod.REPO}", tmp / "ca.crt")
    assert refused.returncode != 0 and "Authentication failed" in refused.stderr, refused.stderr
    pushed = _push(work, f"https://x-access-token:the-token@localhost:{port}/{gitpod.REPO}", tmp / "ca.crt")
    assert pushed.returncode == 0, pushed.stderr
    bare = tmp / "root" / gitpod.REPO
    log = subprocess.run(
        ["git", f"--git-dir={bare}", "log", "--format=%an|%s", "main"], capture_output=True, text=True, check=True
    )
    assert log.stdout == "Site Admin|workflows: 1 change\n"
