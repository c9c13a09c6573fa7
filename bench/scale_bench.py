"""Scale bench: N JiraTenants on R operator replicas, window after window (issue 14, "Figures").

    .venv/bin/python bench/scale_bench.py                                  # 1,000 tenants, 1 replica
    .venv/bin/python bench/scale_bench.py --tenants 3000 --replicas 3 --kill-one
    .venv/bin/python bench/scale_bench.py --tenants 1000 --store s3
    .venv/bin/python bench/scale_bench.py --tenants 1000 --incremental --windows 2   # incremental windows

Baselines (issue 14): 1,000 tenants on one replica (one snapshot type, 30 ms site latency): every
window completes within the interval and peak RSS stays under 512 MiB; 3 replicas sharing 3,000
tenants capture every window exactly once with under 1 % of snapshot lock attempts wasted
(denied), and a replica killed mid-window has its tenants finish that window on the survivors.
The smaller in-suite version is tests/operator/test_operator_scale.py (200 tenants, one replica).

What runs, all on loopback: a real kube-apiserver + etcd (``ControlPlane``), the Jira emulator in
its own process (one site shared by every tenant, ``--latency-ms`` added to each response),
versitygw for ``--store s3``, and R ``jiradrift run`` processes exactly as the chart runs them
(with R > 1 each holds a membership Lease in the shard namespace, and tenants are assigned by
consistent hashing). The tenants are created before the replicas start, each with one snapshot
type and ``spec.schedule.interval = --interval``; windows are aligned to the interval (UTC), so the
first window starts when the replicas do and later ones at the interval's boundaries.

For each window the bench waits (bounded: twice the interval) until every scheduled Snapshot of
the window is final, then prints:

- wall time from the window's start (or the replicas' start) to its last completionTime, against
  the interval;
- CPU seconds per replica over the window (since the previous window ended) and per tenant-window;
- captures: "capturing under" log lines per Snapshot across all replicas' logs (exactly one each;
  with ``--kill-one`` a capture the killed replica had started and a survivor redid is counted
  apart, as "interrupted");
- snapshot lock attempts acquired / denied / lost from the replicas' logs, and the wasted share
  ``denied / (acquired + denied)`` (with ``--kill-one``, denials of the killed replica's tenants
  after the kill are counted apart: survivors wait out its snapshot Leases, ``--lease-duration``);
- Kubernetes API requests per tenant-window by verb and resource: kube-apiserver's own
  ``apiserver_request_total`` (from its /metrics), less the requests the bench itself made.

At the end: peak RSS (VmHWM) per replica, total CPU, emulator and server CPU, tenants per replica
(``status.owner``) and the replicas' shard and lock metrics, and the ConfigMaps and Secrets in the
tenants' namespace with their data bytes (with ``--store s3``: none but the credentials Secret).
Exit status 1 when a target is missed: a window not within the interval, a Snapshot not Completed,
a duplicate capture, wasted lock attempts >= 1 %, peak RSS over ``--rss-limit-mib``, or with
``--kill-one`` a killed replica's tenant whose window did not finish on a survivor.
SIGTERM and SIGINT stop everything the bench started (replicas, emulator, S3 server, control plane).

``--incremental`` (issue 26: 1,000 tenants on one replica with incremental windows every 5 minutes):
every tenant also has ``spec.schedule.incremental`` enabled (``--incremental-interval``, 5m) and its
full captures at the CRD's default interval. The bench waits for the first full capture (each
tenant's Scheduled Snapshot), then measures ``--windows`` whole incremental windows after it. A
window is on time when every tenant's ``status.lastCheckedTime`` falls in it before it ends, each
tenant ran it once (its log line), and a quiet window created no Snapshot; with ``--change-window K``
the shared site's first priority is renamed just before window K opens, and each tenant's Incremental
Snapshot of that window must also be Completed within it. Per window: when the last tenant was
checked, Jira requests per tenant-window (the operator's log lines), and Kubernetes API requests per
tenant-window over the whole interval (ticks included), writes apart. Exit 1 as above, or when a
window is not on time.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import re
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
import urllib3
from benchlib import child_process, versitygw
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from prometheus_client.parser import text_string_to_metric_families

from jiradrift.api.credentials import ALLOWED_TENANTS_ANNOTATION
from jiradrift.api.resources import GROUP, LABEL_WINDOW, VERSION, Schedule
from jiradrift.api.windows import parse_duration, window_iso, window_label, window_start
from jiradrift.dev.controlplane import ControlPlane, install_crds
from jiradrift.dev.kubejson import api_requests, request_json
from jiradrift.dev.operator_process import OperatorProcess, start_operator
from jiradrift.store.s3client import S3Client, S3Config
from jiradrift.store.sigv4 import Credentials

REPO = Path(__file__).resolve().parents[1]
NAMESPACE = "bench-tenants"
SHARD_NAMESPACE = "bench-shard"
FINAL = ("Completed", "Incomplete", "Failed")
WASTED_LIMIT = 0.01
CAPTURING = re.compile(
    r"^snapshot (?P<ns>[^/\s]+)/(?P<name>\S+) capturing under (?P<key>\S+) \(holder (?P<holder>\S+)\)$"
)
LOCK_LINE = re.compile(
    r"^snapshot_lock:(?P<tenant>[^:\s]+):(?P<type>[^:\s]+):(?P<window>\S+) "
    r"(?P<result>acquired|denied|lost|released|error)$"
)
LOST_DURING = re.compile(r"lost snapshot_lock:\S+:(?P<window>\S+) during the capture")
# the operator's line for a failed attempt (handlers/runtime/runs.py), logged at info
RETRIED = re.compile(r"Snapshot (?P<name>\S+): (?:UnexpectedError: )?(?P<cause>[^:;]+).*; retried in \d+s$")
CR_PATH = f"/apis/{GROUP}/{VERSION}/namespaces/{NAMESPACE}"


# --- processes the bench starts -------------------------------------------------------------------


def _serve(latency_ms: float, conn: Any) -> None:
    from jiradrift.sim.emulator import Emulator

    with Emulator(size="small", seed=1, latency_ms=latency_ms).running() as emu:
        creds = emu.credentials
        conn.send({"base_url": emu.base_url, "email": creds.email, "token": creds.api_token})
        conn.recv()  # until told to stop
        conn.send(dict(emu.requests.counts))


@contextmanager
def emulator_process(latency_ms: float) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """The emulator in its own process; yields its address and credentials, and after the block
    the request counts it served."""
    with child_process(_serve, (latency_ms,), "the emulator") as (info, counts):
        yield info, counts


async def _create_bucket(endpoint: str, bucket: str, credentials: Credentials) -> None:
    async with S3Client.connect(S3Config(endpoint=endpoint, bucket=bucket, path_style=True), credentials) as client:
        await client.create_bucket()


# --- the Kubernetes API, with the bench's own requests counted ------------------------------------


READ_ATTEMPTS = 5  # the bench's own reads, tried again on a dropped connection


class BenchKube:
    """JSON calls to the API server that count themselves by (verb, resource) as
    ``apiserver_request_total`` labels them, so the bench's own requests can be taken out."""

    def __init__(self, api: Any) -> None:
        self.api = api
        self.own: Counter[tuple[str, str]] = Counter()

    def call(self, method: str, path: str, *, resource: str, named: bool = False, **kwargs: Any) -> dict[str, Any]:
        verb = "LIST" if method == "GET" and not named else method
        for attempt in range(READ_ATTEMPTS):
            self.own[(verb, resource)] += 1
            try:
                return request_json(self.api, method, path, **kwargs)
            except (urllib3.exceptions.HTTPError, ApiException) as exc:
                # An API server saturated by the load drops connections, or answers 504 (a LIST of
                # thousands of tenants not done within its timeout): read again. Other errors stand.
                overloaded = not isinstance(exc, ApiException) or exc.status in (429, 500, 503, 504)
                if method != "GET" or not overloaded or attempt == READ_ATTEMPTS - 1:
                    raise
                print(f"  (bench: {method} {path} failed: {type(exc).__name__}; reading again)", flush=True)
                time.sleep(2.0)
        raise AssertionError("unreachable")

    def api_requests(self) -> dict[tuple[str, str], float]:
        return api_requests(self.api)


@dataclass
class Mark:
    """A point in the run: the API server's request counts, the bench's own, each replica's CPU."""

    at: float
    totals: dict[tuple[str, str], float]
    own: Counter[tuple[str, str]]
    cpu: dict[str, float]


def mark(kube: BenchKube, replicas: list[Replica]) -> Mark:
    for r in replicas:
        r.sample()
    return Mark(time.monotonic(), kube.api_requests(), Counter(kube.own), {r.name: r.cpu for r in replicas})


def api_delta(before: Mark, after: Mark) -> dict[tuple[str, str], float]:
    """Requests served between two marks, less the bench's own (its polling and listing)."""
    keys = set(after.totals) | set(before.totals)
    delta = {}
    for key in keys:
        served = after.totals.get(key, 0.0) - before.totals.get(key, 0.0)
        own = after.own.get(key, 0) - before.own.get(key, 0)
        if served - own > 0:
            delta[key] = served - own
    return delta


def describe_api(delta: dict[tuple[str, str], float], per: int, unit: str = "tenant-window") -> str:
    """Requests per tenant by verb and resource; those under 0.05 each (the API server's own
    informers' WATCHes, for one) are summed as "other"."""
    total = sum(delta.values())
    rows = sorted(((v, k) for k, v in delta.items() if v / per >= 0.05), reverse=True)
    parts = [f"{verb} {resource} {v / per:.2f}" for v, (verb, resource) in rows]
    other = total - sum(v for v, _ in rows)
    if other:
        parts.append(f"other {other / per:.2f}")
    return f"{total / per:.2f} per {unit} ({', '.join(parts)})"


# --- setup -----------------------------------------------------------------------------------------


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def populate(
    kube: BenchKube,
    sim: dict[str, Any],
    tenants: int,
    interval: str,
    snapshot_type: str,
    incremental: str | None = None,
) -> None:
    kube.call("POST", "/api/v1/namespaces", resource="namespaces", body={"metadata": {"name": NAMESPACE}})
    kube.call("POST", "/api/v1/namespaces", resource="namespaces", body={"metadata": {"name": SHARD_NAMESPACE}})
    kube.call(
        "POST",
        f"/api/v1/namespaces/{NAMESPACE}/secrets",
        resource="secrets",
        body={
            "metadata": {"name": "jira", "annotations": {ALLOWED_TENANTS_ANNOTATION: "*"}},
            "data": {"email": b64(sim["email"]), "token": b64(sim["token"])},
        },
    )

    schedule: dict[str, Any] = {"interval": interval}
    if incremental is not None:
        schedule["incremental"] = {"enabled": True, "interval": incremental}

    def one(i: int) -> None:
        kube.call(
            "POST",
            f"{CR_PATH}/jiratenants",
            resource="jiratenants",
            body={
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "JiraTenant",
                "metadata": {"name": tenant_name(i)},
                "spec": {
                    "site": sim["base_url"],
                    "auth": {"apiToken": {"secretRef": {"name": "jira"}}},
                    "schedule": schedule,
                    "snapshotTypes": [snapshot_type],
                },
            },
        )

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(one, range(tenants)))


def tenant_name(i: int) -> str:
    return f"tenant-{i:05d}"


# --- replicas ----------------------------------------------------------------------------------------


@dataclass
class Replica:
    name: str
    op: OperatorProcess
    cpu: float = 0.0  # CPU seconds, last sampled
    hwm: int = 0  # peak RSS bytes (VmHWM), last sampled
    killed_at: float | None = None

    @property
    def alive(self) -> bool:
        return self.killed_at is None and self.op.proc.poll() is None

    def sample(self) -> None:
        """CPU and peak RSS from /proc while the process lives (a killed one keeps its last sample)."""
        if not self.alive:
            return
        try:
            times = psutil.Process(self.op.proc.pid).cpu_times()
            status = Path(f"/proc/{self.op.proc.pid}/status").read_text()
        except (psutil.NoSuchProcess, FileNotFoundError, ProcessLookupError):
            return
        self.cpu = float(times.user + times.system)
        hwm = next((line for line in status.splitlines() if line.startswith("VmHWM")), None)
        if hwm is not None:
            self.hwm = int(hwm.split()[1]) * 1024

    def owns(self, holder: str) -> bool:
        """Holder identities are ``<POD_NAME>_<hex>`` (jiradrift.api.locks.holder_identity)."""
        return holder.rsplit("_", 1)[0] == self.name

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        if not self.alive:
            return {}
        try:
            text = httpx.get(f"http://127.0.0.1:{self.op.metrics_port}/metrics", timeout=10).text
        except httpx.HTTPError:
            return {}
        wanted = ("jiradrift_lock_acquisitions_total", "jiradrift_shard_tenants", "jiradrift_shard_moves_total")
        out = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name in wanted:
                    out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return out


def replica_of(replicas: list[Replica], holder: str) -> Replica | None:
    return next((r for r in replicas if r.owns(holder)), None)


@dataclass
class LogFacts:
    """What the replicas' logs say about one window."""

    captures: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # snapshot -> [(replica, holder)]
    locks: Counter[str] = field(default_factory=Counter)  # result -> count
    trouble: dict[str, list[str]] = field(default_factory=dict)  # snapshot -> warnings and errors about it
    denied: list[tuple[str, datetime]] = field(default_factory=list)  # (tenant name, when)


def read_logs(replicas: list[Replica], window_iso: str, names: set[str]) -> LogFacts:
    facts = LogFacts()
    for replica in replicas:
        for line in replica.op.lines():
            message = str(line.get("message", ""))
            if (m := CAPTURING.match(message)) and m["name"] in names:
                facts.captures.setdefault(m["name"], []).append((replica.name, m["holder"]))
            elif (m := LOCK_LINE.match(message)) and m["window"] == window_iso:
                facts.locks[m["result"]] += 1
                if m["result"] == "denied" and line.get("time"):
                    facts.denied.append((m["tenant"].rsplit("/", 1)[-1], parse_time(str(line["time"]))))
            elif (m := RETRIED.match(message)) and m["name"] in names:
                facts.trouble.setdefault(m["name"], []).append(f"{replica.name} {line.get('time', '')}: {message}")
            elif str(line.get("level", "info")).lower() not in ("info", "debug"):
                if (m := LOST_DURING.search(message)) and m["window"] == window_iso:
                    facts.locks["lost during a capture"] += 1
                subject = str((line.get("object") or {}).get("name", ""))
                for name in {subject} & names or {n for n in names if n in message}:
                    facts.trouble.setdefault(name, []).append(f"{replica.name} {line.get('time', '')}: {message}")
    return facts


# --- windows ----------------------------------------------------------------------------------------


def list_window(kube: BenchKube, label: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = kube.call(
        "GET",
        f"{CR_PATH}/snapshots",
        resource="snapshots",
        query={"labelSelector": f"{LABEL_WINDOW}={label}", "resourceVersion": "0"},
        timeout=120,
    )["items"]
    return items


def owners(kube: BenchKube) -> dict[str, str]:
    """tenant name -> status.owner (empty when the build does not shard)."""
    items = kube.call("GET", f"{CR_PATH}/jiratenants", resource="jiratenants", timeout=120)["items"]
    return {t["metadata"]["name"]: str((t.get("status") or {}).get("owner") or "") for t in items}


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Victim:
    replica: Replica
    tenants: set[str]
    killed_at: datetime
    final_before: int


def kill_victim(kube: BenchKube, replicas: list[Replica], snaps: list[dict[str, Any]], label: str) -> Victim:
    """SIGKILL the live replica that owns the most tenants whose Snapshot of this window is not final."""
    owner_of = owners(kube)
    pending = {s["spec"]["tenantRef"]["name"] for s in snaps if (s.get("status") or {}).get("phase") not in FINAL}
    load: Counter[str] = Counter()
    for tenant in pending:
        found = replica_of(replicas, owner_of.get(tenant, ""))
        if found is not None and found.alive:
            load[found.name] += 1
    live = [r for r in replicas if r.alive]
    victim = max(live, key=lambda r: (load[r.name], r.name == live[0].name))
    victim.sample()
    victim.op.kill()
    victim.killed_at = time.monotonic()
    mine = {t for t, o in owner_of.items() if victim.owns(o)}
    final = sum(1 for s in snaps if (s.get("status") or {}).get("phase") in FINAL)
    print(
        f"window {label}: killed {victim.name} (SIGKILL) with {final}/{len(snaps)} Snapshots of the window final; "
        f"it owned {len(mine)} tenants (status.owner), {load[victim.name]} of them not final yet"
        + ("" if owner_of and any(owner_of.values()) else " -- no tenant has status.owner: this build does not shard")
    )
    return Victim(victim, mine, datetime.now(UTC), final)


@dataclass
class WindowResult:
    ok: bool
    problems: list[str]


def run_window(
    args: argparse.Namespace,
    kube: BenchKube,
    replicas: list[Replica],
    index: int,
    start: datetime,
    began: datetime,
    interval: timedelta,
    previous: Mark,
) -> tuple[WindowResult, Mark]:
    label, iso = window_label(start), start.strftime("%Y-%m-%dT%H:%M:%SZ")
    effective = max(start, began)
    deadline = start + 2 * interval
    while datetime.now(UTC) < start:  # until the window opens (wall clock: windows are aligned to UTC)
        for r in replicas:
            r.sample()
        time.sleep(min(5.0, max(0.1, (start - datetime.now(UTC)).total_seconds())))
    opened = mark(kube, replicas)
    idle = segment(previous, opened, args.tenants) if index > 0 else None
    kill_here = args.kill_one and index == min(1, args.windows - 1)
    victim: Victim | None = None
    problems: list[str] = []
    snaps: list[dict[str, Any]] = []
    while True:
        snaps = list_window(kube, label)
        for r in replicas:
            r.sample()
            if r.killed_at is None and r.op.proc.poll() is not None:
                raise RuntimeError(f"{r.name} exited ({r.op.proc.returncode}); log tail:\n{r.op.text()[-3000:]}")
        final = [s for s in snaps if (s.get("status") or {}).get("phase") in FINAL]
        if kill_here and victim is None and len(final) >= args.tenants // 2:
            victim = kill_victim(kube, replicas, snaps, label)
        if len(snaps) >= args.tenants and len(final) == len(snaps):
            break
        if datetime.now(UTC) > deadline:
            problems.append(
                f"window {label}: only {len(final)} of {args.tenants} Snapshots final after twice the interval"
            )
            break
        time.sleep(args.poll)
    observed = datetime.now(UTC)
    closed = mark(kube, replicas)

    done = [parse_time(s["status"]["completionTime"]) for s in snaps if (s.get("status") or {}).get("completionTime")]
    last = max(done) if done else observed
    wall = (last - effective).total_seconds()
    within = not problems and wall < interval.total_seconds()
    if not within and not problems:
        problems.append(f"window {label} took {wall:.0f}s, longer than the interval")
    phases = Counter(str((s.get("status") or {}).get("phase") or "Pending") for s in snaps)
    if phases.get("Completed", 0) != args.tenants:
        problems.append(f"window {label}: {dict(phases)} (every Snapshot must be Completed)")

    names = {s["metadata"]["name"] for s in snaps}
    facts = read_logs(replicas, iso, names)
    final_holder = {
        s["metadata"]["name"]: str(((s.get("status") or {}).get("lock") or {}).get("holder") or "") for s in snaps
    }
    killed = victim.replica if victim else None
    per_snapshot: Counter[int] = Counter()
    duplicates, interrupted, missing = [], 0, []
    for name in sorted(names):
        lines = facts.captures.get(name, [])
        # A capture the killed replica started and did not finish is redone by a survivor: not a duplicate.
        redone = [
            (rep, h)
            for rep, h in lines
            if killed is not None and rep == killed.name and not killed.owns(final_holder[name])
        ]
        interrupted += len(redone)
        counted = len(lines) - len(redone)
        per_snapshot[counted] += 1
        if counted > 1:
            duplicates.append(name)
        elif counted == 0:
            missing.append(name)
    if duplicates:
        problems.append(f"window {label}: {len(duplicates)} Snapshots captured more than once, e.g. {duplicates[:3]}")
        causes: Counter[str] = Counter()
        for name in duplicates:
            found = {m["cause"].strip() for w in facts.trouble.get(name, []) if (m := RETRIED.search(w))}
            causes.update(found or {"(no failed handler logged)"})
        print("  retried captures, by the cause logged: " + ", ".join(f"{c} {n}" for c, n in causes.most_common(6)))
        for name in duplicates[:2]:
            why = facts.trouble.get(name) or ["(no warning or error logged about it)"]
            print(
                f"  e.g. {name} captured {len(facts.captures[name])}x; logged: " + " | ".join(w[:300] for w in why[:3])
            )
    if missing:
        problems.append(f"window {label}: {len(missing)} Snapshots with no capture logged, e.g. {missing[:3]}")
    attempts = facts.locks["acquired"] + facts.locks["denied"]
    # Survivors are denied a killed replica's snapshot Leases until they expire (--lease-duration): expected.
    waited = (
        sum(1 for tenant, at in facts.denied if tenant in victim.tenants and at >= victim.killed_at) if victim else 0
    )
    wasted = (facts.locks["denied"] - waited) / attempts if attempts else 0.0
    if wasted >= WASTED_LIMIT:
        problems.append(f"window {label}: {wasted:.1%} of lock attempts wasted (target < {WASTED_LIMIT:.0%})")

    busy = segment(opened, closed, args.tenants)
    print(
        f"window {index} ({label}, from {effective:%H:%M:%S}): {len(snaps)} Snapshots {dict(phases)}; "
        f"wall {wall:.1f}s of the {interval.total_seconds():.0f}s interval ({wall / interval.total_seconds():.2f}); "
        f"within the interval: {'yes' if within else 'NO'}"
    )
    if idle is not None:
        print(f"  between windows ({idle.seconds:.0f}s, tenants reconciled only): {idle.describe(replicas)}")
    print(f"  during the window ({busy.seconds:.0f}s, until every Snapshot was final): {busy.describe(replicas)}")
    if idle is not None and idle.seconds >= 30:
        rest = max(0.0, interval.total_seconds() - busy.seconds)
        cpu_ms = (sum(busy.cpu.values()) + sum(idle.cpu.values()) / idle.seconds * rest) / args.tenants * 1000
        calls = (sum(busy.api.values()) + sum(idle.api.values()) / idle.seconds * rest) / args.tenants
        print(
            f"  steady state per tenant-window (this window + the idle rate for the rest of the interval): "
            f"operator CPU {cpu_ms:.1f} ms, Kubernetes API requests {calls:.1f}"
        )
    print(
        "  captures per Snapshot (capturing-under lines, all replicas): "
        + ", ".join(f"{k}x: {v}" for k, v in sorted(per_snapshot.items()))
        + (f"; {interrupted} interrupted by the kill and redone" if killed else "")
        + f"; exactly once: {'yes' if not duplicates and not missing else 'NO'}"
    )
    print(
        f"  snapshot lock attempts (logs): acquired {facts.locks['acquired']}, denied {facts.locks['denied']}, "
        f"lost {facts.locks['lost']}, lost during a capture (renewal failed) {facts.locks['lost during a capture']}; "
        + (f"{waited} of the denials waited out the killed replica's Leases; the others " if victim else "")
        + f"wasted {wasted:.2%} (target < {WASTED_LIMIT:.0%})"
    )
    if victim is not None:
        problems += report_takeover(victim, replicas, snaps)
        print(first_looks(victim, facts.denied))
    return WindowResult(not problems, problems), closed


def first_looks(victim: Victim, denied: list[tuple[str, datetime]]) -> str:
    """When the survivors first found each of the killed replica's Leases held (a denial in their
    logs): each Lease is taken over one lease duration after that look."""
    first: dict[str, datetime] = {}
    for tenant, at in denied:
        if tenant in victim.tenants and at >= victim.killed_at:
            first[tenant] = min(at, first.get(tenant, at))
    if not first:
        return "  survivors' first look at the killed replica's held Leases: none held (none denied)"
    after = sorted((at - victim.killed_at).total_seconds() for at in first.values())
    return (
        f"  survivors' first look at the killed replica's {len(after)} held Leases: {after[0]:.0f}s to "
        f"{after[-1]:.0f}s after the kill (median {after[len(after) // 2]:.0f}s)"
    )


@dataclass
class Segment:
    """What the replicas and the API server did between two marks, for ``tenants`` tenants."""

    seconds: float
    cpu: dict[str, float]
    api: dict[tuple[str, str], float]
    tenants: int

    def describe(self, replicas: list[Replica]) -> str:
        killed = {r.name for r in replicas if r.killed_at is not None}
        cpu = ", ".join(f"{n} {c:.1f}" + (" (until killed)" if n in killed else "") for n, c in self.cpu.items())
        return (
            f"CPU s {cpu} = {sum(self.cpu.values()) / self.tenants * 1000:.1f} ms per tenant; "
            f"Kubernetes API requests {describe_api(self.api, self.tenants, 'tenant')}"
        )


def segment(before: Mark, after: Mark, tenants: int) -> Segment:
    cpu = {name: after.cpu[name] - before.cpu.get(name, 0.0) for name in after.cpu}
    return Segment(after.at - before.at, cpu, api_delta(before, after), tenants)


def report_takeover(victim: Victim, replicas: list[Replica], snaps: list[dict[str, Any]]) -> list[str]:
    """The killed replica's tenants: each window Snapshot Completed, by the victim before the kill or a survivor."""
    mine = [s for s in snaps if s["spec"]["tenantRef"]["name"] in victim.tenants]
    by: Counter[str] = Counter()
    late = []
    for s in mine:
        status = s.get("status") or {}
        holder = replica_of(replicas, str((status.get("lock") or {}).get("holder") or ""))
        by[holder.name if holder else "?"] += 1
        if status.get("phase") != "Completed":
            late.append(s["metadata"]["name"])
    after = [
        parse_time(s["status"]["completionTime"])
        for s in mine
        if (s.get("status") or {}).get("completionTime")
        and parse_time(s["status"]["completionTime"]) >= victim.killed_at
    ]
    takeover = (max(after) - victim.killed_at).total_seconds() if after else 0.0
    on_survivors = sum(v for k, v in by.items() if k not in (victim.replica.name, "?"))
    print(
        f"  killed replica's {len(victim.tenants)} tenants: {len(mine)} Snapshots in this window, completed by "
        + ", ".join(f"{k} {v}" for k, v in sorted(by.items()))
        + f"; {on_survivors} finished on survivors, the last {takeover:.0f}s after the kill"
    )
    problems = []
    if not victim.tenants:
        problems.append("--kill-one: no tenant named the killed replica in status.owner (sharding absent?)")
    if late:
        problems.append(f"--kill-one: {len(late)} of the killed replica's Snapshots did not complete, e.g. {late[:3]}")
    if by.get("?"):
        problems.append(f"--kill-one: {by['?']} Snapshots completed by an unknown holder")
    return problems


# --- incremental windows (--incremental) -------------------------------------------------------------

INCREMENTAL_LINE = re.compile(
    r"^JiraTenant (?P<ns>[^/\s]+)/(?P<name>\S+): incremental window (?P<window>\S+): (?P<requests>\d+) Jira "
    r"request\(s\), (?P<reread>\d+) object\(s\) re-read, changed (?P<changed>.*), quiet: "
)


def list_snapshots(kube: BenchKube) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = kube.call(
        "GET", f"{CR_PATH}/snapshots", resource="snapshots", query={"resourceVersion": "0"}, timeout=120
    )["items"]
    return items


def list_tenants(kube: BenchKube) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = kube.call(
        "GET", f"{CR_PATH}/jiratenants", resource="jiratenants", query={"resourceVersion": "0"}, timeout=120
    )["items"]
    return items


def wait_first_full(
    args: argparse.Namespace, kube: BenchKube, replicas: list[Replica], began: datetime, full: timedelta
) -> list[str]:
    """Until every tenant's first full capture (its Scheduled Snapshot) is final: the bases the
    incremental windows continue from. Prints its wall time; returns problems."""
    deadline = time.monotonic() + max(600.0, full.total_seconds() / 10)
    while True:
        snaps = [s for s in list_snapshots(kube) if s["spec"].get("reason") == "Scheduled"]
        final = [s for s in snaps if (s.get("status") or {}).get("phase") in FINAL]
        for r in replicas:
            r.sample()
            if r.op.proc.poll() is not None:
                raise RuntimeError(f"{r.name} exited ({r.op.proc.returncode}); log tail:\n{r.op.text()[-3000:]}")
        if len(snaps) >= args.tenants and len(final) == len(snaps):
            break
        if time.monotonic() > deadline:
            return [f"first full capture: only {len(final)} of {args.tenants} Snapshots final"]
        time.sleep(args.poll)
    done = [parse_time(s["status"]["completionTime"]) for s in final if s["status"].get("completionTime")]
    phases = Counter(str(s["status"].get("phase")) for s in final)
    wall = (max(done) - began).total_seconds() if done else 0.0
    print(f"first full capture: {len(final)} Snapshots {dict(phases)} in {wall:.0f}s from the replicas' start")
    if phases.get("Completed", 0) != args.tenants:
        return [f"first full capture: {dict(phases)} (every Snapshot must be Completed)"]
    return []


CHANGE_LEAD_SECONDS = 10.0


def change_priority(sim: dict[str, Any], tag: str) -> None:
    """Rename the shared site's first priority (an unaudited kind: found by its probe)."""
    base = sim["base_url"]
    first = httpx.get(f"{base}/rest/api/3/priority", auth=(sim["email"], sim["token"]), timeout=30).json()[0]
    httpx.post(
        f"{base}/_sim/admin/rename_priority", json={"priority_id": first["id"], "name": f"Priority {tag}"}, timeout=30
    ).raise_for_status()


def run_incremental_window(
    args: argparse.Namespace,
    kube: BenchKube,
    replicas: list[Replica],
    sim: dict[str, Any],
    index: int,
    start: datetime,
    interval: timedelta,
) -> tuple[WindowResult, Mark, Mark]:
    """One incremental window: from its start until every tenant's ``status.lastCheckedTime`` is in
    it (and, in a change window, every tenant's Incremental Snapshot of it is final), then on to the
    window's end, so the marks span one whole interval (what a tenant costs per window)."""
    iso, end = window_iso(start), start + interval
    changed = index == args.change_window
    # The change is made just before the window opens: every tenant ran the previous window in
    # its first tick, so each finds it in this one (made after the boundary, it would miss the
    # tenants whose tick came first, until the next window).
    before = start - timedelta(seconds=CHANGE_LEAD_SECONDS) if changed else start
    while datetime.now(UTC) < before:
        for r in replicas:
            r.sample()
        time.sleep(min(5.0, max(0.1, (before - datetime.now(UTC)).total_seconds())))
    if changed:
        if datetime.now(UTC) >= start:
            raise RuntimeError(f"--change-window {index}: the bench reached {iso} too late to change before it")
        change_priority(sim, f"w{index}")
    while datetime.now(UTC) < start:
        time.sleep(min(1.0, max(0.05, (start - datetime.now(UTC)).total_seconds())))
    opened = mark(kube, replicas)
    problems: list[str] = []
    checked_at: list[datetime] = []
    snaps: list[dict[str, Any]] = []
    unchecked: dict[str, str] = {}
    observed = start
    while True:
        tenants = list_tenants(kube)
        checked_at, unchecked = [], {}
        for tenant in tenants:
            text = str((tenant.get("status") or {}).get("lastCheckedTime") or "")
            if text and start <= parse_time(text):  # (a later window's check also passed this one)
                checked_at.append(parse_time(text))
            else:
                unchecked[tenant["metadata"]["name"]] = text or "(unset)"
        snaps = [
            s
            for s in list_snapshots(kube)
            if s["spec"].get("reason") == "Incremental" and s["spec"].get("windowStart") == iso
        ]
        final = [s for s in snaps if (s.get("status") or {}).get("phase") in FINAL]
        for r in replicas:
            r.sample()
            if r.op.proc.poll() is not None:
                raise RuntimeError(f"{r.name} exited ({r.op.proc.returncode}); log tail:\n{r.op.text()[-3000:]}")
        observed = datetime.now(UTC)
        captured = len(snaps) >= args.tenants and len(final) == len(snaps)
        if len(checked_at) >= args.tenants and (not changed or captured):
            break
        if observed >= end:
            problems.append(
                f"incremental window {iso}: {len(checked_at)} of {args.tenants} tenants checked"
                + (f", {len(final)} of {args.tenants} Incremental Snapshots final" if changed else "")
                + " within the interval"
            )
            shown = ", ".join(f"{k} lastCheckedTime {v}" for k, v in sorted(unchecked.items())[:5])
            print(f"  not checked in the window: {len(unchecked)}, e.g. {shown}")
            break
        time.sleep(args.poll)
    done_at = observed
    # the rest of the interval, ticks only (a change before the next window is made in its lead)
    until = end - timedelta(seconds=2 * CHANGE_LEAD_SECONDS if index + 1 == args.change_window else 0)
    while datetime.now(UTC) < until:
        for r in replicas:
            r.sample()
        time.sleep(min(5.0, max(0.1, (until - datetime.now(UTC)).total_seconds())))
    closed = mark(kube, replicas)

    lines = [
        m
        for r in replicas
        for line in r.op.lines()
        if (m := INCREMENTAL_LINE.match(str(line.get("message", "")))) and m["window"] == iso
    ]
    per_tenant = Counter(m["name"] for m in lines)
    jira = sum(int(m["requests"]) for m in lines)
    twice = sum(1 for v in per_tenant.values() if v > 1)
    if twice:
        problems.append(f"incremental window {iso}: {twice} tenants ran it more than once")
    phases = Counter(str((s.get("status") or {}).get("phase") or "Pending") for s in snaps)
    if changed and phases.get("Completed", 0) != args.tenants:
        problems.append(f"incremental window {iso}: Incremental Snapshots {dict(phases)} (each must be Completed)")
    if not changed and snaps:
        problems.append(f"incremental window {iso}: a quiet window created {len(snaps)} Snapshots")
    last_check = (max(checked_at) - start).total_seconds() if checked_at else float("nan")
    completions = [
        parse_time(s["status"]["completionTime"]) for s in snaps if (s.get("status") or {}).get("completionTime")
    ]
    last_done = (max(completions) - start).total_seconds() if completions else None
    seg = segment(opened, closed, args.tenants)
    writes = {k: v for k, v in seg.api.items() if k[0] not in ("GET", "LIST", "WATCH")}
    on_time = not problems
    print(
        f"incremental window {index} ({iso}, {'a priority renamed 10 s before it opened' if changed else 'quiet'}): "
        f"{len(checked_at)}/{args.tenants} tenants checked (status.lastCheckedTime in the window), the last check "
        f"{last_check:.0f}s after the window opened"
        + (f"; {len(snaps)} Incremental Snapshots {dict(phases)}, the last final {last_done}s in" if changed else "")
        + f"; all seen done {(done_at - start).total_seconds():.0f}s in (bench polls every {args.poll:.0f}s) of the "
        f"{interval.total_seconds():.0f}s interval; on time: {'yes' if on_time else 'NO'}"
    )
    print(
        f"  window log lines: {len(lines)} ({len(per_tenant)} tenants), Jira requests {jira} = "
        f"{jira / max(1, len(lines)):.1f} per tenant-window"
    )
    print(f"  the whole interval ({seg.seconds:.0f}s): {seg.describe(replicas)}")
    print(f"  of which writes: {describe_api(writes, args.tenants, 'tenant-window') if writes else 'none'}")
    return WindowResult(on_time, problems), opened, closed


def run_incremental(
    args: argparse.Namespace,
    kube: BenchKube,
    replicas: list[Replica],
    sim: dict[str, Any],
    began: datetime,
    full: timedelta,
    inc: timedelta,
) -> tuple[list[WindowResult], Mark, Mark]:
    """The first full capture, then ``--windows`` whole incremental windows after it."""
    problems = wait_first_full(args, kube, replicas, began, full)
    results = [WindowResult(not problems, problems)]
    first = window_start(datetime.now(UTC), inc) + inc
    print(f"incremental windows every {args.incremental_interval} from {first:%H:%M:%S} UTC")
    start_mark = last = mark(kube, replicas)
    for k in range(args.windows):
        result, opened, last = run_incremental_window(args, kube, replicas, sim, k, first + k * inc, inc)
        if k == 0:
            start_mark = opened
        results.append(result)
    return results, start_mark, last


# --- the end ----------------------------------------------------------------------------------------


def etcd_payload(kube: BenchKube) -> tuple[int, int, list[str]]:
    """(objects, data bytes, names) of the ConfigMaps and Secrets in the tenants' namespace, other
    than the credentials Secret: what a store put into etcd."""
    count, size, names = 0, 0, []
    for resource in ("configmaps", "secrets"):
        items = kube.call("GET", f"/api/v1/namespaces/{NAMESPACE}/{resource}", resource=resource, timeout=300)["items"]
        for item in items:
            if resource == "secrets" and item["metadata"]["name"] == "jira":
                continue
            count += 1
            names.append(f"{resource}/{item['metadata']['name']}")
            for key in ("data", "binaryData"):
                size += sum(len(v) for v in (item.get(key) or {}).values())
    return count, size, names


def cpu_seconds(pid: int) -> float:
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.NoSuchProcess:
        return 0.0
    return float(times.user + times.system)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--store", choices=("configmap", "s3"), default="configmap")
    parser.add_argument("--latency-ms", type=float, default=30.0, help="added by the emulator to every response")
    parser.add_argument(
        "--windows", type=int, default=2, help="windows to measure (the first starts with the replicas)"
    )
    parser.add_argument(
        "--interval",
        help="spec.schedule.interval of every tenant (at least 5m; default 5m, with --incremental the CRD's default)",
    )
    parser.add_argument(
        "--incremental",
        action="store_true",
        help="incremental windows: the first full capture, then --windows incremental windows after it",
    )
    parser.add_argument(
        "--incremental-interval", default="5m", help="with --incremental: spec.schedule.incremental.interval"
    )
    parser.add_argument(
        "--change-window",
        type=int,
        help="with --incremental: rename the shared site's first priority at the start of this window (0-based)",
    )
    parser.add_argument("--snapshot-type", default="priorities", help="the one snapshot type of every tenant")
    parser.add_argument(
        "--tenant-interval", type=float, default=30.0, help="the replicas' --tenant-interval (the CLI's default)"
    )
    parser.add_argument(
        "--lease-duration", type=int, default=90, help="the replicas' snapshot --lease-duration (the CLI's and chart's)"
    )
    parser.add_argument(
        "--align", action="store_true", help="start the replicas at the next window boundary: window 0 is whole"
    )
    parser.add_argument("--kill-one", action="store_true", help="SIGKILL one replica in the middle of window 1")
    parser.add_argument("--rss-limit-mib", type=float, default=512.0, help="peak RSS target per replica")
    parser.add_argument("--poll", type=float, default=5.0, help="seconds between listings of a window's Snapshots")
    parser.add_argument(
        "--operator-arg", action="append", default=[], help="one more argument for every replica (repeatable)"
    )
    parser.add_argument("--keep", type=Path, help="keep the replicas' logs in this directory")
    args = parser.parse_args()
    args.interval = args.interval or (Schedule().interval if args.incremental else "5m")
    interval = parse_duration(args.interval)
    if args.incremental and parse_duration(args.incremental_interval) < timedelta(minutes=1):
        parser.error("--incremental-interval: spec.schedule.incremental.interval must be at least 1m")
    if args.incremental and args.replicas > 1:
        parser.error("--incremental measures one replica (--replicas 1)")
    if interval < timedelta(minutes=5):
        parser.error("--interval: a tenant's spec.schedule.interval must be at least 5m")
    if args.kill_one and (args.replicas < 2 or args.incremental):
        parser.error("--kill-one needs --replicas 2 or more, without --incremental")
    if args.tenants < 1 or args.windows < 1:
        parser.error("--tenants and --windows must be at least 1")

    def stop(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)  # unwinds every `with` below: replicas, emulator, servers, control plane

    signal.signal(signal.SIGTERM, stop)
    # Also SIGINT: a shell starts background jobs with SIGINT ignored, and Python keeps an inherited ignore.
    signal.signal(signal.SIGINT, stop)
    try:
        return run(args, interval)
    except SystemExit as exc:
        print(f"stopped by a signal (exit {exc.code}); everything the bench started is stopped", file=sys.stderr)
        raise


def run(args: argparse.Namespace, interval: timedelta) -> int:
    with ExitStack() as stack:
        tmp = args.keep or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="scale-bench-")))
        tmp.mkdir(parents=True, exist_ok=True)
        plane = stack.enter_context(ControlPlane.start())
        install_crds(plane, tmp / "crds")
        api = k8s_config.new_client_from_config(config_file=str(plane.kubeconfig))
        api.configuration.connection_pool_maxsize = 32
        stack.callback(api.close)
        kube = BenchKube(api)
        sim, counts = stack.enter_context(emulator_process(args.latency_ms))
        servers = {
            p.name(): p.pid for p in psutil.Process().children(recursive=True) if p.name() in ("kube-apiserver", "etcd")
        }
        servers["emulator"] = sim["pid"]
        store_args: list[str] = []
        env: dict[str, str] = {}
        if args.store == "s3":
            endpoint, credentials, s3_pid = stack.enter_context(versitygw(tmp))
            servers["versitygw"] = s3_pid
            asyncio.run(_create_bucket(endpoint, "bench", credentials))
            store_args = ["--s3-endpoint", endpoint, "--s3-bucket", "bench", "--s3-path-style"]
            env = {
                "AWS_ACCESS_KEY_ID": credentials.access_key_id,
                "AWS_SECRET_ACCESS_KEY": credentials.secret_access_key,
            }

        started = time.monotonic()
        incremental = args.incremental_interval if args.incremental else None
        populate(kube, sim, args.tenants, args.interval, args.snapshot_type, incremental)
        print(
            f"setup: {args.tenants} tenants ({args.snapshot_type}, every {args.interval}"
            + (f", incremental windows every {incremental}" if incremental else "")
            + f") + 1 Secret in "
            f"{time.monotonic() - started:.1f}s; store {args.store}, {args.replicas} replica(s), "
            f"site latency {args.latency_ms:.0f} ms, {os.cpu_count()} cores"
        )

        # A tenant schedules the window it is in when it first reconciles: replicas started just before a
        # boundary would leave the first window with only some tenants' Snapshots. Start in the next one.
        opens = window_start(datetime.now(UTC), interval) + interval
        if not args.incremental and (
            args.align or (opens - datetime.now(UTC)).total_seconds() < max(60.0, 3 * args.tenant_interval)
        ):
            print(f"waiting for the window at {opens:%H:%M:%S} UTC to start the replicas in a whole window")
            while datetime.now(UTC) < opens:
                time.sleep(min(5.0, max(0.1, (opens - datetime.now(UTC)).total_seconds())))
        server_cpu = {name: cpu_seconds(pid) for name, pid in servers.items()}
        shard = ["--shard-namespace", SHARD_NAMESPACE, "--shard-lease-duration", "15"] if args.replicas > 1 else []
        replicas: list[Replica] = []
        for i in range(args.replicas):
            name = f"replica-{i}"
            op = start_operator(
                plane,
                [NAMESPACE],
                tmp / name,
                store=args.store,
                lease_duration=args.lease_duration,
                tenant_interval=args.tenant_interval,
                name=name,
                extra=[*store_args, *shard, *args.operator_arg],
                env=env,
            )
            stack.callback(op.stop)
            replicas.append(Replica(name, op))
        began = datetime.now(UTC)
        last = first_mark = mark(kube, replicas)
        first = window_start(began, interval)

        results: list[WindowResult] = []
        if args.incremental:
            inc = parse_duration(args.incremental_interval)
            results, first_mark, last = run_incremental(args, kube, replicas, sim, began, interval, inc)
            windows = args.windows  # tenant-windows below: the incremental ones
        else:
            for k in range(args.windows):
                result, last = run_window(args, kube, replicas, k, first + k * interval, began, interval, last)
                results.append(result)
                if any("after twice the interval" in p for p in result.problems):
                    break  # later windows would only pile up behind this one
            windows = len(results)

        for r in replicas:
            r.sample()
        metrics = {r.name: r.metrics() for r in replicas}
        server_cpu = {name: cpu_seconds(pid) - server_cpu[name] for name, pid in servers.items()}
        total_api = api_delta(first_mark, last)
        owner_of = owners(kube)
        payload = etcd_payload(kube)
        for r in replicas:
            r.op.stop()

    problems = [p for result in results for p in result.problems]
    print(f"summary over {windows} window(s) of {args.tenants} tenants:")
    tenant_windows = args.tenants * windows
    total_cpu = sum(r.cpu for r in replicas)
    for r in replicas:
        owned = sum(1 for o in owner_of.values() if r.owns(o))
        print(
            f"  {r.name}: CPU {r.cpu:.1f}s, peak RSS {r.hwm / 2**20:.0f} MiB"
            + (" (killed)" if r.killed_at else "")
            + (f", owns {owned} tenants (status.owner)" if any(owner_of.values()) else "")
        )
        if r.hwm > args.rss_limit_mib * 2**20:
            problems.append(f"{r.name}: peak RSS {r.hwm / 2**20:.0f} MiB over {args.rss_limit_mib:.0f} MiB")
    print(
        f"  operator CPU per tenant-window: {total_cpu / tenant_windows * 1000:.1f} ms "
        f"(all replicas, from their start, {total_cpu:.1f}s in all)"
    )
    print("  other processes' CPU s: " + ", ".join(f"{k} {v:.1f}" for k, v in server_cpu.items()))
    print(f"  Kubernetes API requests over the run: {describe_api(total_api, tenant_windows)}")
    jira = sum(int(v) for v in counts.values()) if counts else 0
    print(f"  Jira requests (emulator): {jira} = {jira / tenant_windows:.1f} per tenant-window")
    for name, found in metrics.items():
        shown = ", ".join(
            f"{metric.removeprefix('jiradrift_')}{{{','.join(f'{k}={v}' for k, v in labels)}}} {value:.0f}"
            for (metric, labels), value in sorted(found.items())
        )
        if shown:
            print(f"  {name} metrics: {shown}")
    count, size, names = payload
    print(
        f"  ConfigMaps + Secrets in {NAMESPACE} besides the credentials Secret: {count}, {size:,} bytes of data"
        + (f" (e.g. {', '.join(names[:3])})" if names else "")
    )
    if args.store == "s3" and count:
        problems.append(f"--store s3 put {count} objects ({size:,} bytes) into etcd")
    if problems:
        print("TARGETS MISSED:\n  " + "\n  ".join(problems))
        return 1
    print("all targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
