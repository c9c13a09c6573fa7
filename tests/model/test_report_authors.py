"""DriftReport's serialized form: the authors the audit log names travel with it, and a report
without authors is byte for byte what it was before authors were kept (stored reports, digests)."""

from __future__ import annotations

from jiradrift.model.kinds import Severity
from jiradrift.model.report import Change, ChangeOp, DriftAuthor, DriftReport, ranked_authors

TODAY = (
    b'{"tenant":"ns/acme","type":"workflows","new_snapshot":"s2","old_snapshot":"s1","added":0,"removed":0,'
    b'"changed":1,"ignored":0,"change_count":1,"highest_severity":"low","unknown":{},"unknown_count":0,'
    b'"unreadable":{},"changes":[{"key":"workflow/w1","kind":"workflow","op":"modified","path":"description",'
    b'"severity":"low","old":"a","new":"b","name":"Simplified"}]}'
)


def report(**extra: object) -> DriftReport:
    change = Change("workflow/w1", ChangeOp.MODIFIED, "description", Severity.LOW, "a", "b", name="Simplified")
    return DriftReport("ns/acme", "workflows", "s2", "s1", changed=1, changes=[change], **extra)  # type: ignore[arg-type]


def test_a_report_without_authors_serializes_as_before_and_reads_back_with_none() -> None:
    assert report().to_json() == TODAY
    assert "authors" not in report().summary()
    assert DriftReport.from_json(TODAY) == report()
    assert DriftReport.from_json(TODAY).authors == []


def test_a_reports_authors_round_trip_in_order_with_hidden_e_mail_kept_empty() -> None:
    authors = [DriftAuthor("acc-bob", "Bob Builder", "bob@example.com"), DriftAuthor("acc-alice", "Alice Admin")]
    with_authors = report(authors=authors)
    data = with_authors.to_dict()
    assert data["authors"] == [
        {"account_id": "acc-bob", "display_name": "Bob Builder", "email": "bob@example.com"},
        {"account_id": "acc-alice", "display_name": "Alice Admin", "email": ""},
    ]
    assert with_authors.summary()["authors"] == data["authors"]  # what the stores keep beside the chunks
    assert DriftReport.from_json(with_authors.to_json()) == with_authors
    assert DriftReport.from_json(with_authors.to_json()).authors == authors


def test_stored_authors_that_are_not_objects_or_name_no_account_are_dropped() -> None:
    data = report().to_dict() | {"authors": ["acc-x", {"display_name": "nobody"}, {"account_id": "acc-y"}]}
    assert DriftReport.from_dict(data).authors == [DriftAuthor("acc-y")]


def test_ranked_authors_puts_the_most_attributed_first_ties_by_id() -> None:
    ranked = ranked_authors(["acc-b", "acc-a", "acc-b", "", "acc-c"], {"acc-b": "Bob"}, {"acc-a": "a@example.com"})
    assert ranked == [DriftAuthor("acc-b", "Bob"), DriftAuthor("acc-a", "", "a@example.com"), DriftAuthor("acc-c")]
