"""What several benches start: the emulator in its own process, and a versitygw S3 server.

with child_process(_serve, (size, latency_ms), "the emulator") as (info, counts):
    ...   # info: what the child sent first; counts: what it sends back when told to stop

with versitygw(tmp_dir) as (endpoint, credentials, pid):
    ...
"""

from __future__ import annotations

import multiprocessing as mp
import os
import secrets
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jiradrift.store.sigv4 import Credentials

REPO = Path(__file__).resolve().parents[1]


@contextmanager
def child_process(
    target: Callable[..., None], args: tuple[Any, ...], what: str, start_timeout: float = 180
) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Run ``target(*args, conn)`` in a spawned process (no state shared with the bench).

    The child sends one dict when it is ready, then waits for "stop" and may answer with a dict
    (e.g. the emulator's request counts), which fills ``counts`` after the block.
    """
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=target, args=(*args, child), daemon=True)
    proc.start()
    counts: dict[str, Any] = {}
    try:
        if not parent.poll(start_timeout):
            raise RuntimeError(f"{what} did not start within {start_timeout:.0f} s")
        info: dict[str, Any] = parent.recv()
        info["pid"] = proc.pid
        yield info, counts
    finally:
        try:
            parent.send("stop")
            if parent.poll(30):
                counts.update(parent.recv())
        except (OSError, EOFError):
            pass  # it died (e.g. SIGINT reached it too)
        proc.join(30)
        if proc.is_alive():
            proc.terminate()
            proc.join(10)


@contextmanager
def versitygw(root: Path) -> Iterator[tuple[str, Credentials, int]]:
    """versitygw (posix backend) built by tools/build-s3.sh, as the tests run it: (endpoint, credentials, pid).

    Its data lives in ``root/s3data`` and its log in ``root/versitygw.log``.
    """
    binary = subprocess.run(
        ["bash", str(REPO / "tools" / "build-s3.sh")], check=True, capture_output=True, text=True
    ).stdout.split()[-1]
    credentials = Credentials(f"bench{secrets.token_hex(4)}", secrets.token_urlsafe(24))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (root / "s3data").mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "ROOT_ACCESS_KEY_ID": credentials.access_key_id,
        "ROOT_SECRET_ACCESS_KEY": credentials.secret_access_key,
    }
    with open(root / "versitygw.log", "wb") as log:
        server = subprocess.Popen(
            [binary, "--port", f"127.0.0.1:{port}", "--quiet", "posix", str(root / "s3data")],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"versitygw did not start; see {root / 'versitygw.log'}") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}", credentials, server.pid
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
