"""Kubernetes API calls and bytes of the ConfigMap store per capture, against a real API server.

    .venv/bin/python bench/store_calls.py                  # `large` site, every snapshot type
    .venv/bin/python bench/store_calls.py --size medium --no-baseline

A real kube-apiserver + etcd (``ControlPlane``) and the Jira emulator run on loopback. Every snapshot
type of the site is captured twice into one tenant: a first capture (empty store) and an unchanged
one (same site, new Snapshot ids). Calls and bytes are counted where the store meets the API server:

- ``after``: the store on the async client (``Kube``), counted by its ``observer``: each answered call,
  response bytes as read from the server, request bytes as the JSON bodies sent (compact encoding).
- ``before``: the implementation of 7d0701a (``git show 7d0701a:operator/jiradrift/store/configmap.py``,
  the named baseline) on the sync client, counted the same way at its ``ApiClient.call_api``, driven by
  the same capture through a thin adapter (it is synchronous; it blocks the loop, which is the point).

Targets (issue 11): an unchanged capture reads at most the manifest listing plus one index per
snapshot type and writes nothing but its manifest; a first capture writes O(packs) objects.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import random
import subprocess
import sys
import tempfile
import time
import types
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from jiradrift.dev.controlplane import ControlPlane
from jiradrift.jira.auth import ApiTokenAuth
from jiradrift.jira.client import ClientSettings, JiraClient
from jiradrift.kube.client import Kube
from jiradrift.model.manifest import Manifest
from jiradrift.model.report import Change, DriftReport
from jiradrift.model.snapshot_types import SnapshotType
from jiradrift.model.store import SnapshotInfo, StoreUsage
from jiradrift.sim.emulator import Emulator, RunningEmulator
from jiradrift.snapshot.capture import capture_snapshot
from jiradrift.store.configmap import ConfigMapStore

BASELINE_COMMIT = "7d0701a"
REPO = Path(__file__).resolve().parent.parent


@dataclass
class Tally:
    """API calls by method, and bytes sent (request bodies) and received (response bodies)."""

    calls: Counter[str] = field(default_factory=Counter)
    sent: int = 0
    received: int = 0

    def reset(self) -> Tally:
        done = Tally(self.calls.copy(), self.sent, self.received)
        self.calls.clear()
        self.sent = self.received = 0
        return done

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    @property
    def writes(self) -> int:
        return sum(n for m, n in self.calls.items() if m != "GET")

    def describe(self) -> str:
        by_method = " ".join(f"{m}={n}" for m, n in sorted(self.calls.items()))
        sent, received = self.sent / 1e6, self.received / 1e6
        return f"{self.total:6d} calls ({by_method}); sent {sent:8.2f} MB, received {received:8.2f} MB"


def _body_size(body: Any) -> int:
    return 0 if body is None else len(orjson.dumps(body))


def counting(tally: Tally) -> Any:
    """A ``Kube`` observer adding each call to ``tally``."""

    def observe(method: str, path: str, sent: int, received: int) -> None:
        tally.calls[method] += 1
        tally.sent += sent
        tally.received += received

    return observe


def count_sync_client(api: k8s.ApiClient, tally: Tally) -> None:
    """The same count on the sync client the baseline used."""
    original = api.call_api

    def call_api(
        method: str, url: str, header_params: Any = None, body: Any = None, post_params: Any = None, **kwargs: Any
    ) -> Any:
        tally.calls[method] += 1
        tally.sent += _body_size(body)
        response = original(method, url, header_params, body, post_params, **kwargs)
        read = response.read

        def counted_read() -> bytes:
            raw: bytes = read()
            tally.received += len(raw)
            return raw

        response.read = counted_read
        return response

    api.call_api = call_api  # type: ignore[method-assign]


def load_baseline() -> types.ModuleType:
    """store/configmap.py as of the baseline commit, importable beside the current one."""
    source = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{BASELINE_COMMIT}:operator/jiradrift/store/configmap.py"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = Path(tempfile.mkdtemp(prefix="store-baseline-")) / "baseline_configmap.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("baseline_configmap", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["baseline_configmap"] = module
    spec.loader.exec_module(module)
    return module


class SyncStoreAdapter:
    """The baseline's synchronous store behind the async protocol, called inline (as it ran)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    async def begin_capture(self, tenant: str, snapshot_type: str) -> None:
        return None

    async def put_item(self, digest: str, body: bytes) -> bool:
        return bool(self.store.put_item(digest, body))

    async def has_item(self, digest: str) -> bool:
        return bool(self.store.has_item(digest))

    async def get_item(self, digest: str) -> bytes:
        return bytes(self.store.get_item(digest))

    async def get_items(self, digests: Iterable[str]) -> dict[str, bytes]:
        return {d: self.store.get_item(d) for d in digests}

    async def put_manifest(self, manifest: Manifest) -> Manifest:
        stored: Manifest = self.store.put_manifest(manifest)
        return stored

    async def get_manifest(self, snapshot_id: str) -> Manifest:
        manifest: Manifest = self.store.get_manifest(snapshot_id)
        return manifest

    async def list_manifests(self, tenant: str | None = None) -> list[str]:
        return list(self.store.list_manifests(tenant))

    async def list_snapshots(self, tenant: str | None = None) -> list[SnapshotInfo]:
        return list(self.store.list_snapshots(tenant))

    async def delete_snapshot(self, snapshot_id: str) -> None:
        self.store.delete_snapshot(snapshot_id)

    async def put_drift(self, report: DriftReport) -> None:
        self.store.put_drift(report)

    async def get_drift(self, snapshot_id: str) -> DriftReport | None:
        report: DriftReport | None = self.store.get_drift(snapshot_id)
        return report

    async def read_changes(self, snapshot_id: str, start: int, stop: int) -> list[Change]:
        changes: list[Change] = self.store.read_changes(snapshot_id, start, stop)
        return changes

    async def usage(self, tenant: str) -> StoreUsage:
        usage: StoreUsage = self.store.usage(tenant)
        return usage


def owner(name: str) -> dict[str, str]:
    return {"apiVersion": "jiradrift.io/v1alpha1", "kind": "Snapshot", "name": name, "uid": str(uuid.uuid4())}


@dataclass
class Round:
    label: str
    items: int
    unchanged: int
    tally: Tally
    seconds: float


async def capture_round(
    label: str, sim: RunningEmulator, stores: dict[SnapshotType, Any], tally: Tally, at: datetime
) -> Round:
    """Capture every type once (one after another, each into its own store object); one tally."""
    c = sim.credentials
    jira = await JiraClient.connect(
        sim.base_url,
        ApiTokenAuth(c.email, c.api_token),
        settings=ClientSettings(max_concurrency=8, requests_per_second=10_000, timeout=60),
        rng=random.Random(1),
    )
    tally.reset()
    items = unchanged = 0
    started = time.perf_counter()
    async with jira:
        for stype, store in stores.items():
            manifest = await capture_snapshot(
                jira,
                store,
                tenant="bench/acme",
                snapshot_type=stype,
                snapshot_id=f"acme-{stype.value}-{label}",
                captured_at=at,
            )
            items += len(manifest.items)
            unchanged += manifest.unchanged_from is not None
    return Round(label, items, unchanged, tally.reset(), time.perf_counter() - started)


@contextmanager
def namespace(api: k8s.ApiClient, name: str) -> Iterator[str]:
    k8s.CoreV1Api(api).create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
    yield name


async def run_after(plane: ControlPlane, sim: RunningEmulator, ns: str) -> tuple[Round, Round, Round]:
    """First and unchanged capture with one store (as the operator keeps one per tenant), then an
    unchanged capture with a fresh store (a restarted operator: nothing cached)."""
    tally = Tally()
    kube = await Kube.connect(plane.kubeconfig)
    kube.observer = counting(tally)
    try:
        store = ConfigMapStore(kube, ns, "bench/acme")
        now = datetime.now(UTC)
        rounds = []
        for n, label in enumerate(("1", "2", "3")):
            if label == "3":
                store = ConfigMapStore(kube, ns, "bench/acme")
            stores = {t: store.for_owner(owner(f"acme-{t.value}-{label}")) for t in SnapshotType}
            rounds.append(await capture_round(label, sim, stores, tally, now + timedelta(hours=n)))
        return rounds[0], rounds[1], rounds[2]
    finally:
        await kube.close()


async def run_before(plane: ControlPlane, sim: RunningEmulator, ns: str) -> tuple[Round, Round]:
    baseline = load_baseline()
    tally = Tally()
    api = k8s_config.new_client_from_config(config_file=str(plane.kubeconfig))
    count_sync_client(api, tally)
    store = baseline.ConfigMapStore(api, ns, "bench/acme")
    now = datetime.now(UTC)
    rounds = []
    for n, label in enumerate(("1", "2")):
        stores = {t: SyncStoreAdapter(store.for_owner(owner(f"acme-{t.value}-{label}"))) for t in SnapshotType}
        rounds.append(await capture_round(label, sim, stores, tally, now + timedelta(hours=n)))
    return rounds[0], rounds[1]


def report(name: str, first: Round, again: Round) -> None:
    print(f"{name}:")
    print(f"  first capture     {first.items:6d} items  {first.tally.describe()}  ({first.seconds:.1f} s)")
    print(
        f"  unchanged capture {again.items:6d} items  {again.tally.describe()}  ({again.seconds:.1f} s; "
        f"{again.unchanged}/{len(SnapshotType)} snapshots unchanged)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="large", help="emulator site profile (tiny..xl)")
    parser.add_argument("--baseline", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    types_count = len(SnapshotType)
    with ControlPlane.start() as plane, Emulator(size=args.size, seed=1).running() as sim:
        admin = k8s_config.new_client_from_config(config_file=str(plane.kubeconfig))
        with namespace(admin, "bench-after") as ns:
            first, again, restarted = asyncio.run(run_after(plane, sim, ns))
        report(
            f"after (async Kube client, per-capture index) - site {args.size}, {types_count} snapshot types",
            first,
            again,
        )
        print(f"  unchanged, fresh store (nothing cached)   {restarted.tally.describe()}")
        if args.baseline:
            with namespace(admin, "bench-before") as ns:
                b_first, b_again = asyncio.run(run_before(plane, sim, ns))
            report(f"before ({BASELINE_COMMIT} store/configmap.py, sync client)", b_first, b_again)
            print("ratios before/after:")
            for label, b, a in (("first", b_first, first), ("unchanged", b_again, again)):
                print(
                    f"  {label:9s} calls {b.tally.total / max(a.tally.total, 1):7.1f}x   "
                    f"bytes received {b.tally.received / max(a.tally.received, 1):7.1f}x"
                )
    for label, r in (("unchanged", again), ("unchanged, fresh store", restarted)):
        print(
            f"target ({label}): <= {2 * types_count} reads (a manifest listing + one index per type) and "
            f"{types_count} writes (its manifests): got {r.tally.total - r.tally.writes} reads, {r.tally.writes} writes"
        )


if __name__ == "__main__":
    main()
