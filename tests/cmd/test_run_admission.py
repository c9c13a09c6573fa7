"""The most captures one operator process runs at once is what the memory test runs under the chart's
memory limit (tests/cmd/test_run_inflight_memory.py): ``--max-concurrent-captures`` and the chart's
``operator.maxConcurrentCaptures`` refuse more, naming the option and its range."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from jiradrift.cli import app
from jiradrift.jira.limits import MAX_CONCURRENT_CAPTURES

SCHEMA = Path(__file__).resolve().parents[2] / "charts" / "jira-drift-operator" / "values.schema.json"


def test_more_captures_than_the_memory_test_runs_are_refused() -> None:
    assert MAX_CONCURRENT_CAPTURES == 64
    args = ["run", "--namespace", "team-a", "--max-concurrent-captures", str(MAX_CONCURRENT_CAPTURES + 1)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.replace("│", " ").split())
    assert "--max-concurrent-captures" in message and "must be between 1 and 64, got 65" in message, message


def test_the_chart_admits_no_more_captures_than_the_operator() -> None:
    schema = json.loads(SCHEMA.read_text())
    captures = schema["properties"]["operator"]["properties"]["maxConcurrentCaptures"]
    assert captures["maximum"] == MAX_CONCURRENT_CAPTURES
