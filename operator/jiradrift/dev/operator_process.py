"""Run ``jiradrift run`` as a real child process against a control plane (tests and the demo).

The operator runs exactly as in a pod: its own process, a kubeconfig (admin, or a
ServiceAccount's for RBAC-faithful runs), JSON logs captured to a file for assertions.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jiradrift.dev.controlplane import ControlPlane, free_port

# The emulator listens on loopback: the test and demo operators allow it, as a cluster admin would
# allow a site (a production operator refuses loopback unless --allowed-hosts names it).
EMULATOR_HOSTS = ("127.0.0.1", "localhost")


class OperatorProcess:
    def __init__(
        self, proc: subprocess.Popen[bytes], log: Path, metrics_port: int, liveness_port: int, readiness_port: int
    ) -> None:
        self.proc = proc
        self.log = log
        self.metrics_port = metrics_port
        self.liveness_port = liveness_port
        self.readiness_port = readiness_port

    def lines(self) -> list[dict[str, Any]]:
        out = []
        for raw in self.log.read_text(errors="replace").splitlines():
            try:
                out.append(json.loads(raw))
            except ValueError:
                out.append({"message": raw})
        return out

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def start_operator(
    plane: ControlPlane,
    namespaces: Sequence[str],
    workdir: Path,
    *,
    kubeconfig: Path | None = None,
    store: str = "secret",
    lease_duration: int = 15,
    tenant_interval: float = 2.0,
    name: str = "operator",
    extra: Sequence[str] = (),
    allowed_hosts: Sequence[str] = EMULATOR_HOSTS,
    env: Mapping[str, str] | None = None,
) -> OperatorProcess:
    workdir.mkdir(parents=True, exist_ok=True)
    metrics_port, liveness_port, readiness_port = free_port(), free_port(), free_port()
    args = [sys.executable, "-m", "jiradrift", "run"]
    for ns in namespaces:
        args += ["--namespace", ns]
    args += [
        "--store",
        store,
        "--store-path",
        str(workdir / "store"),
        "--metrics-port",
        str(metrics_port),
        "--liveness",
        f"http://127.0.0.1:{liveness_port}/healthz",
        "--readiness",
        f"http://127.0.0.1:{readiness_port}/readyz",
        "--lease-duration",
        str(lease_duration),
        "--tenant-interval",
        str(tenant_interval),
        "--allowed-hosts",
        ",".join(allowed_hosts),
        *extra,
    ]
    environ = {**os.environ, **(env or {}), "KUBECONFIG": str(kubeconfig or plane.kubeconfig), "POD_NAME": name}
    log = workdir / f"{name}.log"
    out = open(log, "ab")
    proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=environ, start_new_session=True)
    return OperatorProcess(proc, log, metrics_port, liveness_port, readiness_port)


@contextmanager
def running_operator(
    plane: ControlPlane, namespaces: Sequence[str], workdir: Path, **kwargs: Any
) -> Iterator[OperatorProcess]:
    op = start_operator(plane, namespaces, workdir, **kwargs)
    try:
        yield op
    finally:
        op.stop()


def wait_for(
    check: Callable[[], Any],
    what: str,
    timeout: float = 60,
    interval: float = 0.5,
    op: OperatorProcess | None = None,
) -> Any:
    """Poll ``check`` until it returns a truthy value, and return that value.

    ``check`` may also raise AssertionError to say "not yet" with a reason. On timeout the failure
    names what was awaited, what ``check`` last saw (its falsy value or its assertion message), and
    the operator's log tail. ``check`` always runs at least once, and once more after the deadline.
    """
    deadline = time.monotonic() + timeout
    last = "nothing"
    while True:
        past = time.monotonic() >= deadline
        try:
            value = check()
        except AssertionError as exc:
            last = str(exc) or repr(exc)
        else:
            if value:
                return value
            last = repr(value)
        if op is not None and op.proc.poll() is not None:
            raise AssertionError(
                f"operator exited ({op.proc.returncode}) while waiting for {what}; last seen: {last}\n"
                f"{op.text()[-4000:]}"
            )
        if past:
            break
        time.sleep(interval)
    tail = op.text()[-4000:] if op else ""
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last seen: {last[:2000]}\n{tail}")
