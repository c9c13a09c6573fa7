"""Comparisons that mean nothing are refused, and a capture that read nothing is nobody's baseline.

Reported: `diff --from <workflows snapshot> --to <schemes snapshot>` answered "12 added, 49 removed
(highest: high)"; a failed run (wrong token: every read 401) wrote 0-item snapshots that the next
`diff STORE` used as the baseline.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from tests.store.builders import T0, put_bodies
from typer.testing import CliRunner

from jiradrift.api.resources import JiraTenantSpec
from jiradrift.cli import app
from jiradrift.handlers.stored import stored_or_new_drift
from jiradrift.model.manifest import CaptureError, Manifest
from jiradrift.snapshot.diff import IncomparableSnapshots, check_comparable
from jiradrift.snapshot.recording import backfill_drift, predecessor_of
from jiradrift.store.filesystem import FilesystemStore

SITE = "https://acme.atlassian.net"
MOVED = "https://moved.atlassian.net"
WORKFLOWS = {"workflow/1": {"name": "Flow"}, "status/1": {"name": "To Do"}}
SCHEMES = {"permission-scheme/1": {"name": "Default"}, "notification-scheme/1": {"name": "Default"}}
FIELDS = {"field/f1": {"name": "Team"}, "field-context/1": {"name": "Default context"}}

runner = CliRunner()


async def put(
    store: FilesystemStore,
    snapshot_id: str,
    objects: dict[str, dict[str, str]],
    *,
    type: str,
    hours: int,
    site: str = SITE,
    errors: list[CaptureError] | None = None,
) -> Manifest:
    manifest = Manifest(
        snapshot_id=snapshot_id,
        tenant="acme",
        type=type,
        site=site,
        captured_at=T0 + timedelta(hours=hours),
        items=await put_bodies(store, objects),
        complete=not errors,
        errors=errors or [],
    )
    return await store.put_manifest(manifest)


def unauthorised(kind: str) -> list[CaptureError]:
    return [CaptureError(kind=kind, endpoint="GET /field", status=401, message="HTTP 401: not authenticated")]


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    store = FilesystemStore(tmp_path / "store", durable=False)

    async def fill() -> None:
        await put(store, "acme-workflows-1", WORKFLOWS, type="workflows", hours=0)
        await put(store, "acme-schemes-1", SCHEMES, type="schemes", hours=0)
        await put(store, "acme-fields-1", FIELDS, type="fields", hours=0)
        await put(store, "acme-fields-2", {}, type="fields", hours=1, errors=unauthorised("field"))
        await put(store, "acme-fields-3", {}, type="fields", hours=2, errors=unauthorised("field"))

    asyncio.run(fill())
    return tmp_path / "store"


def test_snapshots_of_two_types_are_not_compared(store_dir: Path) -> None:
    result = runner.invoke(app, ["diff", str(store_dir), "--from", "acme-workflows-1", "--to", "acme-schemes-1"])
    assert result.exit_code == 2, result.output
    assert "holds workflows" in result.output and "holds schemes" in result.output
    assert "added" not in result.output


def test_snapshots_of_two_sites_are_not_compared(tmp_path: Path) -> None:
    a, b = FilesystemStore(tmp_path / "a", durable=False), FilesystemStore(tmp_path / "b", durable=False)
    asyncio.run(put(a, "acme-workflows-1", WORKFLOWS, type="workflows", hours=0))
    asyncio.run(put(b, "globex-workflows-1", WORKFLOWS, type="workflows", hours=1, site="https://globex.atlassian.net"))
    result = runner.invoke(app, ["diff", str(tmp_path / "a"), str(tmp_path / "b"), "--from", "acme-workflows-1"])
    assert result.exit_code == 2, result.output
    assert "https://acme.atlassian.net" in result.output and "https://globex.atlassian.net" in result.output


def test_the_same_site_spelled_with_a_trailing_slash_still_compares() -> None:
    old = Manifest(snapshot_id="a", tenant="acme", type="fields", captured_at=T0, site=SITE + "/")
    new = Manifest(snapshot_id="b", tenant="acme", type="fields", captured_at=T0, site=SITE.upper())
    check_comparable(old, new)


def test_a_capture_that_read_nothing_is_refused_as_a_baseline(store_dir: Path) -> None:
    result = runner.invoke(app, ["diff", str(store_dir), "--from", "acme-fields-2", "--to", "acme-fields-1"])
    assert result.exit_code == 2, result.output
    assert "read nothing" in result.output and "401" in result.output
    old = Manifest(snapshot_id="x", tenant="acme", type="fields", captured_at=T0, complete=False)
    with pytest.raises(IncomparableSnapshots):
        check_comparable(old, old.model_copy(update={"snapshot_id": "y"}))


def test_diff_store_compares_a_failed_capture_with_the_last_one_that_read_the_site(store_dir: Path) -> None:
    store = FilesystemStore.open(store_dir)
    assert asyncio.run(predecessor_of(store, "acme-fields-3")) == "acme-fields-1"  # not the failed -2
    result = runner.invoke(app, ["diff", str(store_dir), "--type", "fields", "-o", "json"])
    assert result.exit_code == 0, result.output
    [report] = orjson.loads(result.stdout)["reports"]
    assert report["old_snapshot"] == "acme-fields-1" and report["new_snapshot"] == "acme-fields-3"
    # Neither the fields nor the contexts listed through them are "removed": they are unknown.
    assert report["removed"] == 0 and report["change_count"] == 0
    assert report["unknown"] == {"field": 1, "field-context": 1}
    assert asyncio.run(store.get_manifest("acme-fields-3")).unchanged_from is None


def test_recorded_drift_never_uses_a_failed_capture_as_the_baseline(store_dir: Path) -> None:
    store = FilesystemStore.open(store_dir)

    async def record() -> dict[str, str | None]:
        await put(store, "acme-fields-4", FIELDS, type="fields", hours=3)
        await backfill_drift(store, "acme")
        reports = {i: await store.get_drift(i) for i in ("acme-fields-3", "acme-fields-4")}
        assert all(r is not None and r.removed == 0 and r.added == 0 for r in reports.values())
        return {i: r.old_snapshot for i, r in reports.items() if r is not None}

    assert asyncio.run(record()) == {"acme-fields-3": "acme-fields-1", "acme-fields-4": "acme-fields-1"}


def tenant_spec(**drift: str) -> JiraTenantSpec:
    spec: dict[str, object] = {"site": SITE, "auth": {"pat": {"secretRef": {"name": "s"}}}}
    return JiraTenantSpec.model_validate({**spec, "drift": drift} if drift else spec)


def test_the_operator_compares_no_snapshot_with_one_of_another_site_or_type(tmp_path: Path) -> None:
    """What the Snapshot handler records (and notifies about): never a diff across sites or types."""
    store = FilesystemStore(tmp_path / "store", durable=False)

    async def drift_of(manifest: Manifest, spec: JiraTenantSpec) -> tuple[str | None, int]:
        report, baseline = await stored_or_new_drift(store, manifest, resumed=False, spec=spec)
        return (baseline.snapshot_id if baseline else None), (report.change_count if report else 0)

    async def scenario() -> None:
        await put(store, "acme-workflows-1", WORKFLOWS, type="workflows", hours=0)
        await put(store, "acme-fields-1", FIELDS, type="fields", hours=0)
        moved = await put(store, "acme-fields-2", FIELDS, type="fields", hours=1, site=MOVED)
        assert await drift_of(moved, tenant_spec()) == (None, 0)  # the site changed: no baseline there yet
        later = await put(store, "acme-fields-3", {"field/f1": {"name": "Team 2"}}, type="fields", hours=2, site=MOVED)
        named = tenant_spec(compareTo="baseline", baselineSnapshot="acme-workflows-1")
        # The named baseline is a workflows snapshot: the fields snapshot compares with its own predecessor.
        assert await drift_of(later, named) == ("acme-fields-2", 2)

    asyncio.run(scenario())
