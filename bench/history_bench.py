"""History sink benchmark: the git side of ``spec.history`` and ``jiradrift history export``.

    .venv/bin/python bench/history_bench.py [--items 10000] [--windows 1000] [--changes-per-window 3]

A synthetic site of ``--items`` objects of realistic shape and size (fields, field contexts with
options, workflows with statuses and transitions, screens, projects; ~1 KiB of YAML each) is stored
in a filesystem store, then published to a local bare repository (``file://``: no network, the
figures are the git side's own):

1. Initial export (target: a 10k-item site in under 60 s): store -> one commit -> pushed. Baseline:
   the porcelain route (write a work tree, ``git add -A``, ``git commit``) on the same files.
2. Incremental commit of 10 changed objects (target: under 1 s excluding the network): the
   planning, rendering and ``git fast-import`` of one window, and the whole publish (fetch + push
   over ``file://`` included).
3. Repository size after ``--windows`` windows of small changes (``--changes-per-window`` objects
   each), pushed in batches of 100 windows, before and after ``git gc``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from jiradrift.history.gitcli import Credentials, GitRepo, Remote
from jiradrift.history.render import render_yaml
from jiradrift.history.sink import HistorySink
from jiradrift.history.source import StoreSource, candidates
from jiradrift.model.manifest import Manifest
from jiradrift.store.filesystem import FilesystemStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TENANT = "bench/acme"


def _body(kind: str, n: int, rev: int) -> dict[str, Any]:
    rnd = random.Random(n)
    if kind == "field":
        return {
            "id": f"customfield_{10000 + n}",
            "name": f"Field {n}",
            "custom": True,
            "schema": {"type": "string", "custom": "com.atlassian.jira.plugin.system.customfieldtypes:textfield"},
            "description": f"A custom field number {n} (rev {rev})",
            "clauseNames": [f"cf[{10000 + n}]", f"Field {n}"],
        }
    if kind == "field-context":
        return {
            "id": str(n),
            "name": f"Context {n}",
            "fieldId": f"customfield_{10000 + n % 4000}",
            "isGlobalContext": n % 5 == 0,
            "projectIds": sorted(str(rnd.randrange(1000)) for _ in range(3)),
            "options": [{"id": str(n * 10 + i), "value": f"Option {i} r{rev}", "disabled": False} for i in range(6)],
        }
    if kind == "workflow":
        return {
            "id": f"wf-{n}",
            "name": f"Workflow {n}",
            "description": f"rev {rev}",
            "statuses": [{"statusReference": str(s), "layout": {"x": s * 10, "y": 0}} for s in range(1, 7)],
            "transitions": [
                {
                    "id": str(t),
                    "name": f"Move {t}",
                    "toStatusReference": str(t % 6 + 1),
                    "links": [{"fromStatusReference": str(t % 6)}],
                }
                for t in range(8)
            ],
        }
    if kind == "screen":
        return {
            "id": str(n),
            "name": f"Screen {n}",
            "description": f"rev {rev}",
            "tabs": [
                {
                    "id": str(n * 3 + t),
                    "name": f"Tab {t}",
                    "fields": [{"id": f"customfield_{10000 + rnd.randrange(4000)}"} for _ in range(8)],
                }
                for t in range(2)
            ],
        }
    return {"id": str(n), "key": f"P{n}", "name": f"Project {n} (rev {rev})", "projectTypeKey": "software",
            "schemes": {"workflowScheme": str(n % 50), "issueTypeScheme": str(n % 20)}}  # fmt: skip


MIX = (("field", 0.4), ("field-context", 0.3), ("workflow", 0.05), ("screen", 0.15), ("project", 0.1))


def site_keys(items: int) -> list[tuple[str, int]]:
    out = []
    for kind, share in MIX:
        out += [(kind, n) for n in range(int(items * share))]
    return out


def canonical(obj: Any) -> tuple[str, bytes]:
    """(sha256, canonical JSON) as capture stores a body."""
    body = orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(body).hexdigest(), body


class Site:
    """The synthetic site in a store: the manifest items kept in memory, bodies written as they change."""

    def __init__(self, store: FilesystemStore, keys: list[tuple[str, int]]) -> None:
        self.store, self.keys = store, keys
        self.items: dict[str, str] = {}
        self.revs: dict[int, int] = {}

    async def put(self, indices: list[int]) -> None:
        await self.store.begin_capture(TENANT, "fields")
        for i in indices:
            kind, n = self.keys[i]
            digest, body = canonical(_body(kind, n, self.revs.get(i, 0)))
            await self.store.put_item(digest, body)
            self.items[f"{kind}/{_body(kind, n, 0)['id']}"] = digest

    async def snapshot(self, sid: str, hour: int, changed: list[int]) -> None:
        for i in changed:
            self.revs[i] = self.revs.get(i, 0) + 1
        await self.put(changed if self.items else list(range(len(self.keys))))
        manifest = Manifest(
            snapshot_id=sid,
            tenant=TENANT,
            type="fields",
            captured_at=T0 + timedelta(hours=hour),
            items=dict(self.items),
        )
        await self.store.put_manifest(manifest)


def du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def porcelain_baseline(files: dict[str, bytes], tmp: Path) -> float:
    work = tmp / "porcelain"
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    t = time.perf_counter()
    for path, data in files.items():
        target = work / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    subprocess.run(["git", "-C", str(work), "add", "-A"], check=True)
    subprocess.run(
        ["git", "-C", str(work), "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "all"], check=True
    )
    return time.perf_counter() - t


async def main(items: int, windows: int, per_window: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="history-bench-"))
    try:
        store = FilesystemStore(tmp / "store", durable=False)
        keys = site_keys(items)
        site = Site(store, keys)
        await site.snapshot("w-0000", 0, [])
        remote_dir = tmp / "remote.git"
        subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", str(remote_dir)], check=True)
        remote = Remote(str(remote_dir), "main", Credentials())
        sink = HistorySink(GitRepo.open(tmp / "work", remote), tenant=TENANT)
        source = StoreSource(store)

        t = time.perf_counter()
        result = await sink.publish(candidates(await store.list_snapshots(TENANT)), source)
        initial = time.perf_counter() - t
        files = int(subprocess.run(["git", f"--git-dir={remote_dir}", "ls-tree", "-r", "--name-only", "main"],
                                   capture_output=True, text=True, check=True).stdout.count("\n"))  # fmt: skip
        bodies = {f"f/{i}.yaml": render_yaml(_body(k, n, 0)) for i, (k, n) in enumerate(keys)}
        baseline = porcelain_baseline(bodies, tmp)
        print(f"initial export: {len(keys)} objects, {files} files, {initial:.2f} s "
              f"(porcelain write + add + commit of the same files: {baseline:.2f} s, ratio {baseline / initial:.2f}x); "
              f"{result.pushed}")  # fmt: skip

        rng = random.Random(7)
        await site.snapshot("w-0001", 1, rng.sample(range(len(keys)), 10))
        cands = [c for c in candidates(await store.list_snapshots(TENANT)) if c.snapshot == "w-0001"]
        t = time.perf_counter()
        tip = sink.repo.fetch()
        fetched = time.perf_counter()
        stream, made = await sink._build(tip, cands, source)
        sink.repo.fast_import(stream)
        built = time.perf_counter()
        sink.repo.push(sink.repo.rev(sink.repo.local_ref) or "")
        pushed = time.perf_counter()
        print(f"incremental window of 10 changed objects: plan + render + fast-import {built - fetched:.3f} s; "
              f"fetch {fetched - t:.3f} s, push {pushed - built:.3f} s (file://); {made}")  # fmt: skip

        size_before = du(remote_dir)
        t = time.perf_counter()
        hour = 2
        done = 0
        while done < windows:
            batch = []
            for _ in range(min(100, windows - done)):
                sid = f"w-{hour:04d}"
                await site.snapshot(sid, hour, rng.sample(range(len(keys)), per_window))
                batch.append(sid)
                hour += 1
                done += 1
            todo = [c for c in candidates(await store.list_snapshots(TENANT)) if c.snapshot in batch]
            await sink.publish(todo, source)
        spent = time.perf_counter() - t
        size_loose = du(remote_dir)
        subprocess.run(["git", f"--git-dir={remote_dir}", "gc", "-q"], check=True)
        size_gc = du(remote_dir)
        count = subprocess.run(["git", f"--git-dir={remote_dir}", "rev-list", "--count", "main"],
                               capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
        print(f"{windows} windows x {per_window} changed objects: {spent:.1f} s including storing the snapshots; "
              f"{count} commits; repository {size_before / 2**20:.1f} MiB after the initial export, "
              f"{size_loose / 2**20:.1f} MiB after the windows (one pack per push), "
              f"{size_gc / 2**20:.1f} MiB after git gc")  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--windows", type=int, default=1000)
    parser.add_argument("--changes-per-window", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.items, args.windows, args.changes_per_window))
