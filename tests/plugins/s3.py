"""pytest fixtures for a real S3-compatible server (registered in tests/conftest.py; test tooling).

``s3_server`` runs versitygw (posix backend; object metadata in extended attributes, which makes
an object's etag change atomically with its body, as conditional writes need) built by
tools/build-s3.sh, once per session, on loopback; ``s3_config`` gives each test a fresh bucket.
``JIRADRIFT_S3_BIN`` (set by tools/test.sh) names the binary; otherwise the build script runs
(well under a second when cached).
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from jiradrift.dev.operator_process import wait_for
from jiradrift.store.s3client import S3Client, S3Config
from jiradrift.store.sigv4 import Credentials

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    credentials: Credentials
    log: Path

    def config(self, bucket: str, **options: object) -> S3Config:
        return S3Config(endpoint=self.endpoint, bucket=bucket, path_style=True, **options)  # type: ignore[arg-type]

    def env(self) -> dict[str, str]:
        """The environment a CLI or operator process needs to reach this server."""
        return {
            "AWS_ACCESS_KEY_ID": self.credentials.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.credentials.secret_access_key,
        }


def s3_binary() -> Path:
    found = os.environ.get("JIRADRIFT_S3_BIN")
    if found:
        return Path(found)
    out = subprocess.run(
        ["bash", str(REPO / "tools" / "build-s3.sh")], check=True, capture_output=True, text=True, timeout=3600
    )
    path = Path(out.stdout.strip().splitlines()[-1])
    os.environ["JIRADRIFT_S3_BIN"] = str(path)
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _answers(endpoint: str) -> bool:
    try:
        httpx.get(endpoint, timeout=1.0)
    except httpx.TransportError:
        return False
    return True


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    binary = s3_binary()
    root = tmp_path_factory.mktemp("s3")
    (root / "data").mkdir()
    credentials = Credentials(f"test{secrets.token_hex(6)}", secrets.token_urlsafe(24))
    log = root / "versitygw.log"
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                str(binary),
                "--port",
                f"127.0.0.1:{port}",
                "--quiet",
                "posix",
                str(root / "data"),
            ],
            env={
                "PATH": os.environ.get("PATH", ""),
                "ROOT_ACCESS_KEY_ID": credentials.access_key_id,
                "ROOT_SECRET_ACCESS_KEY": credentials.secret_access_key,
            },
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:

        def up() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"versitygw exited ({proc.returncode}): {log.read_text()[-2000:]}")
            return _answers(endpoint)

        wait_for(up, f"versitygw to answer on {endpoint}", timeout=30, interval=0.1)
        yield S3Server(endpoint, credentials, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def s3_bucket() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def s3_client(s3_server: S3Server, s3_bucket: str) -> AsyncIterator[S3Client]:
    """A client of a fresh, empty bucket of its own."""
    client = S3Client.connect(s3_server.config(s3_bucket), s3_server.credentials)
    await client.create_bucket()
    yield client
    await client.aclose()
