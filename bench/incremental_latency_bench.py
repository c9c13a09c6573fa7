"""Incremental capture latency: time from a change in Jira to the tenant's ``Drifted=True`` (issue 26).

    .venv/bin/python bench/incremental_latency_bench.py                      # 60 changes, default interval
    .venv/bin/python bench/incremental_latency_bench.py --changes 50 --incremental-interval 2m

Target (issue 26, DESIGN.md): p95 <= 5 minutes with default settings, over at least 50 random
changes of every kind the emulator can mutate.

What runs, all on loopback, as ``bench/scale_bench.py`` runs it: a real kube-apiserver + etcd
(``ControlPlane``); the Jira emulator in its own process, serving one ``--size`` site per tenant
(each its own port and seed); one ``jiradrift run`` process with the CLI's defaults (a 30 s
tenant tick, 90 s snapshot Leases, the ConfigMap store). Every tenant has
``spec.schedule.incremental.enabled: true`` and nothing else set: its incremental interval is the
CRD's default (the pydantic model's, ``api/resources.py``) unless ``--incremental-interval`` is
given, its full captures the default interval.

One change per tenant, so many changes run at once and the run takes a few intervals, not 50:
once every tenant's first full capture of every type is Completed and accepted (``Drifted=False``;
a change made before its type was read would be in the base), each tenant gets one admin
mutation at a random moment within one incremental interval. The mutations cycle
through every one the emulator has (``sim.admin.MUTATIONS``: audited kinds and the unaudited
statuses, priorities, resolutions and field configurations) in random order; on
``--late-share`` of the sites audit records show up ``--audit-delay`` seconds late.

For each change the bench polls (every ``--poll`` seconds) until the tenant says ``Drifted=True``,
takes the condition's ``lastTransitionTime`` (whole seconds) as the moment, and checks that an
Incremental Snapshot of the tenant names the changed object in ``status.drift.changes``. It
prints p50, p95 and the maximum, by kind, and the stages (change -> Incremental Snapshot created
-> Completed -> Drifted). Then, unless ``--no-full-check``, one full capture of every type of
every tenant (Scheduled Snapshots with a past window, as a scheduled full capture): each counts
what the incremental windows had missed (``status.capture.missedCount``; target 0).

Exit status 1 when a target is missed: p95 over 5 minutes, a change not reported, a report that
does not name the changed object, or a missed change at the full capture.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import AsyncExitStack, ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
from benchlib import child_process
from kubernetes import config as k8s_config
from scale_bench import NAMESPACE, BenchKube, b64, cpu_seconds, parse_time

from jiradrift.api.baseline import ACCEPTED, LABEL_ACCEPTED
from jiradrift.api.credentials import ALLOWED_TENANTS_ANNOTATION
from jiradrift.api.resources import GROUP, VERSION, IncrementalSchedule, Schedule
from jiradrift.api.windows import parse_duration
from jiradrift.dev.controlplane import ControlPlane, install_crds
from jiradrift.dev.operator_process import start_operator
from jiradrift.model.snapshot_types import SnapshotType
from jiradrift.sim.admin import MUTATIONS

TARGET_P95 = timedelta(minutes=5)
CR_PATH = f"/apis/{GROUP}/{VERSION}/namespaces/{NAMESPACE}"
PAST_WINDOW = "2026-01-01T00:00:00Z"  # the full check's Snapshots: a past window, never the schedule's own


# --- the emulator: one site per tenant, in its own process --------------------------------------------


def _serve(sites: int, size: str, late: list[int], delay: float, tag: str, conn: Any) -> None:
    from jiradrift.sim.emulator import Emulator
    from jiradrift.sim.mutations import example_calls

    async def main() -> None:
        async with AsyncExitStack() as stack:
            running = []
            for i in range(sites):
                emu = Emulator(size=size, seed=i + 1, audit_delay_seconds=delay if i in late else 0.0)
                running.append(await stack.enter_async_context(emu.serve()))
            info = []
            for sim in running:
                calls = {
                    c.mutation: {"kwargs": c.kwargs, "kind": c.kind, "keys": drift_keys(sim.site, c)}
                    for c in example_calls(sim.site, tag)
                }
                creds = sim.credentials
                info.append({"base_url": sim.base_url, "email": creds.email, "token": creds.api_token, "calls": calls})
            conn.send({"sites": info})
            await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # until told to stop
            conn.send({"requests": sum(sum(s.requests.counts.values()) for s in running)})

    asyncio.run(main())


def drift_keys(site: Any, call: Any) -> list[str]:
    """The item keys a change's drift names (``<kind>/<id>``): a field option is its context's,
    the settings are one item; empty for a new object (its id is minted by the call)."""
    if call.kind == "field-context":
        return [f"field-context/{c.body['id']}" for c in site.contexts(call.object_id)]
    if call.kind == "configuration":
        return ["configuration/global"]
    return [f"{call.kind}/{call.object_id}"] if call.object_id else []


@contextmanager
def emulator_sites(
    sites: int, size: str, late: list[int], delay: float, tag: str
) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    with child_process(_serve, (sites, size, late, delay, tag), "the emulator") as (info, counts):
        yield info, counts


# --- one change per tenant --------------------------------------------------------------------------


@dataclass
class Change:
    tenant: str
    mutation: str
    kind: str
    keys: list[str]  # the item keys its drift names
    late_audit: bool
    due: float  # monotonic: when to make it
    at: datetime | None = None  # when it was made (just before the request)
    drifted: datetime | None = None  # the tenant's Drifted=True lastTransitionTime
    created: datetime | None = None  # its Incremental Snapshot's creationTimestamp
    completed: datetime | None = None  # ... and completionTime
    named: bool = False  # that Snapshot's drift names the changed object
    seen: list[str] | None = None  # the drift keys seen, when they did not name it

    def latency(self) -> float | None:
        if self.at is None or self.drifted is None:
            return None
        return (self.drifted - self.at).total_seconds()

    def names(self, key: str) -> bool:
        """Whether a drift change's key is the changed object's."""
        return key in self.keys


def make_change(site: dict[str, Any], change: Change) -> None:
    call = site["calls"][change.mutation]
    change.at = datetime.now(UTC)
    reply = httpx.post(f"{site['base_url']}/_sim/admin/{change.mutation}", json=call["kwargs"], timeout=30)
    reply.raise_for_status()
    if not change.keys:  # a new object: its id is minted by the call
        change.keys = [f"{change.kind}/{reply.json().get('id', '')}"]


def tenant_name(i: int) -> str:
    return f"lat-{i:03d}"


def populate(kube: BenchKube, sites: list[dict[str, Any]], interval: str | None) -> None:
    kube.call("POST", "/api/v1/namespaces", resource="namespaces", body={"metadata": {"name": NAMESPACE}})
    incremental: dict[str, Any] = {"enabled": True}
    if interval is not None:
        incremental["interval"] = interval
    for i, site in enumerate(sites):
        kube.call(
            "POST",
            f"/api/v1/namespaces/{NAMESPACE}/secrets",
            resource="secrets",
            body={
                "metadata": {"name": f"jira-{i:03d}", "annotations": {ALLOWED_TENANTS_ANNOTATION: tenant_name(i)}},
                "data": {"email": b64(site["email"]), "token": b64(site["token"])},
            },
        )
        kube.call(
            "POST",
            f"{CR_PATH}/jiratenants",
            resource="jiratenants",
            body={
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "JiraTenant",
                "metadata": {"name": tenant_name(i)},
                "spec": {
                    "site": site["base_url"],
                    "auth": {"apiToken": {"secretRef": {"name": f"jira-{i:03d}"}}},
                    "schedule": {"incremental": incremental},
                },
            },
        )


def condition(tenant: dict[str, Any], kind: str) -> dict[str, Any]:
    found = [c for c in (tenant.get("status") or {}).get("conditions") or [] if c.get("type") == kind]
    return found[0] if found else {}


def listing(kube: BenchKube, resource: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = kube.call("GET", f"{CR_PATH}/{resource}", resource=resource, timeout=120)["items"]
    return items


def wait(what: str, check: Any, timeout: float, poll: float, op: Any) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        if op.proc.poll() is not None:
            raise RuntimeError(f"the operator exited ({op.proc.returncode}); log tail:\n{op.text()[-3000:]}")
        ok, last = check()
        if ok:
            return last
        time.sleep(poll)
    raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}; last seen: {str(last)[:1500]}")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile: the smallest value with at least ``q`` of the values at or below it."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 1))
    return ordered[int(rank) - 1]


def observe(kube: BenchKube, changes: dict[str, Change]) -> None:
    """Fill in what the tenants and their Incremental Snapshots say about each change made."""
    tenants = {t["metadata"]["name"]: t for t in listing(kube, "jiratenants")}
    snaps = [s for s in listing(kube, "snapshots") if s["spec"].get("reason") == "Incremental"]
    for name, change in changes.items():
        if change.at is None:
            continue
        drifted = condition(tenants.get(name, {}), "Drifted")
        if change.drifted is None and drifted.get("status") == "True" and drifted.get("lastTransitionTime"):
            change.drifted = parse_time(str(drifted["lastTransitionTime"]))
        keys: list[str] = []
        for snap in sorted(snaps, key=lambda s: str(s["metadata"]["creationTimestamp"])):
            if snap["spec"]["tenantRef"]["name"] != name:
                continue
            status = snap.get("status") or {}
            found = [str(c.get("key", "")) for c in (status.get("drift") or {}).get("changes") or []]
            keys += found
            if any(change.names(k) for k in found) and not change.named:
                change.named = True
                change.created = parse_time(str(snap["metadata"]["creationTimestamp"]))
                if status.get("completionTime"):
                    change.completed = parse_time(str(status["completionTime"]))
        if not change.named:
            change.seen = keys


def full_check(kube: BenchKube, tenants: list[str], poll: float, op: Any) -> tuple[int, Counter[str], list[str]]:
    """A full capture of every type of every tenant; (missed, missed by kind, problems)."""
    types = [t.value for t in SnapshotType]
    for tenant in tenants:
        for snapshot_type in types:
            kube.call(
                "POST",
                f"{CR_PATH}/snapshots",
                resource="snapshots",
                body={
                    "apiVersion": f"{GROUP}/{VERSION}",
                    "kind": "Snapshot",
                    "metadata": {"name": f"{tenant}-{snapshot_type}-full"},
                    "spec": {
                        "tenantRef": {"name": tenant},
                        "type": snapshot_type,
                        "reason": "Scheduled",
                        "windowStart": PAST_WINDOW,
                    },
                },
            )
    wanted = len(tenants) * len(types)

    def done() -> tuple[bool, Any]:
        snaps = [s for s in listing(kube, "snapshots") if s["metadata"]["name"].endswith("-full")]
        phases = Counter(str((s.get("status") or {}).get("phase") or "Pending") for s in snaps)
        final = sum(v for k, v in phases.items() if k in ("Completed", "Incomplete", "Failed"))
        return final == wanted, (snaps, phases)

    snaps, phases = wait("the full captures", done, timeout=1800, poll=poll, op=op)
    missed, kinds, problems, uncounted = 0, Counter[str](), [], 0
    for snap in snaps:
        capture = (snap.get("status") or {}).get("capture") or {}
        if capture.get("missedCount") is None:
            uncounted += 1
            continue
        missed += int(capture["missedCount"])
        kinds.update({str(k): 1 for k in capture.get("missedKinds") or []})
    if phases.get("Completed", 0) != wanted:
        problems.append(f"full check: {dict(phases)} (each must be Completed)")
    if uncounted:
        problems.append(f"full check: {uncounted} of {wanted} full captures did not count missed changes")
    if missed:
        problems.append(f"full check: {missed} change(s) missed by the incremental windows: {dict(kinds)}")
    print(
        f"full check: {wanted} full captures (every type of every tenant) {dict(phases)}; missed changes counted "
        f"(status.capture.missedCount): {missed}" + (f" by kind {dict(kinds)}" if kinds else "") + " (target 0)"
    )
    return missed, kinds, problems


# --- the run ------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=60, help="changes, one per tenant (at least 50)")
    parser.add_argument("--size", default="small", help="each tenant's emulated site")
    parser.add_argument(
        "--incremental-interval", help="spec.schedule.incremental.interval (default: not set, the CRD's default)"
    )
    parser.add_argument("--audit-delay", type=float, default=90.0, help="seconds audit records show up late")
    parser.add_argument("--late-share", type=float, default=0.34, help="share of the sites with late audit records")
    parser.add_argument("--tenant-interval", type=float, default=30.0, help="the operator's (the CLI's default)")
    parser.add_argument("--poll", type=float, default=5.0, help="seconds between the bench's listings")
    parser.add_argument("--seed", type=int, default=26)
    parser.add_argument("--no-full-check", action="store_true", help="skip the full capture that counts missed changes")
    parser.add_argument("--keep", type=Path, help="keep the operator's log in this directory")
    args = parser.parse_args()
    if args.changes < 1:
        parser.error("--changes must be at least 1")

    def stop(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return run(args)


def run(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    interval_text = args.incremental_interval or IncrementalSchedule().interval
    interval = parse_duration(interval_text)
    n = args.changes
    late = sorted(rng.sample(range(n), round(n * args.late_share)))
    mutations = [MUTATIONS[i % len(MUTATIONS)] for i in range(n)]
    rng.shuffle(mutations)
    problems: list[str] = []
    with ExitStack() as stack:
        tmp = args.keep or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="inc-latency-")))
        tmp.mkdir(parents=True, exist_ok=True)
        plane = stack.enter_context(ControlPlane.start())
        install_crds(plane, tmp / "crds")
        api = k8s_config.new_client_from_config(config_file=str(plane.kubeconfig))
        stack.callback(api.close)
        kube = BenchKube(api)
        started = time.monotonic()
        sim, counts = stack.enter_context(emulator_sites(n, args.size, late, args.audit_delay, "lat"))
        sites = sim["sites"]
        servers = {
            p.name(): p.pid for p in psutil.Process().children(recursive=True) if p.name() in ("kube-apiserver", "etcd")
        }
        servers["emulator"] = sim["pid"]
        populate(kube, sites, args.incremental_interval)
        stored = listing(kube, "jiratenants")[0]["spec"]["schedule"]
        print(
            f"setup: {n} tenants, each its own `{args.size}` site (emulator up in {time.monotonic() - started:.1f}s), "
            f"every snapshot type; spec.schedule as stored: {stored} (model defaults: full {Schedule().interval}, "
            f"incremental {IncrementalSchedule().interval}); audit records {args.audit_delay:.0f}s late on "
            f"{len(late)} sites; operator tick {args.tenant_interval:.0f}s"
        )
        if stored.get("incremental", {}).get("interval") != interval_text:
            problems.append(f"the stored incremental interval {stored} is not {interval_text}")
        op = start_operator(
            plane,
            [NAMESPACE],
            tmp / "operator",
            store="configmap",
            lease_duration=90,
            tenant_interval=args.tenant_interval,
        )
        stack.callback(op.stop)
        began = time.monotonic()

        types = len(SnapshotType)

        def steady() -> tuple[bool, Any]:
            # Every type's first full capture Completed and accepted (a change made before its type
            # was read would be in the base, never reported), and the tenant says so.
            accepted = Counter(
                s["spec"]["tenantRef"]["name"]
                for s in listing(kube, "snapshots")
                if (s.get("status") or {}).get("phase") == "Completed"
                and (s["metadata"].get("labels") or {}).get(LABEL_ACCEPTED) == ACCEPTED
            )
            tenants = listing(kube, "jiratenants")
            ok = [
                t
                for t in tenants
                if condition(t, "Drifted").get("reason") == "MatchesAccepted"
                and accepted[t["metadata"]["name"]] == types
            ]
            return len(ok) == n, f"{len(ok)}/{n} tenants with all {types} types Completed and accepted"

        wait("every tenant's first full capture accepted", steady, timeout=1800, poll=5.0, op=op)
        print(f"first full captures Completed and accepted in {time.monotonic() - began:.0f}s")

        t0 = time.monotonic() + 5.0
        changes = {
            tenant_name(i): Change(
                tenant_name(i),
                mutations[i],
                sites[i]["calls"][mutations[i]]["kind"],
                list(sites[i]["calls"][mutations[i]]["keys"]),
                i in late,
                t0 + rng.random() * interval.total_seconds(),
            )
            for i in range(n)
        }
        pending = sorted(changes.values(), key=lambda c: c.due)
        index = {c.tenant: i for i, c in enumerate(changes.values())}
        deadline = t0 + interval.total_seconds() + max(3 * interval.total_seconds(), 600.0)
        last_observe = 0.0
        while time.monotonic() < deadline:
            now = time.monotonic()
            while pending and pending[0].due <= now:
                change = pending.pop(0)
                make_change(sites[index[change.tenant]], change)
            if op.proc.poll() is not None:
                raise RuntimeError(f"the operator exited ({op.proc.returncode}); log tail:\n{op.text()[-3000:]}")
            if now - last_observe >= args.poll:
                observe(kube, changes)
                last_observe = now
                if not pending and all(c.drifted is not None and c.named for c in changes.values()):
                    break
            time.sleep(min(0.2, max(0.0, (pending[0].due - time.monotonic()) if pending else 0.2)))
        observe(kube, changes)

        report(changes.values(), interval_text, problems)
        if not args.no_full_check:
            problems += full_check(kube, list(changes), 5.0, op)[2]
        else:
            print("full check: skipped (--no-full-check); tests/snapshot/test_missed_changes.py covers it")
        cpu = cpu_seconds(op.proc.pid)
        rss = psutil.Process(op.proc.pid).memory_info().rss if op.proc.poll() is None else 0
        print(
            f"operator CPU {cpu:.0f}s, RSS now {rss / 2**20:.0f} MiB; other processes' CPU s: "
            + ", ".join(f"{k} {cpu_seconds(v):.0f}" for k, v in servers.items())
        )
        op.stop()
    print(f"Jira requests (every site, the whole run): {counts.get('requests', 0)}")
    if problems:
        print("TARGETS MISSED:\n  " + "\n  ".join(problems))
        return 1
    print("all targets met")
    return 0


def report(changes: Any, interval: str, problems: list[str]) -> None:
    done = [c for c in changes if c.latency() is not None]
    missing = [c for c in changes if c.latency() is None]
    unnamed = [c for c in done if not c.named]
    latencies = [c.latency() for c in done]
    by_kind: dict[str, list[float]] = {}
    for c in done:
        by_kind.setdefault(c.mutation, []).append(c.latency())
    total = len(done) + len(missing)
    print(
        f"{total} changes ({len(set(c.mutation for c in changes))} mutations of "
        f"{len(set(c.kind for c in changes))} kinds, {sum(1 for c in changes if c.late_audit)} on sites with late "
        f"audit records), incremental interval {interval}: Drifted=True for {len(done)}"
    )
    if latencies:
        p50, p95 = statistics.median(latencies), percentile(latencies, 0.95)
        print(
            f"  change -> Drifted=True: p50 {p50:.0f}s, p95 {p95:.0f}s, max {max(latencies):.0f}s, min "
            f"{min(latencies):.0f}s (target p95 <= {TARGET_P95.total_seconds():.0f}s: "
            f"{'met' if p95 <= TARGET_P95.total_seconds() and not missing else 'NOT met'})"
        )
        stages = [
            (
                (c.created - c.at).total_seconds(),
                (c.completed - c.created).total_seconds(),
                (c.drifted - c.completed).total_seconds(),
            )
            for c in done
            if c.created and c.completed and c.at and c.drifted
        ]
        if stages:
            created, completed, drifted = (statistics.median(s[i] for s in stages) for i in range(3))
            print(
                f"  stages, median: change -> Incremental Snapshot created {created:.0f}s, -> Completed "
                f"{completed:.0f}s, -> Drifted {drifted:.0f}s"
            )
        for mutation, values in sorted(by_kind.items()):
            late = [c.latency() for c in done if c.mutation == mutation and c.late_audit]
            print(
                f"  {mutation:<27} n={len(values):<2} p50 {statistics.median(values):>4.0f}s max {max(values):>4.0f}s"
                + (f" (late audit: {', '.join(f'{v:.0f}s' for v in late)})" if late else "")
            )
        if p95 > TARGET_P95.total_seconds():
            problems.append(f"p95 {p95:.0f}s over {TARGET_P95.total_seconds():.0f}s")
    for c in missing:
        problems.append(f"{c.tenant}: {c.mutation} ({', '.join(c.keys)}) not reported (Drifted not True)")
    for c in unnamed:
        problems.append(f"{c.tenant}: {c.mutation}: no Incremental Snapshot names {c.keys}; seen {c.seen}")


if __name__ == "__main__":
    sys.exit(main())
