"""What a retried Snapshot finds in the store: its own manifest, and the drift it first computed
(a real FilesystemStore in a temporary directory)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from tests.store.builders import T0, put_snapshot

from jiradrift.api.resources import JiraTenantSpec
from jiradrift.handlers.stored import stored_manifest, stored_or_new_drift
from jiradrift.model.manifest import Manifest
from jiradrift.model.report import DriftAuthor, DriftReport
from jiradrift.store.filesystem import FilesystemStore

SPEC = JiraTenantSpec.model_validate(
    {"site": "https://acme.atlassian.net", "auth": {"pat": {"secretRef": {"name": "s"}}}}
)


@pytest.fixture
def store(tmp_path: Path) -> FilesystemStore:
    return FilesystemStore(tmp_path / "store", durable=False)


async def test_only_this_snapshots_own_manifest_is_resumed(store: FilesystemStore) -> None:
    await put_snapshot(store, "s2", {"workflow/a": {"name": "A"}}, hours=1)
    created = T0 + timedelta(minutes=30)  # the Snapshot object was created before its capture
    found = await stored_manifest(store, "s2", tenant="acme", snapshot_type="workflows", created=created)
    assert found is not None and found.snapshot_id == "s2"
    assert await stored_manifest(store, "s3", tenant="acme", snapshot_type="workflows", created=created) is None
    assert await stored_manifest(store, "s2", tenant="other", snapshot_type="workflows", created=created) is None
    assert await stored_manifest(store, "s2", tenant="acme", snapshot_type="fields", created=created) is None
    # the operator's clock a little behind the API server's: still this Snapshot's manifest
    skewed = T0 + timedelta(hours=1, seconds=90)
    assert await stored_manifest(store, "s2", tenant="acme", snapshot_type="workflows", created=skewed) is not None
    # a Snapshot re-created under the same name after that capture starts afresh
    later = T0 + timedelta(hours=2)
    assert await stored_manifest(store, "s2", tenant="acme", snapshot_type="workflows", created=later) is None


async def test_a_resumed_snapshot_reads_back_its_drift_and_a_new_one_stores_it(store: FilesystemStore) -> None:
    await put_snapshot(store, "s1", {"workflow/a": {"name": "A"}})
    s2 = await put_snapshot(store, "s2", {"workflow/a": {"name": "B"}}, hours=1)
    puts: list[str] = []
    report, baseline = await stored_or_new_drift(
        store, s2, resumed=False, spec=SPEC, before_put=lambda: puts.append("put")
    )
    assert report is not None and report.old_snapshot == "s1" and report.has_drift
    assert baseline is not None and baseline.snapshot_id == "s1" and puts == ["put"]
    # a newer complete snapshot appears; the resumed s2 still reports against s1, and writes nothing
    await put_snapshot(store, "s0", {"workflow/a": {"name": "C"}}, hours=0.5)
    again, baseline = await stored_or_new_drift(
        store, s2, resumed=True, spec=SPEC, before_put=lambda: puts.append("put")
    )
    assert again is not None and again.old_snapshot == "s1" and again.change_count == report.change_count
    assert baseline is not None and baseline.snapshot_id == "s1" and puts == ["put"]


async def test_the_first_snapshot_of_a_type_has_no_drift(store: FilesystemStore) -> None:
    s1 = await put_snapshot(store, "s1", {"workflow/a": {"name": "A"}})
    assert await stored_or_new_drift(store, s1, resumed=True, spec=SPEC) == (None, None)


async def test_a_fresh_report_is_stored_once_with_the_authors_its_attribution_found(store: FilesystemStore) -> None:
    """The drift step attributes before the one write: the store never holds a changed Snapshot's
    report without its authors (which ``jiradrift history export`` and a restarted operator read)."""
    await put_snapshot(store, "s1", {"workflow/a": {"name": "A"}})
    s2 = await put_snapshot(store, "s2", {"workflow/a": {"name": "B"}}, hours=1)
    order: list[str] = []

    async def attribute(report: DriftReport, baseline: Manifest) -> None:
        assert await store.get_drift("s2") is None, "attributed after the report was stored"
        assert baseline.snapshot_id == "s1"
        order.append("attribute")
        report.authors = [DriftAuthor("5b10a2844c20165700ede21g", "Alice Admin", "")]

    report, _ = await stored_or_new_drift(
        store, s2, resumed=False, spec=SPEC, before_put=lambda: order.append("put"), attribute=attribute
    )
    assert order == ["attribute", "put"] and report is not None and report.authors
    stored = await store.get_drift("s2")
    assert stored is not None and [a.display_name for a in stored.authors] == ["Alice Admin"]
    # no drift, nothing to attribute
    s3 = await put_snapshot(store, "s3", {"workflow/a": {"name": "B"}}, hours=2)
    await stored_or_new_drift(store, s3, resumed=False, spec=SPEC, attribute=attribute)
    assert order == ["attribute", "put"]
