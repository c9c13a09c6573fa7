"""What incremental windows missed: the safety net's count (``jiradrift_incremental_missed_total{kind}``).

A full capture reads everything. Compared with where the incremental chain before it had got to
*at the same moment*, every item it holds differently (added, removed or with another body) is a
change the windows did not see: a kind no probe covers well enough, an audit record that never
showed up. The operator's full window therefore runs the incremental window first (cheap), then
the full capture, and calls :func:`missed_changes` on the two; a count above 0 is logged, exported
and reported in the Snapshot's status.

    missed = missed_changes(full, chain)      # {"field-configuration": ["field-configuration/10002"]}
"""

from __future__ import annotations

from collections.abc import Sequence

from jiradrift.model.kinds import kind_of_key
from jiradrift.model.manifest import CaptureMode, Manifest


def missed_changes(full: Manifest, chain: Sequence[Manifest]) -> dict[str, list[str]]:
    """Per kind, the item keys ``full`` holds differently from the end of ``chain`` (the incremental
    manifests of the same type since the previous full capture, oldest first, the last one taken
    at ``full``'s moment). An empty chain missed nothing; an incomplete manifest on either side is
    not evidence (its unread items are unknown), so it counts nothing either."""
    if not chain:
        return {}
    last = chain[-1]
    if last.type != full.type or last.tenant != full.tenant:
        raise ValueError(
            f"snapshot {full.snapshot_id!r} ({full.tenant}/{full.type}) is not of the chain ending at "
            f"{last.snapshot_id!r} ({last.tenant}/{last.type})"
        )
    if last.captured_at != full.captured_at:
        raise ValueError(
            f"the chain ends at {last.captured_at.isoformat()} but the full capture {full.snapshot_id!r} was "
            f"taken at {full.captured_at.isoformat()}: run the incremental window at the full capture's moment"
        )
    if full.capture.mode is not CaptureMode.FULL:
        raise ValueError(f"snapshot {full.snapshot_id!r} is not a full capture")
    if not (full.complete and last.complete):
        return {}
    missed: dict[str, list[str]] = {}
    for key in sorted(full.items.keys() | last.items.keys()):
        if full.items.get(key) != last.items.get(key):
            missed.setdefault(kind_of_key(key), []).append(key)
    return missed


def missed_counts(missed: dict[str, list[str]]) -> dict[str, int]:
    """``{kind: how many}``: the increments of ``jiradrift_incremental_missed_total{kind}``."""
    return {kind: len(keys) for kind, keys in missed.items()}
