"""diff_manifests: manifest-level skipping, path-level changes, renames, lists, severities, ignores."""

from __future__ import annotations

from typing import Any

import pytest
from tests.store.builders import T0, canonical

from jiradrift.model.ignore import InvalidIgnoreRule
from jiradrift.model.kinds import Severity
from jiradrift.model.manifest import Manifest, compute_digest
from jiradrift.model.report import CLIP_MARK, ChangeOp, DriftReport
from jiradrift.snapshot.diff import diff_manifests


class MemoryItems:
    """An ItemReader that counts reads."""

    def __init__(self) -> None:
        self.bodies: dict[str, bytes] = {}
        self.reads: list[str] = []

    def get_item(self, digest: str) -> bytes:
        self.reads.append(digest)
        return self.bodies[digest]


def manifest(items: MemoryItems, sid: str, objects: dict[str, Any]) -> Manifest:
    hashes = {}
    for key, obj in objects.items():
        digest, body = canonical(obj)
        items.bodies[digest] = body
        hashes[key] = digest
    return Manifest(
        snapshot_id=sid,
        tenant="acme",
        type="workflows",
        captured_at=T0,
        items=hashes,
        digest=compute_digest(hashes),
    )


def diff(old: dict[str, Any], new: dict[str, Any], ignore: list[str] | None = None) -> DriftReport:
    items = MemoryItems()
    return diff_manifests(manifest(items, "old", old), manifest(items, "new", new), items, ignore or [])


def ops(report: DriftReport) -> list[tuple[str, str, str]]:
    return [(c.key, c.op.value, c.path) for c in report.changes]


def test_equal_digests_end_the_diff_without_reading_any_body() -> None:
    items = MemoryItems()
    objects = {f"field/f{i}": {"name": f"F{i}"} for i in range(50)}
    report = diff_manifests(manifest(items, "a", objects), manifest(items, "b", objects), items)
    assert report.changes == [] and not report.has_drift
    assert items.reads == []


def test_only_changed_items_are_read() -> None:
    items = MemoryItems()
    old = {f"field/f{i}": {"name": f"F{i}"} for i in range(50)}
    new = {**old, "field/f7": {"name": "F7", "description": "new"}}
    report = diff_manifests(manifest(items, "a", old), manifest(items, "b", new), items)
    assert ops(report) == [("field/f7", "added", "description")]
    assert len(items.reads) == 2
    assert (report.added, report.removed, report.changed) == (0, 0, 1)


def test_added_and_removed_items_carry_their_body_and_are_counted() -> None:
    report = diff({"field/a": {"name": "A"}}, {"field/b": {"name": "B"}})
    assert ops(report) == [("field/a", "removed", ""), ("field/b", "added", "")]
    assert report.changes[0].old == {"name": "A"} and report.changes[0].new is None
    assert report.changes[1].new == {"name": "B"} and report.changes[1].old is None
    assert (report.added, report.removed, report.changed) == (1, 1, 0)


def test_nested_values_get_dotted_paths_with_old_and_new_values() -> None:
    report = diff(
        {"project/1": {"name": "P", "lead": {"accountId": "u1"}, "schemes": {"permission": 1}}},
        {"project/1": {"name": "P", "lead": {"accountId": "u2"}, "schemes": {"permission": 1}}},
    )
    [change] = report.changes
    assert (change.op, change.path, change.old, change.new) == (
        ChangeOp.MODIFIED,
        "lead.accountId",
        "u1",
        "u2",
    )


def test_keys_that_are_not_identifiers_are_quoted_in_paths() -> None:
    report = diff({"configuration/x": {"jira.option.a": True}}, {"configuration/x": {"jira.option.a": False}})
    assert ops(report) == [("configuration/x", "modified", '["jira.option.a"]')]


def test_a_changed_item_name_is_a_rename_and_other_changes_stay_modified() -> None:
    report = diff(
        {"workflow/1": {"name": "Old", "description": "d1"}},
        {"workflow/1": {"name": "New", "description": "d2"}},
    )
    assert ops(report) == [("workflow/1", "modified", "description"), ("workflow/1", "renamed", "name")]
    renamed = report.changes[1]
    assert (renamed.old, renamed.new) == ("Old", "New")


def test_a_nested_name_change_is_modified_not_renamed() -> None:
    report = diff({"workflow/1": {"name": "W", "x": {"name": "a"}}}, {"workflow/1": {"name": "W", "x": {"name": "b"}}})
    assert ops(report) == [("workflow/1", "modified", "x.name")]


def test_inserting_into_a_plain_list_is_one_addition_not_a_cascade_of_modifications() -> None:
    old = {"screen/1": {"fields": ["a", "b", "c", "d", "e"]}}
    new = {"screen/1": {"fields": ["a", "X", "b", "c", "d", "e"]}}
    report = diff(old, new)
    assert ops(report) == [("screen/1", "added", "fields[1]")]
    assert report.changes[0].new == "X"


def test_removing_from_a_plain_list_reports_the_old_index() -> None:
    report = diff({"screen/1": {"fields": ["a", "b", "c"]}}, {"screen/1": {"fields": ["a", "c"]}})
    assert ops(report) == [("screen/1", "removed", "fields[1]")]
    assert report.changes[0].old == "b"


def test_replacing_a_plain_list_element_recurses_into_it() -> None:
    # Objects without an identity field that nest lists are aligned by position, as plain values.
    report = diff(
        {"screen/1": {"tabs": [{"label": "A", "fields": ["a"]}, {"label": "B", "fields": ["b"]}]}},
        {"screen/1": {"tabs": [{"label": "A", "fields": ["a"]}, {"label": "B", "fields": ["c"]}]}},
    )
    assert ops(report) == [("screen/1", "modified", "tabs[1].fields[0]")]


def test_lists_of_objects_with_ids_match_by_id_so_an_insertion_shifts_nothing() -> None:
    old = {"workflow/1": {"transitions": [{"id": 1, "name": "Start"}, {"id": 2, "name": "Done", "d": "x"}]}}
    new = {
        "workflow/1": {
            "transitions": [
                {"id": 1, "name": "Start"},
                {"id": 3, "name": "Review"},
                {"id": 2, "name": "Done", "d": "y"},
            ]
        }
    }
    report = diff(old, new)
    assert ops(report) == [
        ("workflow/1", "added", "transitions[id=3]"),
        ("workflow/1", "modified", "transitions[id=2].d"),
    ]


def test_reordering_a_list_matched_by_id_is_one_change_listing_the_orders() -> None:
    old = {"issuetype-scheme/1": {"issueTypes": [{"id": "10"}, {"id": "11"}, {"id": "12"}]}}
    new = {"issuetype-scheme/1": {"issueTypes": [{"id": "12"}, {"id": "10"}, {"id": "11"}]}}
    [change] = diff(old, new).changes
    assert (change.op, change.path) == (ChangeOp.MODIFIED, "issueTypes")
    assert (change.old, change.new) == (["10", "11", "12"], ["12", "10", "11"])


def test_removed_element_of_a_list_matched_by_id_is_named_by_its_id() -> None:
    old = {"workflow/1": {"statuses": [{"id": "1"}, {"id": "2"}, {"id": "3"}]}}
    new = {"workflow/1": {"statuses": [{"id": "1"}, {"id": "3"}]}}
    assert ops(diff(old, new)) == [("workflow/1", "removed", "statuses[id=2]")]


GRANT_USERS = {"permission": "BROWSE_PROJECTS", "holder": {"type": "group", "parameter": "jira-users"}}
GRANT_ANYONE = {"permission": "ADMINISTER_PROJECTS", "holder": {"type": "anyone"}}


def test_a_permission_grant_is_named_by_what_it_grants_to_whom_not_its_index() -> None:
    old = {"permission-scheme/1": {"name": "Default", "permissions": [GRANT_USERS]}}
    new = {"permission-scheme/1": {"name": "Default", "permissions": [GRANT_ANYONE, GRANT_USERS]}}
    [change] = diff(old, new).changes
    assert change.op is ChangeOp.ADDED
    assert change.path == "permissions[permission=ADMINISTER_PROJECTS,holder.type=anyone]"
    assert change.severity is Severity.HIGH and change.new == GRANT_ANYONE


def test_a_grant_given_to_someone_else_is_one_removal_and_one_addition() -> None:
    moved = {"permission": "BROWSE_PROJECTS", "holder": {"type": "group", "parameter": "jira-admins"}}
    report = diff(
        {"permission-scheme/1": {"permissions": [GRANT_USERS]}}, {"permission-scheme/1": {"permissions": [moved]}}
    )
    assert ops(report) == [
        (
            "permission-scheme/1",
            "removed",
            "permissions[permission=BROWSE_PROJECTS,holder.type=group,holder.parameter=jira-users]",
        ),
        (
            "permission-scheme/1",
            "added",
            "permissions[permission=BROWSE_PROJECTS,holder.type=group,holder.parameter=jira-admins]",
        ),
    ]


def test_selector_values_that_are_not_plain_are_quoted_without_brackets() -> None:
    old = {"workflow/1": {"statuses": [{"name": "To Do"}]}}
    new = {"workflow/1": {"statuses": [{"name": "To Do"}, {"name": "In [review]"}]}}
    [change] = diff(old, new).changes
    assert change.path == 'statuses[name="In \\u005breview\\u005d"]'
    hidden = diff(old, new, ["workflow/*:statuses[*]"])
    assert hidden.changes == [] and hidden.ignored == 1


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (("Team", ["Team", "cf[10001]"]), ("Squad", ["Squad", "cf[10001]"])),
        (("zeta", ["cf[10001]", "zeta"]), ("alpha", ["alpha", "cf[10001]"])),  # the name moves in the sorted list
    ],
)
def test_a_field_rename_is_reported_once_not_again_in_its_clause_names(
    old: tuple[str, list[str]], new: tuple[str, list[str]]
) -> None:
    report = diff(
        {"field/customfield_10001": {"name": old[0], "clauseNames": old[1]}},
        {"field/customfield_10001": {"name": new[0], "clauseNames": new[1]}},
    )
    assert [(c.op, c.path, c.old, c.new) for c in report.changes] == [(ChangeOp.RENAMED, "name", old[0], new[0])]


def test_a_clause_name_change_that_is_not_the_rename_is_still_reported() -> None:
    report = diff(
        {"field/f1": {"name": "Team", "clauseNames": ["Team", "cf[1]"]}},
        {"field/f1": {"name": "Squad", "clauseNames": ["Squad", "cf[2]"]}},
    )
    assert ("field/f1", "modified", "clauseNames[1]") in ops(report)
    assert ("field/f1", "modified", "clauseNames[0]") not in ops(report)


def test_a_type_change_is_a_modification() -> None:
    report = diff({"field/1": {"v": 1}}, {"field/1": {"v": "1"}})
    assert [(c.path, c.old, c.new) for c in report.changes] == [("v", 1, "1")]


def test_bodies_that_differ_only_in_number_form_still_report_a_change() -> None:
    report = diff({"field/1": {"v": 1}}, {"field/1": {"v": 1.0}})
    assert report.changed == 1 and report.changes[0].op is ChangeOp.MODIFIED


def test_severity_comes_from_the_kind_and_the_report_keeps_the_highest() -> None:
    report = diff(
        {"screen/1": {"n": 1}, "permission-scheme/1": {"n": 1}, "mystery/1": {"n": 1}},
        {"screen/1": {"n": 2}, "permission-scheme/1": {"n": 2}, "mystery/1": {"n": 2}},
    )
    by_key = {c.key: c.severity for c in report.changes}
    assert by_key == {
        "screen/1": Severity.LOW,
        "permission-scheme/1": Severity.HIGH,
        "mystery/1": Severity.MEDIUM,
    }
    assert report.highest_severity is Severity.HIGH
    assert diff({"screen/1": {"n": 1}}, {"screen/1": {"n": 2}}).highest_severity is Severity.LOW
    assert diff({}, {}).highest_severity is None


def test_changes_are_sorted_by_item_key() -> None:
    keys = [f"field/f{i}" for i in (5, 1, 9, 3)]
    report = diff({k: {"n": 1} for k in keys}, {k: {"n": 2} for k in keys})
    assert [c.key for c in report.changes] == sorted(keys)


class TestIgnoreRules:
    OLD = {
        "field/f1": {"name": "F", "description": "a", "schema": {"type": "string"}},
        "workflow/1": {"name": "W", "transitions": [{"id": 1, "description": "x", "to": "A"}]},
    }
    NEW = {
        "field/f1": {"name": "F", "description": "b", "schema": {"type": "number"}},
        "workflow/1": {"name": "W", "transitions": [{"id": 1, "description": "y", "to": "B"}]},
        "field/f2": {"name": "G"},
    }

    def test_a_path_rule_hides_matching_changes_and_counts_them(self) -> None:
        report = diff(self.OLD, self.NEW, ["field/*:description"])
        assert ("field/f1", "modified", "description") not in ops(report)
        assert ("field/f1", "modified", "schema.type") in ops(report)
        assert report.ignored == 1

    def test_list_index_wildcards_match_any_element(self) -> None:
        report = diff(self.OLD, self.NEW, ["workflow/*:transitions[*].description"])
        assert [p for k, _, p in ops(report) if k == "workflow/1"] == ["transitions[id=1].to"]

    def test_a_rule_covers_everything_below_its_path(self) -> None:
        report = diff(self.OLD, self.NEW, ["field/*:schema", "workflow/*:transitions"])
        assert ops(report) == [("field/f1", "modified", "description"), ("field/f2", "added", "")]

    def test_double_star_matches_at_any_depth_and_single_star_within_one_segment(self) -> None:
        deep = diff(self.OLD, self.NEW, ["workflow/*:**.to"])
        assert [p for k, _, p in ops(deep) if k == "workflow/1"] == ["transitions[id=1].description"]
        single = diff(self.OLD, self.NEW, ["workflow/*:*.to"])  # '*' does not span '[0]'
        assert ("workflow/1", "modified", "transitions[id=1].to") in ops(single)

    def test_a_key_only_rule_hides_whole_items_including_additions(self) -> None:
        report = diff(self.OLD, self.NEW, ["field/*"])
        assert {k for k, _, _ in ops(report)} == {"workflow/1"}
        assert report.added == 0

    def test_a_path_rule_never_hides_an_added_item(self) -> None:
        report = diff(self.OLD, self.NEW, ["field/*:**"])
        assert ("field/f2", "added", "") in ops(report)

    def test_an_item_whose_changes_are_all_ignored_is_not_counted_as_changed(self) -> None:
        report = diff(self.OLD, self.NEW, ["field/f1:description", "field/f1:schema"])
        assert report.changed == 1  # only the workflow

    def test_a_malformed_rule_is_refused_with_an_example(self) -> None:
        with pytest.raises(InvalidIgnoreRule, match="field/\\*:description"):
            diff(self.OLD, self.NEW, ["field/*:"])


def test_huge_values_are_clipped() -> None:
    report = diff({"field/1": {"description": "a"}}, {"field/1": {"description": "b" * 5000}})
    new = report.changes[0].new
    assert isinstance(new, str) and new.endswith(CLIP_MARK) and len(new) < 1100


def test_report_json_round_trips_and_first_n_gives_a_summary() -> None:
    report = diff({"workflow/1": {"name": "A", "x": 1}}, {"workflow/1": {"name": "B", "x": 2}, "screen/1": {}})
    again = DriftReport.from_json(report.to_json())
    assert again == report
    assert again.summary()["highest_severity"] == "medium"
    # first(n): the most severe first (the workflow change, medium, before the added screen, low)
    [first] = report.first(1)
    assert first.key == "workflow/1" and first.severity.rank == max(c.severity.rank for c in report.changes)
    assert report.first(0) == [] and report.first(99) == sorted(report.changes, key=lambda c: -c.severity.rank)


def test_changes_carry_the_items_display_name() -> None:
    from jiradrift.snapshot.diff import display_name

    assert display_name({"id": "1", "name": "Bug workflow"}) == "Bug workflow"
    assert display_name({"id": "1", "value": "High"}) == "High"
    assert display_name({"id": "1"}) is None
    assert display_name(["not", "a", "dict"]) is None
