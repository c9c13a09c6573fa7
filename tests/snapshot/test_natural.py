"""Natural keys and reference resolution on hand-made items (no emulator)."""

from __future__ import annotations

from jiradrift.compare.comparison import compare_sites
from jiradrift.compare.mapping import ValueMappings
from jiradrift.snapshot.natural import Json, NaturalIndex


def site(offset: int, *, swap_duplicates: bool = False) -> list[tuple[str, Json]]:
    s = [str(10 + offset), str(11 + offset), str(12 + offset)]
    dup = [("Blocked", "waiting on someone"), ("Blocked", "waiting on a build")]
    if swap_duplicates:
        dup.reverse()
    return [
        (f"status/{s[0]}", {"id": s[0], "name": "To Do", "description": "", "statusCategory": "TODO"}),
        (f"status/{s[1]}", {"id": s[1], "name": dup[0][0], "description": dup[0][1], "statusCategory": "TODO"}),
        (f"status/{s[2]}", {"id": s[2], "name": dup[1][0], "description": dup[1][1], "statusCategory": "TODO"}),
        (
            f"workflow/wf-{offset}",
            {
                "id": f"wf-{offset}",
                "name": "Bugs",
                "statuses": [{"statusReference": s[0]}, {"statusReference": s[1 if not swap_duplicates else 2]}],
                "transitions": [{"id": "1", "name": "Create", "toStatusReference": s[0], "links": []}],
            },
        ),
        (f"field/customfield_{100 + offset}", {"id": f"customfield_{100 + offset}", "name": "Team", "custom": True}),
        (
            f"field-context/{200 + offset}",
            {
                "id": str(200 + offset),
                "name": "Default",
                "fieldId": f"customfield_{100 + offset}",
                "projectIds": [],
                "issueTypeIds": [],
                "options": [
                    {"id": str(300 + offset), "value": "Red"},
                    {"id": str(301 + offset), "value": "Dark red", "optionId": str(300 + offset)},
                ],
                "defaultValue": {"type": "option.single", "optionId": str(301 + offset)},
            },
        ),
        (
            f"permission-scheme/{400 + offset}",
            {
                "id": 400 + offset,
                "name": "Default",
                "permissions": [{"permission": "BROWSE", "holder": {"type": "group", "parameter": f"admins-{offset}"}}],
            },
        ),
    ]


def test_same_configuration_under_other_ids_resolves_to_equal_bodies() -> None:
    left, right = NaturalIndex.build(site(0)), NaturalIndex.build(site(1000, swap_duplicates=True))
    assert left.items.keys() == right.items.keys()
    assert "field-context/Team/Default" in left.items
    context = left.items["field-context/Team/Default"].body
    assert context["fieldId"] == "Team"
    assert context["options"] == [{"value": "Red"}, {"value": "Dark red", "optionId": "Red"}]
    assert context["defaultValue"]["optionId"] == "Dark red"
    # Duplicate names are numbered by content, not by id: the same "Blocked" is #n on both sides,
    # and the workflow's reference follows it.
    assert left.duplicates == {"status/Blocked": 2}
    for n in (1, 2):
        assert left.items[f"status/Blocked#{n}"].body == right.items[f"status/Blocked#{n}"].body
    assert left.items["workflow/Bugs"].body == right.items["workflow/Bugs"].body
    assert {k: v.body for k, v in left.items.items() if not k.startswith("permission")} == {
        k: v.body for k, v in right.items.items() if not k.startswith("permission")
    }
    result = compare_sites(left, right, mappings=ValueMappings.parse(["group:admins-0=admins-1000"]))
    assert not result.different and result.equal == len(left.items)


def test_a_reference_to_nothing_resolves_to_its_kind_and_is_counted() -> None:
    items = [("workflow/w", {"id": "w", "name": "W", "statuses": [{"statusReference": "404"}], "transitions": []})]
    index = NaturalIndex.build(items)
    assert index.items["workflow/W"].body["statuses"] == [{"statusReference": "?status"}]
    assert index.unresolved == 1
