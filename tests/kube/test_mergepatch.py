"""JSON merge patch (RFC 7386): the examples of its appendix A, and which status fields change."""

from __future__ import annotations

from typing import Any

import pytest

from jiradrift.kube.mergepatch import apply, changed_fields

RFC7386_EXAMPLES: list[tuple[Any, Any, Any]] = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("target", "patch", "result"), RFC7386_EXAMPLES)
def test_rfc7386_appendix_a(target: Any, patch: Any, result: Any) -> None:
    before = repr(target)
    assert apply(target, patch) == result
    assert repr(target) == before  # the target is not modified


def test_changed_fields_keeps_only_what_changes_the_stored_object() -> None:
    stored = {"conditions": [{"type": "Ready", "status": "True"}], "unaccepted": {"total": 0}}
    desired = {
        "conditions": [{"type": "Ready", "status": "True"}],  # same
        "unaccepted": {"total": 0, "since": None},  # null deletes an absent key: same
        "site": None,  # deleting an absent field: same
        "owner": "replica-1",  # new
    }
    assert changed_fields(stored, desired) == {"owner": "replica-1"}
    assert changed_fields({**stored, "site": {"title": "x"}}, {"site": None}) == {"site": None}
    assert changed_fields(stored, {"conditions": []}) == {"conditions": []}
