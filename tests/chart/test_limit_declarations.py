"""Each limit is declared once (:class:`jiradrift.limit.Limit`), and the chart agrees with the declaration:
its default in values.yaml, its bounds in values.schema.json, and the flag the Deployment passes."""

from __future__ import annotations

import json
from typing import Any

import yaml
from chartlib import CHART

from jiradrift.jira.limits import CAPTURE_SLOTS, SITE_LIMITS
from jiradrift.limit import Limit

CHART_LIMITS: tuple[Limit, ...] = (*SITE_LIMITS, CAPTURE_SLOTS)


def _at(tree: dict[str, Any], dotted: str) -> Any:
    for key in dotted.split("."):
        tree = tree[key]
    return tree


def _schema_at(schema: dict[str, Any], dotted: str) -> dict[str, Any]:
    node = schema
    for key in dotted.split("."):
        node = node["properties"][key]
        if "$ref" in node:
            node = _at(schema, node["$ref"].removeprefix("#/").replace("/", "."))
    return node


def test_every_chart_limit_has_the_declared_default_bounds_and_flag() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    schema = json.loads((CHART / "values.schema.json").read_text())
    deployment = (CHART / "templates" / "deployment.yaml").read_text()
    for limit in CHART_LIMITS:
        assert limit.chart, f"{limit.name} has no chart value"
        assert _at(values, limit.chart) == limit.default, f"values.yaml {limit.chart} is not {limit.default}"
        found = {k: v for k, v in _schema_at(schema, limit.chart).items() if k != "description"}
        assert found == limit.schema(), f"values.schema.json {limit.chart}: {found} != {limit.schema()}"
        assert f"- {limit.flag}=" in deployment, f"the Deployment does not pass {limit.flag}"
