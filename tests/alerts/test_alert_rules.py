"""The chart's PrometheusRule: rendered only when asked for and possible, valid for promtool, each
alert fired and silenced by promtool unit tests (tests/alerts/*.yaml), reading only metrics the
operator exports, and documented in docs/runbook.md."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.alerts.promql import exported_series, metric_names
from tests.chart.chartlib import CHART, KUBE_VERSION, REPO, Helm, by_kind, documents, one

from jiradrift.handlers import metrics

HERE = Path(__file__).parent
UNIT_TESTS = sorted(HERE.glob("*.yaml"))
RULES_FILE = "jiradrift-rules.yaml"  # the name the unit tests' rule_files refer to
ENABLE = ("--set", "metrics.prometheusRule.enabled=true", "--api-versions", "monitoring.coreos.com/v1/PrometheusRule")


def rendered_rule(helm: Helm, *args: str) -> dict[str, Any]:
    return one(documents(helm.template(*ENABLE, *args)), "PrometheusRule")


def alerts(rule: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for group in rule["spec"]["groups"] for r in group["rules"] if "alert" in r]


@pytest.fixture(scope="module")
def rules_dir(helm: Helm, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The rendered rule groups as a Prometheus rule file, beside copies of the unit tests."""
    out = tmp_path_factory.mktemp("rules")
    (out / RULES_FILE).write_text(yaml.safe_dump({"groups": rendered_rule(helm)["spec"]["groups"]}, sort_keys=False))
    for test in UNIT_TESTS:
        shutil.copy(test, out / test.name)
    return out


def template_error(helm: Helm, *args: str) -> str:
    proc = helm.run("template", "drift", str(CHART), "--kube-version", KUBE_VERSION, *args, check=False)
    assert proc.returncode != 0, "helm template succeeded"
    return proc.stderr


def promtool_run(promtool: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(promtool), *args], capture_output=True, text=True, cwd=cwd, timeout=300, check=False)


def test_rule_is_off_by_default_and_refused_without_the_api(helm: Helm) -> None:
    assert by_kind(documents(helm.template()), "PrometheusRule") == []
    error = template_error(helm, "--set", "metrics.prometheusRule.enabled=true")
    assert "does not serve monitoring.coreos.com/v1 PrometheusRule" in error, error


def test_rule_refuses_a_service_monitor_that_renames_the_namespace_label(helm: Helm) -> None:
    common = (
        "--set",
        "metrics.serviceMonitor.enabled=true",
        "--api-versions",
        "monitoring.coreos.com/v1/ServiceMonitor",
    )
    error = template_error(helm, *ENABLE, *common)
    assert "honorLabels=true" in error, error
    rule = rendered_rule(helm, *common, "--set", "metrics.serviceMonitor.honorLabels=true")
    assert len(alerts(rule)) == 8  # seven per tenant and operator, one per SiteComparison


def test_rule_takes_labels_and_thresholds_from_values(helm: Helm) -> None:
    rule = rendered_rule(
        helm,
        "--set",
        "metrics.prometheusRule.labels.release=prom",
        "--set",
        "metrics.prometheusRule.additionalAlertLabels.team=platform",
        "--set",
        "metrics.prometheusRule.alerts.lockContention.ratio=0.05",
        "--set",
        "metrics.prometheusRule.runbookURL=https://wiki.example/runbook/",
    )
    assert rule["metadata"]["labels"]["release"] == "prom"
    by_name = {a["alert"]: a for a in alerts(rule)}
    assert all(a["labels"]["team"] == "platform" for a in by_name.values())
    assert "> 0.05" in by_name["JiraDriftLockContentionHigh"]["expr"]
    url = by_name["JiraDriftLockContentionHigh"]["annotations"]["runbook_url"]
    assert url == "https://wiki.example/runbook#jiradriftlockcontentionhigh"


def test_rules_pass_promtool_check(promtool: Path, rules_dir: Path) -> None:
    proc = promtool_run(promtool, "check", "rules", RULES_FILE, cwd=rules_dir)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS: 8 rules found" in proc.stdout, proc.stdout


def test_promtool_unit_tests_fire_and_silence_every_alert(promtool: Path, rules_dir: Path, helm: Helm) -> None:
    names = {a["alert"] for a in alerts(rendered_rule(helm))}
    fired: set[str] = set()
    silent: set[str] = set()
    for test_file in UNIT_TESTS:
        spec = yaml.safe_load(test_file.read_text())
        assert spec["rule_files"] == [RULES_FILE], test_file
        for case in spec["tests"]:
            for check in case.get("alert_rule_test", []):
                (fired if check.get("exp_alerts") else silent).add(check["alertname"])
    assert fired == names, f"alerts no unit test fires: {sorted(names - fired)}"
    assert silent == names, f"alerts no unit test keeps silent: {sorted(names - silent)}"

    proc = promtool_run(promtool, "test", "rules", *(t.name for t in UNIT_TESTS), cwd=rules_dir)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("SUCCESS") == len(UNIT_TESTS), proc.stdout


def test_promtool_unit_tests_can_fail(promtool: Path, rules_dir: Path) -> None:
    """A unit test that expects the wrong alert fails: promtool is really checking."""
    spec = yaml.safe_load((HERE / "lock_contention.yaml").read_text())
    spec["tests"][0]["alert_rule_test"][-1]["exp_alerts"][0]["exp_labels"]["severity"] = "critical"
    (rules_dir / "broken.yaml").write_text(yaml.safe_dump(spec))
    proc = promtool_run(promtool, "test", "rules", "broken.yaml", cwd=rules_dir)
    assert proc.returncode != 0 and "FAILED" in proc.stdout + proc.stderr


def test_every_metric_in_the_rules_is_exported_by_the_operator(helm: Helm) -> None:
    exported = exported_series(metrics.REGISTRY)
    for alert in alerts(rendered_rule(helm)):
        used = metric_names(alert["expr"])
        assert used, alert["alert"]
        assert used <= exported, f"{alert['alert']} reads {sorted(used - exported)}, which the operator does not export"


def test_every_alert_is_actionable_and_has_a_runbook_section(helm: Helm) -> None:
    runbook = (REPO / "docs" / "runbook.md").read_text()
    sections = dict(re.findall(r"^### (\w+)\n(.*?)(?=^### |\Z)", runbook, flags=re.M | re.S))
    for alert in alerts(rendered_rule(helm)):
        name, annotations = alert["alert"], alert["annotations"]
        assert annotations["summary"].strip() and annotations["description"].strip(), name
        assert annotations["runbook_url"].endswith(f"docs/runbook.md#{name.lower()}"), annotations["runbook_url"]
        assert name in sections, f"docs/runbook.md has no '### {name}' section"
        for part in ("What it means", "How to check", "How to fix"):
            assert f"**{part}" in sections[name], f"runbook section {name} lacks '{part}'"


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum by (le) (rate(a_bucket{x=~"$ns", y="by (z)"}[$__rate_interval]))', {"a_bucket"}),
        ("b > on (namespace, tenant) group_left () 2 * max without (pod) (c)", {"b", "c"}),
        ('time() - min_over_time(timestamp(d)[7d:5m]) unless {__name__="e"} offset 5m', {"d", "e"}),
        ("f and g or h unless bool_metric", {"f", "g", "h", "bool_metric"}),
    ],
)
def test_metric_names_are_parsed_from_promql(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names
