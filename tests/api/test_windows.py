from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from jiradrift.api.resources import DNS_SUBDOMAIN_PATTERN
from jiradrift.api.windows import parse_duration, snapshot_name, window_start
from jiradrift.kube.names import label_value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5m", timedelta(minutes=5)),
        ("6h", timedelta(hours=6)),
        ("1h30m", timedelta(minutes=90)),
        ("90s", timedelta(seconds=90)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "often", "5", "m5", "1d"])
def test_parse_duration_rejects_with_the_accepted_form(text: str) -> None:
    with pytest.raises(ValueError, match="such as 30m, 6h"):
        parse_duration(text)


def test_window_is_floor_of_now_in_utc() -> None:
    now = datetime(2026, 11, 26, 14, 37, 12, tzinfo=UTC)
    assert window_start(now, timedelta(hours=6)) == datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    assert window_start(now, timedelta(minutes=5)) == datetime(2026, 11, 26, 14, 35, tzinfo=UTC)
    # the same instant in another zone gives the same window
    other = now.astimezone(__import__("zoneinfo").ZoneInfo("America/New_York"))
    assert window_start(other, timedelta(hours=6)) == window_start(now, timedelta(hours=6))


def test_snapshot_names_are_deterministic_and_dns_safe() -> None:
    start = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    name = snapshot_name("acme", "workflows", start)
    assert name == "acme-workflows-20261126t1200z"
    assert snapshot_name("acme", "workflows", start) == name
    long = snapshot_name("a" * 250, "workflows", start)
    assert len(long) <= 253 and re.fullmatch(DNS_SUBDOMAIN_PATTERN, long)
    assert long != snapshot_name("a" * 249 + "b", "workflows", start)


def test_label_values() -> None:
    assert label_value("acme") == "acme"
    value = label_value("x" * 100)
    assert len(value) <= 63 and value[-1].isalnum()


def test_the_token_window_takes_days_from_the_same_parser() -> None:
    assert parse_duration("2d", days=True) == timedelta(days=2)
    assert parse_duration("1d12h", days=True) == timedelta(hours=36)
    with pytest.raises(ValueError, match="or 2d"):
        parse_duration("2w", days=True)
