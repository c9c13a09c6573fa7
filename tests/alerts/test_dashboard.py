"""The Grafana dashboard shipped with the chart: every query names only metrics the operator
exports, it shows what the issue asks for, and the chart ships it for the Grafana sidecar only when
asked."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from tests.alerts.promql import exported_series, metric_names
from tests.chart.chartlib import CHART, Helm, by_kind, documents, one

from jiradrift.handlers import metrics

DASHBOARD = CHART / "dashboards" / "jiradrift.json"


def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))


def queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, PromQL) for every panel target and every query variable."""
    for panel in panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]
    for var in dashboard["templating"]["list"]:
        if var["type"] != "query":
            continue
        query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
        # Grafana's label_values(<series selector>, <label>): the selector is PromQL
        match = re.fullmatch(r"label_values\((.*),\s*\w+\)", query)
        yield f"variable {var['name']}", match.group(1) if match else query


def test_every_query_names_only_metrics_the_operator_exports() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exported = exported_series(metrics.REGISTRY)
    found = list(queries(dashboard))
    assert len(found) >= 10
    for where, expr in found:
        used = metric_names(expr)
        assert used, f"{where}: {expr!r} names no metric"
        assert used <= exported, f"{where} queries {sorted(used - exported)}, which the operator does not export"


def test_dashboard_shows_drift_snapshots_jira_and_tokens() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    used = set().union(*(metric_names(expr) for _, expr in queries(dashboard)))
    for needed in (
        "jiradrift_drift_changes_total",  # drift over time by tenant and severity
        "jiradrift_unaccepted_changes",
        "jiradrift_snapshot_duration_seconds_bucket",  # snapshot durations
        "jiradrift_jira_requests_total",  # Jira requests
        "jiradrift_jira_rate_limit_waits_total",  # rate-limit waits
        "jiradrift_token_expiry_timestamp_seconds",  # token expiry
    ):
        assert needed in used, f"the dashboard has no panel on {needed}"
    drift = next(e for _, e in queries(dashboard) if "jiradrift_drift_changes_total" in e)
    assert re.search(r"by \((?=[^)]*\btenant\b)(?=[^)]*\bseverity\b)", drift), drift
    ids = [p["id"] for p in panels(dashboard["panels"])]
    assert len(ids) == len(set(ids)) and dashboard["uid"]


def test_dashboard_configmap_is_opt_in_and_labelled_for_the_sidecar(helm: Helm) -> None:
    assert [c for c in by_kind(documents(helm.template()), "ConfigMap") if "dashboard" in c["metadata"]["name"]] == []
    docs = documents(
        helm.template(
            "--set",
            "metrics.grafanaDashboard.enabled=true",
            "--set",
            "metrics.grafanaDashboard.namespace=monitoring",
            "--set",
            "metrics.grafanaDashboard.annotations.grafana_folder=Jira",
        )
    )
    config_map = one(docs, "ConfigMap")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["metadata"]["namespace"] == "monitoring"
    assert config_map["metadata"]["annotations"] == {"grafana_folder": "Jira"}
    assert json.loads(config_map["data"]["jiradrift.json"]) == json.loads(DASHBOARD.read_text())
