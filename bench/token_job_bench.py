"""Token job benchmark: ``jiradrift refresh-tokens`` over N tenants whose tokens all need refreshing.

    .venv/bin/python bench/token_job_bench.py                 # 10,000 tenants (the DESIGN target)
    .venv/bin/python bench/token_job_bench.py --tenants 1000 --concurrency 32
    .venv/bin/python bench/token_job_bench.py --baseline ''      # this tree only

Baseline: DESIGN.md "Token job: 10,000 tenants processed in under a minute against the emulator".
Worst case on purpose: every tenant is an OAuth (3LO) tenant whose access token expires within the
window, so each one takes its Lease, re-reads its Secret, rotates its refresh token at the
emulator, writes the Secret (resourceVersion precondition), patches status and releases the Lease.

A real kube-apiserver + etcd (``ControlPlane``) and the emulator (its own process) run on loopback;
the job is the CLI exactly as the CronJob runs it, in its own process, authenticated by a
ServiceAccount token with the chart's refresher RBAC (``--admin``: the admin client certificate).
The job's Python path starts with ``bench/production_path``, which hides the dev-only
``kubernetes-validate`` (the image has none; importing it costs ~5 s of CPU at the job's start).
Side by side in one run: the same job from the code of ``--baseline`` (a git ref, default
``BASELINE_REF``) runs first on its own N tenants, then this tree's on N others, against the
same API server and emulator. Prints, for each, the wall time, the ratio to the 60 s target,
tenants/s, API requests per tenant and the CPU seconds each process used (all share the cores), then
this tree's time as a ratio of the baseline's.
"""

from __future__ import annotations

import argparse
import base64
import os
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import yaml
from benchlib import child_process
from kubernetes import config as k8s_config

from jiradrift.api.credentials import ALLOWED_TENANTS_ANNOTATION
from jiradrift.dev.controlplane import ControlPlane, install_crds
from jiradrift.dev.kubejson import api_requests, request_json

TARGET_S = 60.0
BASELINE_REF = "cee29e8"
"""The side-by-side baseline: the token code as of 2026-12-07 (196a643, the code before issue 25's fixes, no
longer runs: its model refuses today's defaulted ``spec.schedule.incremental``)."""
SUMMARY_PREFIX = "Token refresh job: "
PRODUCTION_PATH = Path(__file__).resolve().parent / "production_path"


def _serve(grants: int, conn: Any) -> None:
    from jiradrift.sim.emulator import Emulator

    with Emulator(size="small", seed=1).running() as emu:
        tokens = [emu.oauth.create_grant() for _ in range(grants)]
        creds = emu.credentials
        conn.send(
            {
                "token_url": emu.token_url,
                "base_url": emu.base_url,
                "client_id": creds.client_id,
                "client_secret": creds.client_secret,
                "refresh_tokens": tokens,
            }
        )
        conn.recv()  # until told to stop
        conn.send(dict(emu.requests.counts))


@contextmanager
def emulator_process(grants: int) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    with child_process(_serve, (grants,), "the emulator") as (info, counts):
        yield info, counts


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def populate(
    api: Any, sim: dict[str, Any], tenants: int, per_namespace: int, with_status: bool, prefix: str, first_grant: int
) -> list[str]:
    expires = (datetime.now(UTC) + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    namespaces = [f"{prefix}-{i:03d}" for i in range((tenants + per_namespace - 1) // per_namespace)]
    for ns in namespaces:
        request_json(api, "POST", "/api/v1/namespaces", body={"metadata": {"name": ns}})

    def one(i: int) -> None:
        ns, name = namespaces[i // per_namespace], f"tenant-{i:05d}"
        values = {
            "client_id": sim["client_id"],
            "client_secret": sim["client_secret"],
            "refresh_token": sim["refresh_tokens"][first_grant + i],
            "access_token": "at-expiring",
            "expires_at": expires,
        }
        request_json(
            api,
            "POST",
            f"/api/v1/namespaces/{ns}/secrets",
            body={
                # the Secret opts in to its tenant (jiradrift.io/allowed-tenants), as a Secret's owner does
                "metadata": {"name": f"{name}-creds", "annotations": {ALLOWED_TENANTS_ANNOTATION: name}},
                "data": {k: b64(v) for k, v in values.items()},
            },
        )
        request_json(
            api,
            "POST",
            f"/apis/jiradrift.io/v1alpha1/namespaces/{ns}/jiratenants",
            body={
                "apiVersion": "jiradrift.io/v1alpha1",
                "kind": "JiraTenant",
                "metadata": {"name": name},
                "spec": {
                    "site": sim["base_url"],
                    "apiGateway": sim["base_url"],
                    "auth": {"oauth": {"secretRef": {"name": f"{name}-creds"}, "tokenUrl": sim["token_url"]}},
                },
            },
        )
        if with_status:  # as after an earlier refresh by the operator or the job: status knows the expiry
            request_json(
                api,
                "PATCH",
                f"/apis/jiradrift.io/v1alpha1/namespaces/{ns}/jiratenants/{name}/status",
                body={"status": {"token": {"expiresAt": expires}}},
                content_type="application/merge-patch+json",
            )

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(one, range(tenants)))
    return namespaces


#: What the chart grants the refresher's ServiceAccount (docs/tokens.md, "Permissions").
REFRESHER_RULES = [
    {"apiGroups": ["jiradrift.io"], "resources": ["jiratenants"], "verbs": ["get", "list"]},
    {"apiGroups": ["jiradrift.io"], "resources": ["jiratenants/status"], "verbs": ["patch"]},
    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "update"]},
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "create", "update", "delete"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
]


def refresher_kubeconfig(api: Any, plane: ControlPlane, tmp: Path) -> Path:
    """A kubeconfig with a bound ServiceAccount token (TokenRequest) and the refresher's RBAC only.

    That is how the CronJob's pod authenticates (a projected token), and what the API server
    authenticates per request (cached), rather than verifying an admin client certificate.
    """
    ns, name = "jiradrift-system", "token-refresher"
    rbac = "/apis/rbac.authorization.k8s.io/v1"
    request_json(api, "POST", "/api/v1/namespaces", body={"metadata": {"name": ns}})
    request_json(api, "POST", f"/api/v1/namespaces/{ns}/serviceaccounts", body={"metadata": {"name": name}})
    request_json(api, "POST", f"{rbac}/clusterroles", body={"metadata": {"name": name}, "rules": REFRESHER_RULES})
    request_json(
        api,
        "POST",
        f"{rbac}/clusterrolebindings",
        body={
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": ns}],
        },
    )
    token = request_json(
        api,
        "POST",
        f"/api/v1/namespaces/{ns}/serviceaccounts/{name}/token",
        body={"spec": {"expirationSeconds": 3600}},
    )["status"]["token"]
    config = yaml.safe_load(plane.kubeconfig.read_text())
    config["users"] = [{"name": name, "user": {"token": token}}]
    for context in config["contexts"]:
        context["context"]["user"] = name
    path = tmp / "refresher.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def _start_pprof(api: Any, path: str) -> threading.Thread:
    """Fetch ``/debug/pprof/profile`` (kube-apiserver serves it to cluster admins) in the background."""

    def fetch() -> None:
        time.sleep(2)  # past the job's start-up
        resp = api.call_api(
            *api.param_serialize(
                method="GET",
                resource_path="/debug/pprof/profile",
                query_params=[("seconds", "20")],
                auth_settings=["BearerToken"],
            ),
            _request_timeout=60,
        )
        Path(path).write_bytes(resp.read())

    thread = threading.Thread(target=fetch, daemon=True)
    thread.start()
    return thread


def per_tenant_calls(before: dict[tuple[str, str], float], after: dict[tuple[str, str], float], tenants: int) -> str:
    """The job's API requests per tenant by verb and resource (the bench makes none meanwhile)."""
    delta = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}
    rows = sorted(((v, k) for k, v in delta.items() if v >= tenants / 10), reverse=True)
    total = sum(v for v, _ in rows)
    parts = ", ".join(f"{verb} {resource} {v / tenants:.2f}" for v, (verb, resource) in rows)
    return f"API requests per tenant: {total / tenants:.2f} ({parts})"


@dataclass
class JobRun:
    label: str
    elapsed: float
    summary: str
    returncode: int
    calls: str
    cpu: dict[str, float]
    stderr: str


def baseline_tree(ref: str, into: Path) -> Path:
    """The ``operator/`` source of git ``ref`` (the code to compare with), extracted under ``into``."""
    root = Path(__file__).resolve().parents[1]
    archive = subprocess.run(["git", "-C", str(root), "archive", ref, "operator"], capture_output=True, check=True)
    into.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into / "operator"


def run_job(
    label: str,
    api: Any,
    servers: dict[str, int],
    kubeconfig: Path,
    namespaces: list[str],
    args: argparse.Namespace,
    tmp: Path,
    source: Path | None,
) -> JobRun:
    """``jiradrift refresh-tokens`` over ``namespaces`` as the CronJob runs it (``source``: another tree's code)."""
    before = {name: cpu_seconds(pid) for name, pid in servers.items()}
    command = [
        *shlex.split(args.wrap),
        sys.executable,
        "-m",
        "jiradrift",
        "refresh-tokens",
        *(f"--namespace={ns}" for ns in namespaces),
        "--kubeconfig",
        str(kubeconfig),
        "--concurrency",
        str(args.concurrency),
        "--allowed-hosts",  # the emulator's token endpoint is on loopback
        "127.0.0.1",
        "--log-format",
        "plain",
    ]
    # As in the image: no dev extras (bench/production_path hides kubernetes-validate, whose import
    # alone costs the job ~5 s of CPU in the dev virtualenv); the baseline's package shadows this
    # tree's (PYTHONPATH precedes site-packages).
    paths = [str(PRODUCTION_PATH), *([str(source)] if source is not None else [])]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": os.pathsep.join(paths)}
    log_path = tmp / f"job-{label}.log"  # a file, not a pipe: a full pipe would stall the job
    profiler = _start_pprof(api, args.apiserver_pprof) if args.apiserver_pprof and source is None else None
    requests_before = api_requests(api)
    started = time.monotonic()
    with open(log_path, "w") as log_file:
        job = psutil.Popen(command, stdout=subprocess.PIPE, stderr=log_file, text=True, env=env)
        cpu_job = 0.0
        while job.poll() is None:
            try:
                cpu_job = cpu_seconds(job.pid)
            except psutil.NoSuchProcess:
                break
            time.sleep(0.5)
        out = job.stdout.read() if job.stdout else ""
        elapsed = time.monotonic() - started
    if profiler is not None:
        profiler.join()
    after = {name: cpu_seconds(pid) for name, pid in servers.items()}
    calls = per_tenant_calls(requests_before, api_requests(api), args.tenants)
    cpu = {name: after[name] - before[name] for name in servers}
    cpu["job (CLI)"] = cpu_job
    lines = out.strip().splitlines()
    summary = lines[-1] if lines else "(no output)"
    return JobRun(label, elapsed, summary, job.returncode, calls, cpu, log_path.read_text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--per-namespace", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=20, help="the job's --concurrency (default: the CLI's)")
    parser.add_argument(
        "--baseline",
        default=BASELINE_REF,
        help=f"git ref whose code runs the same job beside this tree's, on its own tenants (default {BASELINE_REF}); "
        "'' for this tree only",
    )
    parser.add_argument(
        "--first-run",
        action="store_true",
        help="tenants without status.token (never refreshed before): every Secret is read once more",
    )
    parser.add_argument(
        "--wrap",
        default="",
        help="prefix for the job's command line, e.g. a profiler: 'py-spy record -o prof.txt -f raw --'",
    )
    parser.add_argument(
        "--admin",
        action="store_true",
        help="run the job with the admin client certificate instead of a ServiceAccount token with "
        "the chart's refresher RBAC (as the CronJob runs)",
    )
    parser.add_argument(
        "--apiserver-pprof",
        metavar="FILE",
        help="also save a 20 s CPU profile of kube-apiserver taken during this tree's job (go tool pprof FILE)",
    )
    args = parser.parse_args()
    sets = [("this tree", "bench", None)]
    if args.baseline:
        sets.insert(0, (f"baseline {args.baseline}", "base", args.baseline))

    runs: list[JobRun] = []
    with tempfile.TemporaryDirectory(prefix="token-bench-") as tmp, ControlPlane.start() as plane:
        sources = {ref: baseline_tree(ref, Path(tmp) / "baseline") for _, _, ref in sets if ref}
        install_crds(plane, Path(tmp) / "crds")
        api = k8s_config.new_client_from_config(config_file=str(plane.kubeconfig))
        api.configuration.connection_pool_maxsize = 32
        with emulator_process(args.tenants * len(sets)) as (sim, counts):
            started = time.monotonic()
            namespaces = {
                prefix: populate(
                    api, sim, args.tenants, args.per_namespace, not args.first_run, prefix, i * args.tenants
                )
                for i, (_, prefix, _) in enumerate(sets)
            }
            print(
                f"setup: {args.tenants} tenants + Secrets for each of {len(sets)} job(s) created in "
                f"{time.monotonic() - started:.1f}s"
            )
            kubeconfig = plane.kubeconfig if args.admin else refresher_kubeconfig(api, plane, Path(tmp))
            servers = {
                p.name(): p.pid
                for p in psutil.Process().children(recursive=True)
                if p.name() in ("kube-apiserver", "etcd")
            }
            servers["emulator"] = sim["pid"]
            for label, prefix, ref in sets:
                source = sources[ref] if ref else None
                runs.append(run_job(label, api, servers, kubeconfig, namespaces[prefix], args, Path(tmp), source))
        api.close()

    expected = f"{SUMMARY_PREFIX}{args.tenants} refreshed, 0 skipped, 0 failed"
    refreshes = counts.get("POST /oauth/token", 0)
    print(f"token endpoint calls: {refreshes} (one rotation per tenant: {refreshes == args.tenants * len(sets)})")
    for run in runs:
        print(f"--- {run.label}: job exit status {run.returncode}; last line: {run.summary}")
        if run.summary != expected or run.returncode != 0:
            print(f"FAILED: expected {expected!r} and exit 0; stderr tail:\n{run.stderr[-3000:]}")
            return 1
        warnings = sum(1 for line in run.stderr.splitlines() if "WARNING" in line)
        print(f"{run.calls}; warnings logged: {warnings}")
        print(
            "CPU seconds during the job: "
            + ", ".join(f"{k} {v:.1f}" for k, v in run.cpu.items())
            + f" (on {os.cpu_count()} cores)"
        )
        print(
            f"token job ({run.label}): {args.tenants} tenants in {run.elapsed:.1f}s = "
            f"{args.tenants / run.elapsed:.0f} tenants/s; ratio to the {TARGET_S:.0f} s target: "
            f"{run.elapsed / TARGET_S:.2f} (< 1.00 meets it)"
        )
    ours = runs[-1]
    if len(runs) > 1:
        print(
            f"this tree / {runs[0].label}: {ours.elapsed / runs[0].elapsed:.2f}x the time "
            f"({ours.elapsed:.1f}s vs {runs[0].elapsed:.1f}s, same run, same API server)"
        )
    return 0 if ours.elapsed < TARGET_S else 2


if __name__ == "__main__":
    sys.exit(main())
