"""The SnapshotStore contract: every backend runs these same tests.

A backend's test module subclasses ``StoreContract`` and provides a ``store`` fixture that returns
an empty store whose garbage collection has no grace period (so deleted bodies go at once), and a
``tenant_store`` fixture: a callable giving a store over the same data that serves one tenant::

    from tests.store.contract import StoreContract

    class TestConfigMapStore(StoreContract):
        @pytest.fixture
        def store(self, kube) -> SnapshotStore:
            return ConfigMapStore(kube, namespace=..., gc_grace=timedelta(0))

Only the public protocol (``jiradrift.model.store.SnapshotStore``) is used here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from tests.store.builders import T0, canonical, put_bodies, put_snapshot, report_with

from jiradrift.model.manifest import CaptureError, Manifest, compute_digest
from jiradrift.model.report import DriftAuthor
from jiradrift.model.store import SnapshotStore
from jiradrift.model.store_errors import SnapshotOfAnotherTenant

WF_A = {"workflow/1": {"name": "Simplified", "statuses": ["To Do", "Done"]}, "field/f1": {"name": "Team"}}
WF_B = {
    "workflow/1": {"name": "Simplified", "statuses": ["To Do", "Review", "Done"]},
    "field/f1": {"name": "Team"},
}


class StoreContract:
    """Behaviours every SnapshotStore backend must have."""

    # --- item bodies --------------------------------------------------------------------------

    async def test_put_item_stores_a_body_once_and_reads_it_back(self, store: SnapshotStore) -> None:
        digest, body = canonical({"name": "Team", "id": "customfield_10001"})
        assert await store.has_item(digest) is False
        assert await store.put_item(digest, body) is True
        assert await store.put_item(digest, body) is False
        assert await store.has_item(digest) is True
        assert await store.get_item(digest) == body

    async def test_get_item_of_an_unknown_digest_raises_key_error_naming_it(self, store: SnapshotStore) -> None:
        digest, _ = canonical({"never": "stored"})
        with pytest.raises(KeyError) as info:
            await store.get_item(digest)
        assert digest in str(info.value)

    async def test_put_item_refuses_a_body_that_does_not_hash_to_its_digest(self, store: SnapshotStore) -> None:
        digest, _ = canonical({"a": 1})
        with pytest.raises(Exception, match="sha256") as info:
            await store.put_item(digest, b'{"a":2}')
        assert not isinstance(info.value, AssertionError)
        assert await store.has_item(digest) is False

    # --- manifests ----------------------------------------------------------------------------

    async def test_manifest_round_trips_with_its_metadata_and_a_filled_digest(self, store: SnapshotStore) -> None:
        items = await put_bodies(store, WF_A)
        manifest = Manifest(
            snapshot_id="acme-workflows-1",
            tenant="acme",
            type="workflows",
            captured_at=T0,
            site="https://acme.atlassian.net",
            items=items,
            complete=False,
            errors=[CaptureError(kind="workflow", endpoint="/rest/api/3/workflows", status=500, message="boom")],
            request_count=7,
        )
        stored = await store.put_manifest(manifest)
        assert stored.digest == compute_digest(items)
        assert stored.unchanged_from is None
        assert await store.get_manifest("acme-workflows-1") == stored
        assert (await store.get_manifest("acme-workflows-1")).errors[0].message == "boom"

    async def test_a_manifest_pointing_at_missing_bodies_is_refused_and_not_listed(self, store: SnapshotStore) -> None:
        digest, _ = canonical({"name": "never put"})
        manifest = Manifest(snapshot_id="s1", tenant="acme", type="fields", captured_at=T0, items={"field/x": digest})
        with pytest.raises(Exception, match="put_item") as info:
            await store.put_manifest(manifest)
        assert not isinstance(info.value, AssertionError)
        assert list(await store.list_manifests()) == []
        with pytest.raises(KeyError):
            await store.get_manifest("s1")

    async def test_a_snapshot_id_is_stored_once(self, store: SnapshotStore) -> None:
        await put_snapshot(store, "s1", WF_A)
        with pytest.raises(Exception, match="already stored"):
            await put_snapshot(store, "s1", WF_B, hours=1)
        assert (await store.get_manifest("s1")).items == {k: canonical(v)[0] for k, v in WF_A.items()}

    async def test_get_manifest_of_an_unknown_snapshot_raises_key_error_naming_it(self, store: SnapshotStore) -> None:
        with pytest.raises(KeyError) as info:
            await store.get_manifest("nope-123")
        assert "nope-123" in str(info.value)

    async def test_a_snapshot_equal_to_its_predecessor_is_unchanged_from_the_first_identical_one(
        self, store: SnapshotStore
    ) -> None:
        first = await put_snapshot(store, "s1", WF_A, hours=0)
        second = await put_snapshot(store, "s2", WF_A, hours=1)
        third = await put_snapshot(store, "s3", WF_A, hours=2)
        assert second.unchanged_from == "s1"
        assert third.unchanged_from == "s1"
        assert (await store.get_manifest("s3")).items == first.items
        assert (await store.get_manifest("s3")).unchanged_from == "s1"

    async def test_unchanged_from_only_applies_to_the_direct_predecessor_of_the_same_tenant_and_type(
        self, store: SnapshotStore
    ) -> None:
        await put_snapshot(store, "s1", WF_A, hours=0)
        assert (await put_snapshot(store, "other-tenant", WF_A, tenant="globex", hours=1)).unchanged_from is None
        assert (await put_snapshot(store, "other-type", WF_A, type="fields", hours=1)).unchanged_from is None
        await put_snapshot(store, "s2", WF_B, hours=2)
        assert (await put_snapshot(store, "s3", WF_A, hours=3)).unchanged_from is None  # equal to s1, not to s2

    async def test_a_capture_that_read_nothing_is_no_ones_unchanged_from_reference(self, store: SnapshotStore) -> None:
        """The reported case: a wrong token wrote 0-item snapshots, and the next bad run said it was
        "unchanged from" the failed one. A capture that read nothing refers to nothing, and nothing
        refers to it: the next good capture is compared with the last one that read the site."""

        def failed(snapshot_id: str, hours: int) -> Manifest:
            error = CaptureError(kind="workflow", endpoint="GET /workflows/search", status=401, message="401")
            return Manifest(
                snapshot_id=snapshot_id,
                tenant="acme",
                type="workflows",
                captured_at=T0 + timedelta(hours=hours),
                complete=False,
                errors=[error],
            )

        await put_snapshot(store, "good-1", WF_A, hours=0)
        first_bad = await store.put_manifest(failed("bad-1", 1))
        second_bad = await store.put_manifest(failed("bad-2", 2))
        assert first_bad.unchanged_from is None and second_bad.unchanged_from is None
        assert (await store.get_manifest("bad-2")).unchanged_from is None
        assert (await put_snapshot(store, "good-2", WF_A, hours=3)).unchanged_from == "good-1"
        flags = {i.snapshot_id: i.read_nothing for i in await store.list_snapshots("acme")}
        assert flags == {"good-1": False, "bad-1": True, "bad-2": True, "good-2": False}

    async def test_listing_is_newest_first_with_ties_broken_by_id_and_filters_by_tenant(
        self, store: SnapshotStore
    ) -> None:
        await put_snapshot(store, "b", WF_A, hours=1)
        await put_snapshot(store, "a", WF_B, hours=1, type="fields")
        await put_snapshot(store, "c", WF_A, hours=0, type="screens")
        await put_snapshot(store, "g", WF_A, hours=5, tenant="globex")
        assert list(await store.list_manifests("acme")) == ["b", "a", "c"]
        assert list(await store.list_manifests()) == ["g", "b", "a", "c"]
        assert list(await store.list_manifests("nobody")) == []

    async def test_list_snapshots_describes_each_without_loading_manifests(self, store: SnapshotStore) -> None:
        stored = await put_snapshot(store, "s1", WF_A)
        [info] = await store.list_snapshots("acme")
        assert (info.snapshot_id, info.tenant, info.type, info.item_count) == ("s1", "acme", "workflows", 2)
        assert info.captured_at == T0
        assert info.digest == stored.digest
        assert info.complete is True
        assert info.change_count is None

    # --- deletion -----------------------------------------------------------------------------

    async def test_delete_removes_the_snapshot_and_bodies_only_it_referred_to(self, store: SnapshotStore) -> None:
        old = await put_snapshot(store, "s1", WF_A, hours=0)
        new = await put_snapshot(store, "s2", WF_B, hours=1)
        only_old = old.items["workflow/1"]
        shared = old.items["field/f1"]
        await store.delete_snapshot("s1")
        assert list(await store.list_manifests()) == ["s2"]
        with pytest.raises(KeyError):
            await store.get_manifest("s1")
        assert await store.has_item(only_old) is False
        assert await store.has_item(shared) is True
        assert await store.get_manifest("s2") == new

    async def test_deleting_the_snapshot_others_are_unchanged_from_keeps_them_readable(
        self, store: SnapshotStore
    ) -> None:
        first = await put_snapshot(store, "s1", WF_A, hours=0)
        await put_snapshot(store, "s2", WF_A, hours=1)
        await put_snapshot(store, "s3", WF_A, hours=2)
        await store.delete_snapshot("s1")
        for sid in ("s2", "s3"):
            manifest = await store.get_manifest(sid)
            assert manifest.items == first.items
            for k, d in manifest.items.items():
                assert await store.get_item(d) == canonical(WF_A[k])[1]
        await store.delete_snapshot("s2")
        assert (await store.get_manifest("s3")).items == first.items

    async def test_delete_of_an_unknown_snapshot_raises_key_error(self, store: SnapshotStore) -> None:
        with pytest.raises(KeyError, match="ghost"):
            await store.delete_snapshot("ghost")

    # --- drift reports ------------------------------------------------------------------------

    async def test_drift_report_round_trips_and_sets_the_change_count(self, store: SnapshotStore) -> None:
        await put_snapshot(store, "s1", WF_A)
        assert await store.get_drift("s1") is None
        report = report_with("s1", 3)
        await store.put_drift(report)
        assert await store.get_drift("s1") == report
        [info] = await store.list_snapshots()
        assert info.change_count == 3

    async def test_read_changes_returns_exactly_the_requested_slice(self, store: SnapshotStore) -> None:
        await put_snapshot(store, "s1", WF_A)
        report = report_with("s1", 250)
        await store.put_drift(report)
        assert await store.read_changes("s1", 95, 205) == report.changes[95:205]
        assert await store.read_changes("s1", 0, 1) == report.changes[:1]
        assert await store.read_changes("s1", 240, 999) == report.changes[240:]
        assert await store.read_changes("s1", 300, 400) == []

    async def test_put_drift_replaces_an_earlier_report(self, store: SnapshotStore) -> None:
        await put_snapshot(store, "s1", WF_A)
        await store.put_drift(report_with("s1", 150))
        await store.put_drift(report_with("s1", 2))
        assert await store.get_drift("s1") == report_with("s1", 2)
        assert next(iter(await store.list_snapshots())).change_count == 2

    async def test_put_drift_again_with_authors_keeps_them_and_again_without_drops_them(
        self, store: SnapshotStore
    ) -> None:
        """The operator stores a report, then again with the authors the audit log names."""
        await put_snapshot(store, "s1", WF_A)
        await store.put_drift(report_with("s1", 150))
        with_authors = report_with("s1", 150)
        with_authors.authors = [DriftAuthor("acc-1", "Alice Admin"), DriftAuthor("acc-2", "Bob", "bob@example.com")]
        await store.put_drift(with_authors)
        assert await store.get_drift("s1") == with_authors
        assert await store.read_changes("s1", 140, 150) == with_authors.changes[140:]
        assert next(iter(await store.list_snapshots())).change_count == 150
        await store.put_drift(report_with("s1", 2))
        assert await store.get_drift("s1") == report_with("s1", 2)

    async def test_put_drift_for_an_unknown_snapshot_raises_key_error(self, store: SnapshotStore) -> None:
        with pytest.raises(KeyError, match="s9"):
            await store.put_drift(report_with("s9", 1))

    async def test_delete_removes_the_drift_report(self, store: SnapshotStore) -> None:
        await put_snapshot(store, "s1", WF_A)
        await store.put_drift(report_with("s1", 5))
        await store.delete_snapshot("s1")
        await put_snapshot(store, "s1", WF_A)
        assert await store.get_drift("s1") is None

    # --- accounting ---------------------------------------------------------------------------

    async def test_usage_counts_a_tenants_bytes_with_shared_bodies_once(self, store: SnapshotStore) -> None:
        assert (await store.usage("acme")).total_bytes == 0
        await put_snapshot(store, "s1", WF_A, hours=0)
        one = await store.usage("acme")
        assert one.snapshots == 1 and one.body_bytes > 0 and one.manifest_bytes > 0
        await put_snapshot(store, "s2", WF_A, hours=1)  # same bodies
        two = await store.usage("acme")
        assert two.body_bytes == one.body_bytes
        await store.put_drift(report_with("s2", 10))
        assert (await store.usage("acme")).drift_bytes > 0
        assert (await store.usage("globex")).total_bytes == 0
        await store.delete_snapshot("s1")
        await store.delete_snapshot("s2")
        assert (await store.usage("acme")).total_bytes == 0

    # --- tenants --------------------------------------------------------------------------------

    async def test_a_store_serving_one_tenant_never_returns_another_tenants_snapshot(
        self, store: SnapshotStore, tenant_store: Callable[[str], SnapshotStore]
    ) -> None:
        """Issue 23: in one namespace, a baseline naming another tenant's Snapshot returned that
        tenant's manifest (keys and digests). Every read checks the snapshot is the asker's."""
        await put_snapshot(store, "a1", WF_A, tenant="ns/a")
        await store.put_drift(report_with("a1", 3, tenant="ns/a"))
        b = tenant_store("ns/b")
        reads: list[Callable[[], Awaitable[Any]]] = [
            lambda: b.get_manifest("a1"),
            lambda: b.get_drift("a1"),
            lambda: b.read_changes("a1", 0, 10),
            lambda: b.delete_snapshot("a1"),
        ]
        for read in reads:
            with pytest.raises(SnapshotOfAnotherTenant) as info:
                await read()
            message = str(info.value)
            assert "'a1'" in message and "'ns/a'" in message and "'ns/b'" in message
            assert "spec.drift.baselineSnapshot" in message
            assert "workflow/1" not in message
        assert await b.list_snapshots() == []
        a = tenant_store("ns/a")
        assert set((await a.get_manifest("a1")).items) == set(WF_A)  # untouched by b's delete
        assert (await a.get_drift("a1")) == report_with("a1", 3, tenant="ns/a")
