"""A capture as a whole is bounded: a site whose every listing runs away, or that never answers,
ends the capture ``Incomplete`` with the reason, within its bounds, in bounded memory.

``jiradrift snapshot --types priorities`` runs as its own process against the emulator
(tests/snapshot/test_capture_hostile_sites.py has the runner); the attacks are switched on for every listing
of the type, not one.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from tests.snapshot.test_capture_hostile_sites import RSS_LIMIT, TARGET, WALL_LIMIT, run_snapshot

from jiradrift.jira.limits import DEFAULT_LIMITS
from jiradrift.model.manifest import Manifest
from jiradrift.sim.emulator import RunningEmulator
from jiradrift.store.filesystem import FilesystemStore

SLACK = 25.0  # the CLI's start and exit: importing it took 10 s of wall time on a loaded machine


def stored(out: Path) -> Manifest:
    (snapshot_id,) = asyncio.run(FilesystemStore(out).list_manifests("acme"))
    return asyncio.run(FilesystemStore(out).get_manifest(snapshot_id))


def stopped_by(manifest: Manifest, reason: str) -> set[str]:
    """The kinds the capture's bound left unfinished: each has the reason as a failed read of
    unknown size (no key), so a diff calls its missing items unknown, not removed."""
    kinds = {e.kind for e in manifest.errors if reason in e.message and e.key is None}
    assert kinds, manifest.errors
    assert not any(e.kind == "capture" for e in manifest.errors)
    return kinds


def test_endless_listings_everywhere_end_at_the_capture_page_bound(jira_sim: RunningEmulator, tmp_path: Path) -> None:
    # Every PageBean of the site: isLast never true, fresh ids on every page, a constant total as
    # large as a capture may hold (a growing one, or one larger, is refused by each listing on its
    # own: the next tests). With one cap per listing the listings multiply it (the issue: past 150 s
    # and 530 MiB).
    jira_sim.faults.huge_total(path="/rest/api/3/*", total=DEFAULT_LIMITS.max_capture_items)
    run = run_snapshot(jira_sim, tmp_path / "out", [])  # the default limits
    assert run.exit_code == 3, run.output[-3000:]
    assert run.seconds < WALL_LIMIT, f"{run.seconds:.0f} s"  # the two minutes
    assert run.peak_rss < RSS_LIMIT, f"peak RSS {run.peak_rss / 2**20:.0f} MiB"
    manifest = stored(tmp_path / "out")
    assert not manifest.complete
    limit = DEFAULT_LIMITS.max_capture_pages
    unfinished = stopped_by(manifest, f"the priorities capture read more than {limit} pages of long listings")
    assert {"priority", "resolution"} <= unfinished, unfinished
    assert len(manifest.items) < (limit + 100) * 10  # what the pages read brought (10 a page), no more


def test_a_growing_total_ends_every_listing_within_seconds_whatever_the_type(
    jira_sim: RunningEmulator, tmp_path: Path
) -> None:
    """The issue's site: new ids on every page, isLast always false, a total that keeps growing. The
    screens capture, whose page bound is the largest (10x), took 125 s and 406 MiB with page bounds
    alone; each listing now stops once its total has grown ten times."""
    jira_sim.faults.endless_pages(path="/rest/api/3/*")
    run = run_snapshot(jira_sim, tmp_path / "out", ["--type", "screens"])
    assert run.exit_code == 3, run.output[-3000:]
    assert run.seconds < WALL_LIMIT / 4, f"{run.seconds:.0f} s"
    assert run.peak_rss < RSS_LIMIT, f"peak RSS {run.peak_rss / 2**20:.0f} MiB"
    store = FilesystemStore(tmp_path / "out")
    manifests = [asyncio.run(store.get_manifest(i)) for i in asyncio.run(store.list_manifests("acme"))]
    reasons = " ".join(e.message for m in manifests for e in m.errors)
    assert "the total grew on 10 pages" in reasons, reasons[:2000]
    assert [m.complete for m in manifests if m.type == "screens"] == [False]


def test_a_total_larger_than_a_capture_may_hold_ends_every_listing_at_its_first_page(
    jira_sim: RunningEmulator, tmp_path: Path
) -> None:
    """The emulator's huge_total: a constant total of a billion, isLast always false, fresh ids on every
    page. The screens capture, whose page bound is the largest (10x), ran about two minutes before
    that bound stopped it; a total no capture may hold is now refused at each listing's first page."""
    jira_sim.faults.huge_total(path="/rest/api/3/*")
    run = run_snapshot(jira_sim, tmp_path / "out", ["--type", "screens"])
    assert run.exit_code == 3, run.output[-3000:]
    # The CLI's own CPU time (its start included): wall time on a loaded machine is the neighbours'.
    assert run.cpu_seconds < SLACK, f"{run.cpu_seconds:.0f} CPU s"
    assert run.seconds < WALL_LIMIT / 2, f"{run.seconds:.0f} s"
    assert run.peak_rss < RSS_LIMIT, f"peak RSS {run.peak_rss / 2**20:.0f} MiB"
    store = FilesystemStore(tmp_path / "out")
    manifests = [asyncio.run(store.get_manifest(i)) for i in asyncio.run(store.list_manifests("acme"))]
    (screens,) = [m for m in manifests if m.type == "screens"]
    assert not screens.complete
    most = DEFAULT_LIMITS.max_capture_items
    reason = f"the site announced total=1000000000 items, more than a capture may hold ({most}"
    assert any(reason in e.message for e in screens.errors), screens.errors[:5]
    assert not any("pages of long listings" in e.message for e in screens.errors), screens.errors[:5]


def test_the_capture_item_bound(jira_sim: RunningEmulator, tmp_path: Path) -> None:
    jira_sim.faults.huge_total(path=TARGET, total=300)
    run = run_snapshot(jira_sim, tmp_path / "out", ["--max-capture-items", "300"])
    assert run.exit_code == 3, run.output[-3000:]
    manifest = stored(tmp_path / "out")
    assert "resolution" in stopped_by(manifest, "the priorities capture passed 300 items")
    assert len(manifest.items) == 300
    assert "passed 300 items" in " ".join(run.output.split())


# A server that accepts every request and never sends a header. Each row: the flags, what ends
# the capture, and by when (seconds from the start of the CLI, before SLACK).
DEADLINES = {
    "request": (
        ["--timeout", "1", "--request-deadline", "3"],
        TARGET,
        "no complete response within the 3 s deadline (after 1 attempt(s), the last: timeout); retries stop",
        3.0,
    ),
    "listing": (
        ["--timeout", "30", "--request-deadline", "60", "--listing-deadline", "2"],
        TARGET,
        "the listing had not ended within its 2 s deadline",
        2.0,
    ),
    "capture": (
        ["--timeout", "30", "--request-deadline", "60", "--capture-deadline", "3"],
        "/rest/api/3/[!m]*",  # every listing; not /myself, the CLI's first probe (which fails fast on its own)
        "the priorities capture had not ended within its 3 s deadline",
        3.0,
    ),
}


@pytest.mark.parametrize("bound", list(DEADLINES))
def test_a_server_that_never_answers_ends_at_the_deadline(
    bound: str, jira_sim: RunningEmulator, tmp_path: Path
) -> None:
    flags, path, reason, seconds = DEADLINES[bound]
    jira_sim.faults.no_headers(path=path)
    run = run_snapshot(jira_sim, tmp_path / "out", flags)
    # Stored incomplete (3); where no listing answered at all, the site could not be read (1, as --help says).
    assert run.exit_code == (1 if bound == "capture" else 3), run.output[-3000:]
    assert run.seconds < seconds + SLACK, f"{run.seconds:.1f} s"
    manifest = stored(tmp_path / "out")
    assert not manifest.complete
    assert any(reason in e.message for e in manifest.errors), manifest.errors
    if bound == "request":  # the timed-out attempts were not retried past the deadline: one for the
        # resolutions' change probe (jira.changeprobe, before the capture reads), one for their listing
        assert "'timeout': 2," in run.output or "'timeout': 2}" in run.output, run.output[-1500:]
