"""One declaration per limit: the settings object, the command line and the CRD read the same bounds and
give the same error text, naming where the user sets the value."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from jiradrift.api.resources import RateLimit
from jiradrift.cli import app
from jiradrift.jira.client import ClientSettings
from jiradrift.jira.limits import SITE_CONCURRENCY, SITE_LIMIT, SITE_LIMITS, ResponseLimits
from jiradrift.limit import Limit


def test_a_limit_names_the_flag_and_the_chart_value_in_its_error() -> None:
    depth = SITE_LIMIT["max_depth"]
    assert depth.check(5) == 5
    with pytest.raises(ValueError) as caught:
        depth.check(0)
    assert str(caught.value) == "--max-depth (chart value operator.siteLimits.maxDepth) must be at least 1, got 0"
    wait = SITE_LIMIT["max_wait"]
    assert wait.error(86401) == (
        "--max-wait (chart value operator.siteLimits.maxWait) must be between 0 and 86400, got 86401"
    )
    assert wait.error(float("nan")) is not None and wait.error(True) is not None


def test_a_default_outside_its_own_bounds_is_refused_at_declaration() -> None:
    with pytest.raises(ValueError, match="breaks its own bounds"):
        Limit("x", 0, "nothing", minimum=1)


def test_the_settings_object_checks_the_declared_bounds() -> None:
    # the command line and the chart refused bodies under 1 KiB; the settings object did not
    with pytest.raises(
        ValueError, match=r"--max-response-bytes \(chart value operator\.siteLimits\.maxResponseBytes\)"
    ):
        ResponseLimits(max_body_bytes=100)
    with pytest.raises(ValueError, match=r"--max-wait .* must be between 0 and 86400, got 90000"):
        ResponseLimits(max_wait=90000)
    for limit in SITE_LIMITS:
        assert getattr(ResponseLimits(), limit.name) == limit.default


def test_the_command_line_refuses_with_the_same_text() -> None:
    result = CliRunner().invoke(app, ["snapshot", "--site", "https://acme.atlassian.net", "--max-depth", "0"])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split()).replace("│", "").replace("  ", " ")
    assert "must be at least 1, got 0" in text, result.output


def test_the_crd_field_and_the_client_default_come_from_the_declaration() -> None:
    field = RateLimit.model_fields["max_concurrency"]
    assert field.default == SITE_CONCURRENCY.default == ClientSettings().max_concurrency
    assert field.description == SITE_CONCURRENCY.help
    with pytest.raises(ValueError, match="less than or equal to 64"):
        RateLimit(max_concurrency=65)
