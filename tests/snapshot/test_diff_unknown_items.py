"""A diff is honest about what it could not compare: items an Incomplete snapshot could not read
are counted as unknown, by kind, never as added or removed, and the CLI says so."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from jiradrift.cli import app
from jiradrift.jira.catalog import CATALOG, Dependent, dependent_listings
from jiradrift.jira.client import JiraClient
from jiradrift.model.manifest import CaptureError, Manifest, compute_digest
from jiradrift.model.snapshot_types import SnapshotType
from jiradrift.sim.emulator import RunningEmulator
from jiradrift.sim.faults import FaultRule
from jiradrift.snapshot.capture import capture_snapshot
from jiradrift.snapshot.diff import diff_manifests, unreadable
from jiradrift.snapshot.recording import diff_stored
from jiradrift.store.filesystem import FilesystemStore

AT = datetime(2026, 3, 1, tzinfo=UTC)
BODIES = {f"b{i}": orjson.dumps({"name": f"n{i}"}) for i in range(6)}
HASH = {name: hashlib.sha256(body).hexdigest() for name, body in BODIES.items()}


class Bodies:
    def get_item(self, digest: str) -> bytes:
        return next(body for name, body in BODIES.items() if HASH[name] == digest)


def manifest(sid: str, items: dict[str, str], errors: list[CaptureError] = ()) -> Manifest:  # type: ignore[assignment]
    hashed = {key: HASH[name] for key, name in items.items()}
    return Manifest(
        snapshot_id=sid,
        tenant="acme",
        type="fields",
        captured_at=AT,
        items=hashed,
        errors=list(errors),
        complete=not errors,
        digest=compute_digest(hashed),
    )


def test_a_failed_listing_makes_the_missing_items_unknown_not_removed() -> None:
    old = manifest("s1", {"field/a": "b0", "field-context/1": "b1", "field-context/2": "b2"})
    new = manifest(
        "s2",
        {"field/a": "b3"},
        [CaptureError(kind="field-context", key="field/a", endpoint="GET /field/a/context", status=404, message="nf")],
    )
    report = diff_manifests(old, new, Bodies())
    assert report.unknown == {"field-context": 2}
    assert report.unreadable == {"field-context": 1}
    assert report.removed == 0 and report.changed == 1  # field/a itself was read and did change
    assert [c.key for c in report.changes] == ["field/a"]
    assert not report.complete
    assert report.unknown_text() == (
        "2 item(s) could not be compared (field-context: 2); 1 read(s) failed, items unknown (field-context: 1)"
    )
    # The same holds in the other direction: an item the *old* side could not list is not "added".
    back = diff_manifests(new, old, Bodies())
    assert back.added == 0 and back.unknown == {"field-context": 2}


def test_an_unreadable_item_is_unknown_and_its_siblings_still_compare() -> None:
    old = manifest("s1", {"workflow/x": "b0", "workflow/y": "b1"})
    new = manifest(
        "s2",
        {"workflow/y": "b2"},
        [CaptureError(kind="workflow", key="workflow/x", endpoint="GET /workflow/x", status=500, message="boom")],
    )
    keys, counts, reads = unreadable(old, new)
    assert keys == {"workflow/x"} and counts == {"workflow": 1} and reads == {}
    report = diff_manifests(old, new, Bodies())
    assert report.removed == 0 and report.changed == 1
    assert report.summary()["unknown_count"] == 1


def test_complete_snapshots_have_no_unknowns() -> None:
    old = manifest("s1", {"workflow/x": "b0"})
    new = manifest("s2", {"workflow/x": "b0", "workflow/z": "b4"})
    report = diff_manifests(old, new, Bodies())
    assert report.complete and report.unknown_text() == "" and report.added == 1
    assert report.to_dict()["unknown"] == {} and report.to_dict()["unreadable"] == {}


async def test_cli_names_the_items_a_404ing_site_could_not_show(
    jira_sim: RunningEmulator, tmp_path: Path, connect: Callable[[RunningEmulator], Awaitable[JiraClient]]
) -> None:
    """The reported case: field contexts answer 404 in the newer snapshot; the CLI used to print
    `0 added, 0 removed, 0 changed items` and nothing about the contexts it never saw."""
    store = FilesystemStore(tmp_path / "store")
    async with await connect(jira_sim) as jira:
        before = await capture_snapshot(
            jira, store, tenant="acme", snapshot_type=SnapshotType.FIELDS, snapshot_id="acme-fields-1", captured_at=AT
        )
        jira_sim.faults.fail_object("/rest/api/3/field/*/context", status=404)
        after = await capture_snapshot(
            jira,
            store,
            tenant="acme",
            snapshot_type=SnapshotType.FIELDS,
            snapshot_id="acme-fields-2",
            captured_at=AT.replace(hour=1),
        )
    contexts = sum(key.startswith("field-context/") for key in before.items)
    assert before.complete and contexts > 0 and not after.complete

    # The CLI runs its own event loop (asyncio.run): invoke it off this test's loop.
    result = await asyncio.to_thread(CliRunner().invoke, app, ["diff", str(tmp_path / "store"), "-o", "json"])
    assert result.exit_code == 0, result.output
    [report] = orjson.loads(result.output)["reports"]
    assert report["removed"] == 0 and report["change_count"] == 0
    assert report["unknown"] == {"field-context": contexts}
    assert report["unreadable"]["field-context"] == len(after.errors)

    table = await asyncio.to_thread(CliRunner().invoke, app, ["diff", str(tmp_path / "store")], terminal_width=200)
    assert f"{contexts} item(s) could not be compared (field-context: {contexts})" in table.output


@pytest.mark.parametrize("dependent", dependent_listings(), ids=lambda d: f"{d.kind}-through-{d.parent}")
async def test_a_failed_parent_listing_leaves_every_dependent_unknown_not_removed(
    dependent: Dependent,
    jira_sim: RunningEmulator,
    tmp_path: Path,
    connect: Callable[[RunningEmulator], Awaitable[JiraClient]],
) -> None:
    """The reported case: a wrong token made `GET /field` fail; the contexts read through those fields
    were reported "56 removed". Every dependent listing in the catalog is covered: fail its parent's
    listing and its items are unknown, in the diff the CLI prints and the one the operator stores."""
    source = next(s for s in CATALOG if dependent in s.dependents)
    store = FilesystemStore(tmp_path / "store")
    async with await connect(jira_sim) as jira:
        before = await capture_snapshot(
            jira, store, tenant="acme", snapshot_type=source.snapshot_type, snapshot_id="acme-1", captured_at=AT
        )
        method, path = dependent.parent_listing.split(" ", 1)
        jira_sim.faults.add(FaultRule("fail", f"/rest/api/3{path}", method, None, 401))
        after = await capture_snapshot(
            jira,
            store,
            tenant="acme",
            snapshot_type=source.snapshot_type,
            snapshot_id="acme-2",
            captured_at=AT.replace(hour=1),
        )
    children = {key for key in before.items if key.split("/", 1)[0] == dependent.kind}
    assert before.complete and children, f"the emulator's site has no {dependent.kind} items to lose"
    assert not after.complete and not children & after.items.keys()

    report = await diff_stored(store, before, after)  # what the operator records and notifies
    assert report.removed == 0 and report.added == 0 and report.change_count == 0, report.changes[:3]
    assert report.unknown[dependent.kind] == len(children)
    assert not report.has_drift

    result = await asyncio.to_thread(
        CliRunner().invoke,
        app,
        ["diff", str(tmp_path / "store"), "--type", source.snapshot_type.value, "-o", "json"],
    )
    assert result.exit_code == 0, result.output
    [cli] = orjson.loads(result.stdout)["reports"]
    assert cli["removed"] == 0 and cli["change_count"] == 0
    assert cli["unknown"][dependent.kind] == len(children)


def test_the_catalog_declares_its_dependent_listings() -> None:
    """The parametrised test above runs once per dependent: an empty list would make it vacuous."""
    assert {(d.kind, d.parent) for d in dependent_listings()} >= {("field-context", "field")}
