"""Issue 23, the filesystem store: tenants apart (one store per namespace, every read checked against
the asking tenant), and whatever is read from disk is untrusted: bounded, validated, skipped with a
warning when bad, never fatal to a listing, a capture or garbage collection.

The operator's own entry point is used (``OperatorContext.store_for``), so these are the stores the
handlers get; no Kubernetes is needed for a filesystem store.
"""

from __future__ import annotations

import logging
import tracemalloc
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import orjson
import pytest
from tests.store.builders import T0, canonical, put_snapshot, report_with
from tests.store.contract import WF_A, WF_B
from tests.store.hostile import GIB, zstd_bomb

from jiradrift.api.conditions import TERMINAL_REASONS, Reason, ReconcileError
from jiradrift.api.resources import JiraTenantSpec
from jiradrift.handlers import metrics
from jiradrift.handlers.context import OperatorContext, OperatorSettings
from jiradrift.handlers.stored import find_baseline
from jiradrift.model.store_errors import CorruptStoredObject, SnapshotNotFound, StoreIntegrityError
from jiradrift.store.codec import MAX_EXPANDED_BYTES, ZstdCodec
from jiradrift.store.filesystem import FilesystemStore
from jiradrift.store.layout import tenant_file

SITE = {"site": "https://acme.atlassian.net", "auth": {"apiToken": {"secretRef": {"name": "jira"}}}}
# far below the 1 GiB the planted frames declare, far above what a refused read costs
MEMORY_BOUND = MAX_EXPANDED_BYTES // 2


def operator(root: Path) -> OperatorContext:
    settings = OperatorSettings(store="filesystem", store_path=root)
    return OperatorContext(kube=cast(Any, None), settings=settings, holder="test")  # a filesystem store needs no API


async def test_two_namespaces_with_the_same_snapshot_names_never_share_data(tmp_path: Path) -> None:
    """team-a/acme and team-b/acme get the same scheduled Snapshot names. Before: one root for every
    namespace keyed by Snapshot name, so team-a read team-b's snapshot and team-b's delete removed team-a's."""
    ctx = operator(tmp_path)
    a = await ctx.store_for("team-a", "team-a/acme")
    b = await ctx.store_for("team-b", "team-b/acme")
    await put_snapshot(a, "acme-workflows-1", WF_A, tenant="team-a/acme")
    await put_snapshot(b, "acme-workflows-1", WF_B, tenant="team-b/acme")
    await b.put_drift(report_with("acme-workflows-1", 2, tenant="team-b/acme"))

    mine = await (await ctx.store_for("team-a", "team-a/acme")).get_manifest("acme-workflows-1")
    assert mine.tenant == "team-a/acme" and mine.items == items_of(WF_A)
    assert await a.get_drift("acme-workflows-1") is None  # team-b's drift report is not team-a's

    await b.delete_snapshot("acme-workflows-1")
    again = await (await ctx.store_for("team-a", "team-a/acme")).get_manifest("acme-workflows-1")
    assert again.items == mine.items
    assert [i.snapshot_id for i in await a.list_snapshots()] == ["acme-workflows-1"]


def items_of(objects: dict[str, Any]) -> dict[str, str]:
    return {key: canonical(obj)[0] for key, obj in objects.items()}


async def test_a_baseline_in_another_namespace_is_not_found_and_in_the_same_namespace_fails_clearly(
    tmp_path: Path,
) -> None:
    """Before: team-b setting drift.baselineSnapshot to a team-a Snapshot put team-a's data into team-b's
    drift report; in one namespace, a baseline naming another tenant's Snapshot returned its manifest."""
    ctx = operator(tmp_path)
    await put_snapshot(await ctx.store_for("team-a", "team-a/acme"), "acme-fields-0", WF_A, tenant="team-a/acme")
    await put_snapshot(await ctx.store_for("team-a", "team-a/other"), "other-fields-0", WF_B, tenant="team-a/other")
    spec = JiraTenantSpec.model_validate(
        {**SITE, "drift": {"compareTo": "baseline", "baselineSnapshot": "acme-fields-0"}}
    )
    b = await ctx.store_for("team-b", "team-b/acme")
    await put_snapshot(b, "acme-fields-1", WF_B, tenant="team-b/acme", type="fields")
    assert await find_baseline(b, "team-b/acme", "fields", "acme-fields-1", spec) is None

    other = await ctx.store_for("team-a", "team-a/other")
    with pytest.raises(ReconcileError) as info:
        await find_baseline(other, "team-a/other", "workflows", "other-fields-0", spec)
    error = info.value
    assert error.reason == Reason.BASELINE_OF_ANOTHER_TENANT and error.reason in TERMINAL_REASONS
    assert "'acme-fields-0'" in error.message and "'team-a/acme'" in error.message
    assert "spec.drift.baselineSnapshot" in error.message and "compareTo" in error.message
    assert "workflow/1" not in error.message


async def test_the_operators_old_shared_store_moves_into_one_store_per_namespace(tmp_path: Path) -> None:
    legacy = FilesystemStore(tmp_path, durable=False)
    await put_snapshot(legacy, "acme-workflows-1", WF_A, tenant="team-a/acme", hours=0)
    await put_snapshot(legacy, "acme-workflows-2", WF_A, tenant="team-a/acme", hours=1)  # borrows items
    await legacy.put_drift(report_with("acme-workflows-2", 3, tenant="team-a/acme"))
    await put_snapshot(legacy, "globex-workflows-1", WF_B, tenant="team-b/globex")

    ctx = operator(tmp_path)
    a = await ctx.store_for("team-a", "team-a/acme")
    assert [i.snapshot_id for i in await a.list_snapshots()] == ["acme-workflows-2", "acme-workflows-1"]
    assert (await a.get_manifest("acme-workflows-2")).items == items_of(WF_A)
    assert (await a.get_manifest("acme-workflows-1")).items == items_of(WF_A)
    assert (await a.get_drift("acme-workflows-2")) == report_with("acme-workflows-2", 3, tenant="team-a/acme")
    assert not (tmp_path / "index" / f"{tenant_file('team-a/acme')}.json").exists()
    assert (tmp_path / "namespaces" / "team-a" / "snapshots" / "acme-workflows-1").is_dir()
    # team-b's snapshots stay in the old root until team-b's store is first used
    assert await legacy.list_snapshots("team-b/globex") != []
    b = await ctx.store_for("team-b", "team-b/globex")
    assert (await b.get_manifest("globex-workflows-1")).items == items_of(WF_B)
    assert await legacy.list_snapshots() == []
    with pytest.raises(SnapshotNotFound):
        await a.get_manifest("globex-workflows-1")


# --- planted files ---------------------------------------------------------------------------------


def skipped_metric() -> float:
    return metrics.REGISTRY.get_sample_value("jiradrift_store_objects_skipped") or 0.0


def plant(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def peak_while(run: Any) -> int:
    """Peak traced memory (bytes) while ``run()`` runs."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def test_a_planted_compressed_body_declaring_1_gib_is_refused_within_bounded_memory(tmp_path: Path) -> None:
    """Before: the filesystem store expanded whatever a file declared (a 32 KB frame -> 1 GiB)."""
    store = FilesystemStore(tmp_path, durable=False)
    bomb = zstd_bomb()
    assert len(bomb) < 64 * 1024
    digest = "ab" * 32
    plant(tmp_path / "items" / "ab" / f"{digest}.zst", bomb)
    errors: list[Exception] = []

    def read() -> None:
        try:
            store._get_item(digest)
        except CorruptStoredObject as exc:
            errors.append(exc)

    assert peak_while(read) < MEMORY_BOUND
    assert len(errors) == 1
    message = str(errors[0])
    assert f"item body {digest}" in message and str(tmp_path) in message and "delete it" in message
    assert str(GIB) in message


async def test_planted_manifests_and_indexes_are_skipped_and_capture_and_gc_go_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ctx = operator(tmp_path)
    store = await ctx.store_for("team-a", "team-a/acme")
    assert isinstance(store, FilesystemStore)
    root = store.root
    await put_snapshot(store, "acme-workflows-1", WF_A, tenant="team-a/acme", hours=0)
    # a manifest that expands to 1 GiB, one that is not zstd, one without its tenant, a corrupt index row
    plant(root / "snapshots" / "bomb" / "manifest.json.zst", zstd_bomb())
    plant(root / "snapshots" / "junk" / "manifest.json.zst", b"not zstd")
    codec = ZstdCodec()
    plant(root / "snapshots" / "notenant" / "manifest.json.zst", codec.compress(orjson.dumps({"manifest": {}})))
    index = root / "index" / f"{tenant_file('team-a/acme')}.json"
    rows = orjson.loads(index.read_bytes())
    rows.append({"id": "bomb", "tenant": "team-a/acme"})  # missing fields
    rows.append({**rows[0], "id": "bomb", "captured_at": "2099-01-01T00:00:00+00:00"})  # newest, and planted
    index.write_bytes(orjson.dumps(rows))

    caplog.set_level(logging.WARNING)
    skipped_before = skipped_metric()
    with pytest.raises(CorruptStoredObject, match="'bomb'"):
        await store.get_manifest("bomb")

    def gc() -> None:
        removed.append(store._collect_garbage())

    removed: list[int] = []
    assert peak_while(gc) < MEMORY_BOUND  # every manifest is read: the planted ones are skipped
    assert removed == [0]  # acme-workflows-1's bodies are live
    assert any("'bomb'" in r.getMessage() and "skipped" in r.getMessage() for r in caplog.records)
    assert any("'notenant'" in r.getMessage() for r in caplog.records)
    assert skipped_metric() >= skipped_before + 3  # bomb, junk, notenant: reported on /metrics too

    # the tenant's next capture, and its drift against the newest good baseline
    spec = JiraTenantSpec.model_validate(SITE)
    listed = await store.list_snapshots()
    assert {i.snapshot_id for i in listed} == {"acme-workflows-1", "bomb"}
    nxt = await ctx.store_for("team-a", "team-a/acme")
    stored = await put_snapshot(nxt, "acme-workflows-2", WF_B, tenant="team-a/acme", hours=2)
    assert stored.unchanged_from is None
    baseline = await find_baseline(nxt, "team-a/acme", "workflows", "acme-workflows-2", spec)
    assert baseline is not None and baseline.snapshot_id == "acme-workflows-1"

    await nxt.delete_snapshot("acme-workflows-1")
    assert [i.snapshot_id for i in await nxt.list_snapshots()][:1] == ["bomb"]
    assert FilesystemStore(root, durable=False, gc_grace=timedelta(0))._collect_garbage() >= 1


async def test_an_index_that_is_not_json_or_huge_is_skipped(tmp_path: Path) -> None:
    store = FilesystemStore(tmp_path, durable=False, tenant="acme")
    index = tmp_path / "index" / "acme.json"
    plant(index, b"{not json")
    assert await store.list_snapshots() == []
    with index.open("wb") as f:
        f.truncate(MAX_EXPANDED_BYTES + 1)  # sparse: no disk, but over the bound
    assert await store.list_snapshots() == []
    index.unlink()
    await put_snapshot(store, "s1", WF_A, tenant="acme")
    assert [i.snapshot_id for i in await store.list_snapshots()] == ["s1"]
    assert (await store.get_manifest("s1")).captured_at == T0


async def test_a_tenant_cannot_write_over_another_tenants_snapshot_of_the_same_id(tmp_path: Path) -> None:
    """Snapshot names are unique in a namespace, but a name can be reused once the first Snapshot is
    gone: the second tenant's capture is refused rather than replacing the first tenant's payload."""
    ctx = operator(tmp_path)
    a = await ctx.store_for("team-a", "team-a/acme")
    await put_snapshot(a, "x", WF_A, tenant="team-a/acme")
    b = await ctx.store_for("team-a", "team-a/other")
    with pytest.raises(StoreIntegrityError, match="already stored for tenant 'team-a/acme'"):
        await put_snapshot(b, "x", WF_B, tenant="team-a/other")
    assert (await a.get_manifest("x")).items == items_of(WF_A)
    assert await b.list_snapshots() == []
