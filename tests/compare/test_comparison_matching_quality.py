"""Precision and recall of cross-site matching on a labelled fixture (target: at least 95 % each).

The fixture: production and its sandbox as captured from the emulator (every id differs; the ground
truth of which sandbox item is which production item is ``jiradrift.sim.variant.counterpart``), and
on the sandbox side, labelled edits: renamed objects (some also edited), duplicated names (a second
object with the same name and other content), added objects and removed ones. A decision is a pair
(production item or None, sandbox item or None); precision is the share of the matcher's decisions
that are true, recall the share of true decisions it made. Both are printed (``pytest -s``).
"""

from __future__ import annotations

from typing import Any

import orjson
from tests.plugins.sites import CapturedSite

from jiradrift.compare.comparison import match
from jiradrift.sim.variant import counterpart
from jiradrift.snapshot.natural import Json, NaturalIndex

RENAME_KINDS = (
    "workflow",
    "status",
    "screen",
    "field-configuration",
    "resolution",
    "issuetype-scheme",
    "permission-scheme",
    "notification-scheme",
    "screen-scheme",
    "priority",
    "workflow-scheme",
    "issue-security-scheme",
)
Decision = tuple[str | None, str | None]


def labelled_fixture(
    left: list[tuple[str, Json]], right: list[tuple[str, Json]]
) -> tuple[list[tuple[str, Json]], set[Decision], set[str]]:
    """(edited right items, true decisions, item keys of the labelled objects)."""
    items: dict[str, Json] = dict(right)
    # The sandbox's own known differences: a removed link type, an added resolution.
    counterparts = {counterpart(k) for k, _ in left}
    truth_extra: set[Decision] = {(None, k) for k in items if k not in counterparts}
    removed_before = {k for k, _ in left if counterpart(k) not in items}
    labelled: set[str] = set()
    truth: set[Decision] = set()
    by_kind: dict[str, list[str]] = {}
    for key, _ in sorted(left):
        by_kind.setdefault(key.split("/", 1)[0], []).append(key)
    removed: set[str] = set()
    for kind in RENAME_KINDS:
        keys = [k for k in by_kind.get(kind, []) if counterpart(k) in items]
        for n, key in enumerate(keys[1:3]):  # renamed: two per kind, the second one edited too
            body = items[counterpart(key)]
            body["name"] = f"{body['name']} (renamed)"
            if n == 1 and "description" in body:
                body["description"] = f"{body.get('description') or ''} edited"
            labelled.update({key, counterpart(key)})
        if len(keys) > 4:  # removed on the sandbox
            gone = keys[4]
            del items[counterpart(gone)]
            removed.add(gone)
            labelled.add(gone)
    for n, kind in enumerate(("status", "resolution", "screen", "workflow", "field-configuration")):
        keys = [k for k in by_kind.get(kind, []) if counterpart(k) in items and k not in labelled]
        if not keys:
            continue
        # A duplicate name: a second object called like an existing one, with other content.
        original = items[counterpart(keys[-1])]
        copy: dict[str, Any] = orjson.loads(orjson.dumps(original))
        copy["description"] = f"a different {kind} that happens to share the name"
        for field in ("statusCategory", "default", "isDefault"):
            if field in copy:
                copy[field] = {"DONE": "TODO", "TODO": "DONE", "IN_PROGRESS": "DONE"}.get(copy[field], not copy[field])
        copy.pop("transitions", None)
        copy.pop("items", None)
        copy.pop("tabs", None)
        dup_key = f"{kind}/9{n}0000"
        items[dup_key] = copy
        truth.add((None, dup_key))
        labelled.update({dup_key, keys[-1], counterpart(keys[-1])})
        # Added on the sandbox only: a new name and new content.
        new_key = f"{kind}/8{n}0000"
        items[new_key] = {"id": f"8{n}0000", "name": f"Sandbox-only {kind} {n}", "description": f"added {n}"}
        truth.add((None, new_key))
        labelled.add(new_key)
    for key, _ in left:
        truth.add((key, None) if key in removed | removed_before else (key, counterpart(key)))
    truth |= truth_extra
    return sorted(items.items()), truth, labelled


def scores(predicted: set[Decision], truth: set[Decision]) -> tuple[float, float]:
    right = len(predicted & truth)
    return right / len(predicted), right / len(truth)


def test_precision_and_recall_on_renamed_duplicated_added_and_removed_objects(
    production: CapturedSite, sandbox: CapturedSite
) -> None:
    left_items = production.items()
    right_items, truth, labelled = labelled_fixture(left_items, sandbox.items())
    pairs = match(NaturalIndex.build(left_items), NaturalIndex.build(right_items))
    predicted: set[Decision] = {
        (
            f"{p.left.kind}/{p.left.ident}" if p.left else None,
            f"{p.right.kind}/{p.right.ident}" if p.right else None,
        )
        for p in pairs
    }

    def touches(d: Decision) -> bool:
        return bool({d[0], d[1]} & labelled)

    precision, recall = scores(predicted, truth)
    l_precision, l_recall = scores({d for d in predicted if touches(d)}, {d for d in truth if touches(d)})
    print(
        f"\nmatching, all {len(truth)} decisions: precision {precision:.3f}, recall {recall:.3f}; "
        f"the {sum(map(touches, truth))} labelled ones (renamed, duplicated, added, removed): "
        f"precision {l_precision:.3f}, recall {l_recall:.3f}"
    )
    assert len(labelled) > 60
    assert l_precision >= 0.95 and l_recall >= 0.95
    assert precision >= 0.95 and recall >= 0.95
