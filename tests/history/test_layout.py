"""The pure parts of the history sink: paths, YAML, plans, messages (no git)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jiradrift.history.layout import IndexEntry, encode_segment, item_paths
from jiradrift.history.message import OPERATOR, CommitMeta, commit_message, jira_person, people
from jiradrift.history.plan import (
    MissingBodies,
    TypeState,
    bodies_needed,
    decode_index,
    encode_index,
    plan_type,
    shard_of,
    shard_path,
)
from jiradrift.history.render import render_yaml
from jiradrift.model.kinds import Severity
from jiradrift.model.report import Change, ChangeOp, DriftReport, ranked_authors


def test_segments_cannot_climb_hide_or_clash() -> None:
    assert encode_segment("Software Simplified Workflow") == "Software Simplified Workflow"
    assert encode_segment("../../etc/passwd") == "%2E.%2F..%2Fetc%2Fpasswd"
    assert encode_segment(".git") == "%2Egit"
    assert encode_segment("a\nb") == "a%0Ab"
    assert encode_segment("50%: done?") == "50%25%3A done%3F"
    assert encode_segment("trailing.") == "trailing%2E"
    assert encode_segment("") == "%00"
    long = encode_segment("x" * 400)
    assert len(long.encode()) <= 150 and long != encode_segment("x" * 401)
    assert "/" not in encode_segment("é/ü") and encode_segment("é") == "é"


def test_paths_by_natural_key_with_ids_for_namesakes_and_children_under_parents() -> None:
    entries = [
        IndexEntry.of("workflow/w1", "h1", {"id": "w1", "name": "Software Simplified Workflow"}),
        IndexEntry.of("status/1", "h2", {"id": "1", "name": "Done"}),
        IndexEntry.of("status/2", "h3", {"id": "2", "name": "done"}),  # differs only by case
        IndexEntry.of("field/customfield_1", "h4", {"id": "customfield_1", "name": "Team", "custom": True}),
        IndexEntry.of("field-context/9", "h5", {"id": "9", "name": "Default", "fieldId": "customfield_1"}),
    ]
    paths = item_paths("workflows", entries)
    assert paths["workflow/w1"] == "workflows/workflow/Software Simplified Workflow.yaml"
    assert paths["status/1"] == "workflows/status/Done #1.yaml"
    assert paths["status/2"] == "workflows/status/done #2.yaml"
    assert paths["field-context/9"] == "workflows/field-context/Team/Default.yaml"


def test_yaml_is_deterministic_sorted_and_keeps_list_order() -> None:
    body = {"name": "W", "b": [3, 1, 2], "a": {"z": 1, "y": "long " * 100}}
    assert render_yaml(body) == render_yaml(dict(reversed(list(body.items()))))
    text = render_yaml(body).decode()
    assert text.index("a:") < text.index("b:") < text.index("name:")
    assert "- 3\n- 1\n- 2" in text
    assert all(len(line) < 1000 for line in text.splitlines()) and text.count("\n") == 8


def test_a_rename_moves_the_file_and_its_children_and_reads_only_what_changed() -> None:
    field_v1 = {"id": "customfield_1", "name": "Team", "custom": True}
    field_v2 = {"id": "customfield_1", "name": "Squad", "custom": True}
    context = {"id": "9", "name": "Default", "fieldId": "customfield_1"}
    other = {"id": "customfield_2", "name": "Other", "custom": True}
    first = plan_type(
        "fields",
        TypeState({}, {}),
        {"field/customfield_1": "f1", "field-context/9": "c1", "field/customfield_2": "o1"},
        {"f1": field_v1, "c1": context, "o1": other},
    )
    assert set(first.writes) == {
        "fields/field/Team.yaml",
        "fields/field-context/Team/Default.yaml",
        "fields/field/Other.yaml",
    } | set(encode_index("fields", first.index.values(), first.state.paths))
    assert decode_index(encode_index("fields", first.index.values(), first.state.paths).values()) == first.state
    items = {"field/customfield_1": "f2", "field-context/9": "c1", "field/customfield_2": "o1"}
    assert bodies_needed(first.index, items) == {"f2"}
    with pytest.raises(MissingBodies) as moved:  # the context did not change, but its path does
        plan_type("fields", first.state, items, {"f2": field_v2})
    assert moved.value.digests == {"c1"}
    second = plan_type("fields", first.state, items, {"f2": field_v2, "c1": context})
    assert second.deletes == ["fields/field-context/Team/Default.yaml", "fields/field/Team.yaml"]
    touched = {shard_path("fields", shard_of(k)) for k in ("field/customfield_1", "field-context/9")}
    assert set(second.writes) == {"fields/field/Squad.yaml", "fields/field-context/Squad/Default.yaml"} | touched
    assert plan_type("fields", second.state, items, {}).empty
    assert TypeState.of("fields", second.index).paths == second.state.paths


def test_message_lists_changes_severities_projects_and_trailers() -> None:
    report = DriftReport("jira/acme", "workflows", "snap-2", "snap-1")
    report.changes = [
        Change("workflow/w1", ChangeOp.MODIFIED, "transitions[id=3].name", Severity.MEDIUM, "a", "b",
               name="Software Simplified Workflow", affects=12, affects_first=("ABC", "DEF")),
        Change("permission-scheme/1", ChangeOp.MODIFIED, "permissions", Severity.HIGH, name="Default"),
    ]  # fmt: skip
    authors = people(ranked_authors(["acc-b", "acc-a", "acc-b", ""], {"acc-b": "Bob"}))
    assert [p.ident() for p in authors] == [
        "Bob <acc-b@users.noreply.jiradrift.invalid>",
        "acc-a <acc-a@users.noreply.jiradrift.invalid>",
    ]
    meta = CommitMeta("snap-2", "abc", "jira/acme", "workflows", datetime(2026, 1, 5, tzinfo=UTC), "acme.example")
    text = commit_message(meta, report, authors)
    subject, _, rest = text.partition("\n")
    assert subject == "workflows: 2 change(s) on acme.example (high 1, medium 1)"
    assert (
        "- [medium] modified workflow 'Software Simplified Workflow' transitions[id=3].name (affects 12: ABC, DEF +10)"
        in rest
    )
    assert text.endswith(
        "Jiradrift-Snapshot: snap-2\nJiradrift-Type: workflows\nJiradrift-Tenant: jira/acme\n"
        "Jiradrift-Digest: sha256:abc\nCo-authored-by: acc-a <acc-a@users.noreply.jiradrift.invalid>\n"
    )
    assert jira_person("a<b>\nc", "Eve <evil>").ident() == "Eve evil <a-b--c@users.noreply.jiradrift.invalid>"
    assert OPERATOR.ident() == "jiradrift <operator@users.noreply.jiradrift.invalid>"
