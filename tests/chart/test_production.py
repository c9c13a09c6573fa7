"""The chart's production shape: a readiness probe, a PodDisruptionBudget and spreading when
replicas > 1, a NetworkPolicy for ingress (metrics and health) beside the egress one, and the
Artifact Hub metadata and generated README a listing needs."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
import yaml
from chartlib import CHART, REPO, Helm, by_kind, documents, one

pytestmark = pytest.mark.k8s

HA = str(CHART / "ci" / "ha-values.yaml")


def operator_pod(docs: list[dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = one(docs, "Deployment")["spec"]["template"]["spec"]
    return spec


def test_the_operator_has_a_readiness_probe_on_its_own_endpoint(helm: Helm) -> None:
    docs = documents(helm.template())
    deployment = one(docs, "Deployment")
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    container = operator_pod(docs)["containers"][0]
    assert "--readiness=http://0.0.0.0:8081/readyz" in container["args"]
    probe = container["readinessProbe"]
    assert probe["httpGet"] == {"path": "/readyz", "port": "readyz"}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["readyz"] == 8081 and ports["healthz"] == 8080
    # liveness stays kopf's (alive), readiness is ours (able to work): different endpoints
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_one_replica_has_no_budget_and_no_spread(helm: Helm) -> None:
    docs = documents(helm.template())
    assert not by_kind(docs, "PodDisruptionBudget")
    assert "topologySpreadConstraints" not in operator_pod(docs)


def test_replicas_get_a_disruption_budget_and_spread_across_nodes(helm: Helm) -> None:
    docs = documents(helm.template("-f", HA))
    pdb = one(docs, "PodDisruptionBudget")
    deployment = one(docs, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
    selector = pdb["spec"]["selector"]["matchLabels"]
    assert selector == deployment["spec"]["selector"]["matchLabels"]
    assert all(pod_labels[k] == v for k, v in selector.items())
    spread = operator_pod(docs)["topologySpreadConstraints"]
    assert [c["topologyKey"] for c in spread] == ["kubernetes.io/hostname", "topology.kubernetes.io/zone"]
    for c in spread:
        assert c["maxSkew"] == 1 and c["whenUnsatisfiable"] == "ScheduleAnyway"
        assert c["labelSelector"]["matchLabels"] == selector
    # the token job's pods never count against the operator's budget or spread
    assert selector["app.kubernetes.io/component"] == "operator"


def test_spread_constraints_and_budget_can_be_replaced_or_turned_off(helm: Helm) -> None:
    own = [{"maxSkew": 2, "topologyKey": "rack", "whenUnsatisfiable": "DoNotSchedule"}]
    docs = documents(
        helm.template(
            "-f",
            HA,
            "--set-json",
            f"operator.topologySpreadConstraints={json.dumps(own)}",
            "--set",
            "operator.podDisruptionBudget.enabled=false",
        )
    )
    assert operator_pod(docs)["topologySpreadConstraints"] == own
    assert not by_kind(docs, "PodDisruptionBudget")


def test_network_policy_covers_ingress_to_metrics_and_health(helm: Helm) -> None:
    docs = documents(helm.template("-f", HA))
    policies = {p["metadata"]["name"]: p["spec"] for p in by_kind(docs, "NetworkPolicy")}
    assert set(policies) == {"drift-jira-drift-operator-egress", "drift-jira-drift-operator-ingress"}
    ingress = policies["drift-jira-drift-operator-ingress"]
    assert ingress["policyTypes"] == ["Ingress"]
    assert ingress["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "operator"
    rules = {tuple(p["port"] for p in r["ports"]): r.get("from") for r in ingress["ingress"]}
    assert rules == {
        (8080, 8081): None,  # kubelet probes come from the node
        (9090,): [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
    }
    # metrics off: no port is open but the health ports
    docs = documents(helm.template("-f", HA, "--set", "metrics.enabled=false"))
    ingress = next(p for p in by_kind(docs, "NetworkPolicy") if p["metadata"]["name"].endswith("-ingress"))
    assert [[p["port"] for p in r["ports"]] for r in ingress["spec"]["ingress"]] == [[8080, 8081]]


def test_schema_refuses_a_misspelt_production_value(helm: Helm) -> None:
    bad = helm.run(
        "template", "drift", str(CHART), "--set", "operator.podDisruptionBudget.maxUnavaliable=1", check=False
    )
    assert bad.returncode != 0 and "maxUnavaliable" in bad.stderr
    bad = helm.run("template", "drift", str(CHART), "--set", "operator.readinessProbe.port=80", check=False)
    assert bad.returncode != 0 and "readinessProbe" in bad.stderr


def test_artifact_hub_metadata() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    for key in ("home", "icon", "sources", "maintainers"):
        assert chart.get(key), key
    assert all(m.get("email") or m.get("url") for m in chart["maintainers"])
    notes = chart["annotations"]
    assert notes["artifacthub.io/license"] == "Apache-2.0"
    images = yaml.safe_load(notes["artifacthub.io/images"])
    assert images[0]["image"] == f"ghcr.io/jiradrift/jira-drift-operator:{chart['appVersion']}"
    links = {link["name"] for link in yaml.safe_load(notes["artifacthub.io/links"])}
    assert {"Source", "Documentation", "Changelog and upgrade notes"} <= links
    crds = {c["kind"] for c in yaml.safe_load(notes["artifacthub.io/crds"])}
    examples = yaml.safe_load(notes["artifacthub.io/crdsExamples"])
    assert {e["kind"] for e in examples} == crds == {"JiraTenant", "Snapshot"}
    assert (CHART / "icon.svg").read_text().startswith("<svg")
    repo_meta = yaml.safe_load((CHART / "artifacthub-repo.yml").read_text())
    assert set(repo_meta) == {"repositoryID", "owners"}


def test_crd_examples_are_valid_custom_resources(control_plane: Any) -> None:
    """Artifact Hub shows these as how to start: the API server must accept them."""
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    for example in yaml.safe_load(chart["annotations"]["artifacthub.io/crdsExamples"]):
        example["metadata"]["namespace"] = "default"
        proc = control_plane.kubectl("apply", "--dry-run=server", "-f", "-", input=yaml.safe_dump(example), check=False)
        assert proc.returncode == 0, proc.stderr


def test_chart_readme_is_generated_from_values_and_up_to_date() -> None:
    readme = (CHART / "README.md").read_text()
    assert "operator.readinessProbe.port" in readme and "operator.podDisruptionBudget.maxUnavailable" in readme
    proc = subprocess.run(
        ["bash", str(REPO / "tools/release/chart-readme.sh"), "--check"], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
