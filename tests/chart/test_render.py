"""The chart renders, lints, validates against Kubernetes 1.36 schemas, and refuses bad values."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from chartlib import CHART, CI_VALUES, KUBE_VERSION, REPO, Helm, by_kind, documents, one
from kubernetes_validate.utils import all_versions

from jiradrift.generate.chart import stale_chart_crds
from jiradrift.generate.crds import build_crds
from jiradrift.jira.limits import DEFAULT_LIMITS

pytestmark = pytest.mark.k8s

# kubernetes-validate bundles schemas per minor; this is the apiserver we build.
SCHEMA_VERSION = "1.36.0"


def test_lint_strict_passes_for_every_ci_values_file(helm: Helm) -> None:
    for values in CI_VALUES:
        out = helm.run("lint", "--strict", str(CHART), "-f", str(values), "--kube-version", "1.36.3")
        assert "0 chart(s) failed" in out.stdout, out.stdout


@pytest.mark.parametrize("values", CI_VALUES, ids=lambda p: p.stem)
def test_ci_values_render_objects_valid_for_kubernetes_1_36(helm: Helm, values: Path) -> None:
    assert SCHEMA_VERSION in all_versions()
    docs = documents(helm.template("-f", str(values)))
    assert docs
    for doc in docs:
        # Strict: an unknown field (a typo in a template) fails, and so does an unknown kind.
        kubernetes_validate.validate(doc, SCHEMA_VERSION, strict=True)


def test_chart_crds_are_the_generated_crds(helm: Helm) -> None:
    assert stale_chart_crds() == [], "run `python -m jiradrift.generate.chart`"
    rendered = {d["metadata"]["name"]: d for d in by_kind(documents(helm.template()), "CustomResourceDefinition")}
    committed = {}
    for path in sorted((REPO / "crds").glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        committed[crd["metadata"]["name"]] = crd
    generated = {crd["metadata"]["name"]: crd for crd in build_crds().values()}
    assert (
        set(rendered)
        == set(committed)
        == set(generated)
        == {
            "jiratenants.jiradrift.io",
            "snapshots.jiradrift.io",
            "sitecomparisons.jiradrift.io",
        }
    )
    for name, crd in rendered.items():
        assert crd["spec"] == committed[name]["spec"] == generated[name]["spec"], name
        assert crd["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}
        for key, value in committed[name]["metadata"]["labels"].items():
            assert crd["metadata"]["labels"][key] == value


def test_crds_can_be_left_out_and_unkept(helm: Helm) -> None:
    assert by_kind(documents(helm.template("--set", "crds.install=false")), "CustomResourceDefinition") == []
    unkept = by_kind(documents(helm.template("--set", "crds.keep=false")), "CustomResourceDefinition")
    assert len(unkept) == 3 and all("annotations" not in crd["metadata"] for crd in unkept)


def _container(doc: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    pod = (
        doc["spec"]["template"]["spec"]
        if doc["kind"] == "Deployment"
        else (doc["spec"]["jobTemplate"]["spec"]["template"]["spec"])
    )
    (container,) = pod["containers"]
    return pod, container


def test_workloads_are_hardened(helm: Helm) -> None:
    docs = documents(helm.template())
    deployment, cronjob = one(docs, "Deployment"), one(docs, "CronJob")
    assert deployment["spec"]["replicas"] == 1
    # replicas share tenants through membership Leases: a rolling update hands them over one pod at a time
    rolling = {"maxSurge": 1, "maxUnavailable": 0}
    assert deployment["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": rolling}
    for workload in (deployment, cronjob):
        pod, container = _container(workload)
        assert pod["securityContext"] == {
            "runAsNonRoot": True,
            "runAsUser": 65532,
            "runAsGroup": 65532,
            "fsGroup": 65532,
            "seccompProfile": {"type": "RuntimeDefault"},
        }
        assert container["securityContext"] == {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "privileged": False,
            "capabilities": {"drop": ["ALL"]},
        }
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
        assert any(v["name"] == "tmp" and "emptyDir" in v for v in pod["volumes"])
        assert {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"} in container["env"]
        assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
        assert pod["automountServiceAccountToken"] is True
    _, operator = _container(deployment)
    assert operator["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "healthz"}
    assert "--liveness=http://0.0.0.0:8080/healthz" in operator["args"]
    for sa in by_kind(docs, "ServiceAccount"):  # tokens are mounted only where a pod asks for one
        assert sa["automountServiceAccountToken"] is False


def test_operator_and_token_job_arguments_follow_the_scope(helm: Helm) -> None:
    default = documents(helm.template(namespace="ops"))
    _, operator = _container(one(default, "Deployment"))
    assert operator["args"][:3] == ["run", "--standalone", "--namespace=ops"]
    assert "--store=secret" in operator["args"] and "--metrics-port=9090" in operator["args"]
    assert "--allowed-hosts=*.atlassian.net,api.atlassian.com,auth.atlassian.com" in operator["args"]
    names = {e["name"]: e for e in operator["env"]}
    assert names["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert names["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    _, job = _container(one(default, "CronJob"))
    assert job["args"] == [
        "refresh-tokens",
        "--namespace=ops",
        "--allowed-hosts=*.atlassian.net,api.atlassian.com,auth.atlassian.com",
        "--window=24h",
    ]

    teams = documents(helm.template("--set", "watchNamespaces={team-a,team-b}", namespace="ops"))
    _, operator = _container(one(teams, "Deployment"))
    assert [a for a in operator["args"] if a.startswith("--namespace")] == [
        "--namespace=team-a",
        "--namespace=team-b",
    ]
    assert sorted(r["metadata"]["namespace"] for r in by_kind(teams, "Role")) == [
        "ops",  # the membership Leases of sharded replicas
        "team-a",
        "team-a",
        "team-b",
        "team-b",
    ]
    assert "--shard-namespace=ops" in operator["args"]
    assert by_kind(teams, "ClusterRole") == []

    wide = documents(helm.template("--set", "rbac.clusterWide=true", "--set", "rbac.secretNamespaces={team-a}"))
    _, operator = _container(one(wide, "Deployment"))
    assert "--all-namespaces" in operator["args"] and not any(a.startswith("--namespace") for a in operator["args"])
    assert [r["metadata"]["name"].endswith("-membership") for r in by_kind(wide, "Role")] == [True]
    # the workloads' own rules, and their rules on Secrets, bound in rbac.secretNamespaces only (issue 23)
    assert len(by_kind(wide, "ClusterRole")) == 4 and by_kind(wide, "ClusterRoleBinding") != []
    assert sorted(
        r["metadata"]["namespace"] for r in by_kind(wide, "RoleBinding") if "-secrets" in r["metadata"]["name"]
    ) == [
        "team-a",
        "team-a",
    ]


def test_cronjob_is_safe_by_default(helm: Helm) -> None:
    spec = one(documents(helm.template()), "CronJob")["spec"]
    assert spec["schedule"] == "0 */12 * * *"
    assert spec["timeZone"] == "Etc/UTC"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert 0 < spec["startingDeadlineSeconds"] <= 600
    assert spec["jobTemplate"]["spec"]["backoffLimit"] <= 3
    assert spec["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"].endswith("-token-refresh")


def test_service_monitor_is_opt_in_and_selects_the_metrics_service(helm: Helm) -> None:
    assert by_kind(documents(helm.template()), "ServiceMonitor") == []
    missing = helm.run(
        "template",
        "drift",
        str(CHART),
        "--kube-version",
        "1.36.3",
        "--set",
        "metrics.serviceMonitor.enabled=true",
        check=False,
    )
    assert missing.returncode != 0 and "install prometheus-operator's CRDs first" in missing.stderr
    docs = documents(
        helm.template(
            "--set",
            "metrics.serviceMonitor.enabled=true",
            "--set",
            "metrics.serviceMonitor.labels.release=prom",
            "--api-versions",
            "monitoring.coreos.com/v1/ServiceMonitor",
        )
    )
    monitor, service = one(docs, "ServiceMonitor"), one(docs, "Service")
    assert monitor["metadata"]["labels"]["release"] == "prom"
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"] == "metrics"
    _, operator = _container(one(docs, "Deployment"))
    pod_labels = one(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert {"name": "metrics", "containerPort": 9090, "protocol": "TCP"} in operator["ports"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--set", "imagee.tag=x"], "additional properties 'imagee' not allowed"),
        (["--set", "operator.resource.limits.cpu=1"], "additional properties 'resource' not allowed"),
        (["--set", "tokenRefresh.shedule=* * * * *"], "additional properties 'shedule' not allowed"),
        (["--set", "crds.install=yes"], "/crds/install"),
        (["--set", "operator.store.type=s4"], "/operator/store/type"),
        (["--set", "operator.store.type=filesystem"], "/operator/store/existingClaim"),
        (
            ["--set", "operator.store.type=s3", "--set", "operator.store.s3.bucket=b-1"],
            "operator.store.type=s3 needs credentials: operator.store.s3.credentialsSecret",
        ),
        (["--set", "watchNamespaces={Team_A}"], "/watchNamespaces/0"),
        (["--set", "tokenRefresh.window=1day"], "/tokenRefresh/window"),
        (["--set", "tokenRefresh.schedule=every day"], "/tokenRefresh/schedule"),
        (["--set", "operator.replicas=0"], "/operator/replicas"),
        (
            [
                "--set",
                "operator.replicas=2",
                "--set",
                "operator.store.type=filesystem",
                "--set",
                "operator.store.existingClaim=pvc",
            ],
            "operator.replicas > 1 needs a store every replica can reach",
        ),
    ],
    ids=[
        "top-level",
        "nested",
        "cron",
        "bool",
        "enum",
        "conditional",
        "s3-credentials",
        "namespace",
        "duration",
        "schedule",
        "replicas",
        "replicas-filesystem",
    ],
)
def test_values_typos_are_refused(helm: Helm, args: list[str], expected: str) -> None:
    proc = helm.run("template", "drift", str(CHART), "--kube-version", "1.36.3", *args, check=False)
    assert proc.returncode != 0
    assert expected in proc.stderr, proc.stderr


def test_every_values_key_is_commented_and_in_the_schema() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    schema = json.loads((CHART / "values.schema.json").read_text())
    lines = (CHART / "values.yaml").read_text().splitlines()

    def walk(node: dict[str, Any], props: dict[str, Any], path: str) -> None:
        for key, value in node.items():
            where = f"{path}{key}"
            assert key in props, f"{where} is missing from values.schema.json"
            sub = props[key]
            if "$ref" in sub:
                sub = schema["definitions"][sub["$ref"].split("/")[-1]]
            if isinstance(value, dict) and value and "properties" in sub:
                walk(value, sub["properties"], f"{where}.")

    walk(values, schema["properties"], "")
    # Every leaf key carries a comment, on itself or on an enclosing key whose default it is part of
    # (e.g. the requests/limits under a documented `resources`). Grouping keys need none.
    stack: list[tuple[int, bool]] = []  # (indent, documented) of the enclosing keys
    previous = ""
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped.startswith("- "):
            previous = stripped if stripped else previous
            continue
        indent = len(line) - len(line.lstrip())
        while stack and stack[-1][0] >= indent:
            stack.pop()
        documented = previous.startswith("#") or any(doc for _, doc in stack)
        key, _, value = stripped.partition(":")
        if value.strip():
            assert documented, f"values.yaml line {number} ({key}) has no comment"
        stack.append((indent, documented))
        previous = stripped


def _refused_render(helm: Helm, value: str) -> subprocess.CompletedProcess[str]:
    rendered = helm.run("template", "drift", str(CHART), "--kube-version", KUBE_VERSION, "--set", value, check=False)
    assert rendered.returncode != 0, f"--set {value} rendered"
    return rendered


def _egress_policy(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (policy,) = (d for d in by_kind(docs, "NetworkPolicy") if d["metadata"]["name"].endswith("-egress"))
    return policy


def test_egress_network_policy_is_opt_in_and_keeps_metadata_out(helm: Helm) -> None:
    assert by_kind(documents(helm.template()), "NetworkPolicy") == []
    missing = _refused_render(helm, "networkPolicy.enabled=true")
    assert "networkPolicy.apiServerCIDRs" in missing.stderr
    docs = documents(
        helm.template("--set", "networkPolicy.enabled=true", "--set", "networkPolicy.apiServerCIDRs={10.96.0.1/32}")
    )
    # the egress policy; its ingress sibling is tested in test_production.py
    policy = _egress_policy(docs)
    kubernetes_validate.validate(policy, SCHEMA_VERSION, strict=True)
    assert policy["spec"]["policyTypes"] == ["Egress"]
    deployment, cronjob = one(docs, "Deployment"), one(docs, "CronJob")
    selector = policy["spec"]["podSelector"]["matchLabels"]
    for labels in (
        deployment["spec"]["template"]["metadata"]["labels"],
        cronjob["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"],
    ):
        assert selector.items() <= labels.items()
    dns, apiserver, jira = policy["spec"]["egress"]
    assert {p["port"] for p in dns["ports"]} == {53}
    assert apiserver["to"] == [{"ipBlock": {"cidr": "10.96.0.1/32"}}]
    block = jira["to"][0]["ipBlock"]
    assert block["cidr"] == "0.0.0.0/0" and {"169.254.0.0/16", "10.0.0.0/8", "127.0.0.0/8"} <= set(block["except"])
    assert [p["port"] for p in jira["ports"]] == [443]


def test_the_admins_allowlist_reaches_both_workloads_and_the_admission_policy(helm: Helm) -> None:
    docs = documents(
        helm.template(
            "--set",
            "allowedHosts={*.atlassian.net,jira.example.com}",
            "--api-versions",
            "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy",
        )
    )
    _, operator = _container(one(docs, "Deployment"))
    _, job = _container(one(docs, "CronJob"))
    for args in (operator["args"], job["args"]):
        assert "--allowed-hosts=*.atlassian.net,jira.example.com" in args
    policy = next(
        d for d in by_kind(docs, "ValidatingAdmissionPolicy") if d["metadata"]["name"].endswith("-tenant-hosts")
    )
    refused = next(v for v in policy["spec"]["variables"] if v["name"] == "refused")["expression"]
    assert "url(u).getHostname().endsWith('.atlassian.net')" in refused
    assert "url(u).getHostname() == 'jira.example.com'" in refused
    bad = _refused_render(helm, "allowedHosts={169.254.169.254}")
    assert "allowedHosts" in bad.stderr


def test_site_limits_reach_the_operator_and_default_to_the_codes(helm: Helm) -> None:
    def limit_args(*values: str) -> dict[str, str]:
        pod = one(documents(helm.template(*values)), "Deployment")["spec"]["template"]["spec"]
        args = pod["containers"][0]["args"]
        found = {a.split("=", 1)[0]: a.split("=", 1)[1] for a in args if a.startswith("--max-") or "deadline" in a}
        assert found.pop("--max-concurrent-captures") == "32"  # the operator's own default, not a site limit
        return found

    defaults = limit_args()
    assert defaults == {
        "--max-response-bytes": str(DEFAULT_LIMITS.max_body_bytes),
        "--max-depth": str(DEFAULT_LIMITS.max_depth),
        "--request-deadline": str(int(DEFAULT_LIMITS.request_deadline)),
        "--max-pages": str(DEFAULT_LIMITS.max_pages),
        "--max-wait": str(int(DEFAULT_LIMITS.max_wait)),
        "--listing-deadline": str(int(DEFAULT_LIMITS.listing_deadline)),
        "--max-capture-pages": str(DEFAULT_LIMITS.max_capture_pages),
        "--max-capture-items": str(DEFAULT_LIMITS.max_capture_items),
        "--capture-deadline": str(int(DEFAULT_LIMITS.capture_deadline)),
        "--max-inflight-bytes": str(DEFAULT_LIMITS.max_inflight_bytes),
        "--max-process-items": str(DEFAULT_LIMITS.max_process_items),
    }
    tight = limit_args(
        "--set", "operator.siteLimits.maxResponseBytes=1048576", "--set", "operator.siteLimits.maxWait=30"
    )
    assert tight["--max-response-bytes"] == "1048576" and tight["--max-wait"] == "30"


def test_the_s3_store_gets_its_settings_as_flags_and_its_keys_from_the_secret(helm: Helm) -> None:
    docs = documents(helm.template("-f", str(CHART / "ci" / "s3-store-values.yaml")))
    container = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert {
        "--store=s3",
        "--s3-bucket=jiradrift-snapshots",
        "--s3-endpoint=http://minio.storage.svc:9000",
        "--s3-region=eu-west-1",
        "--s3-prefix=prod/",
        "--s3-path-style",
    } <= set(container["args"])
    keys = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"] if e["name"].startswith("AWS_")}
    assert {k: (v["name"], v["key"], v.get("optional", False)) for k, v in keys.items()} == {
        "AWS_ACCESS_KEY_ID": ("jiradrift-s3", "AWS_ACCESS_KEY_ID", False),
        "AWS_SECRET_ACCESS_KEY": ("jiradrift-s3", "AWS_SECRET_ACCESS_KEY", False),
        "AWS_SESSION_TOKEN": ("jiradrift-s3", "AWS_SESSION_TOKEN", True),
    }
    assert not [v for v in container.get("volumeMounts", []) if v["mountPath"] == "/data"]
    # Nothing of the payload goes to the API server, so the operator gets no write verb on Secrets or ConfigMaps.
    rules = [r for d in by_kind(docs, "Role") + by_kind(docs, "ClusterRole") for r in d.get("rules") or []]
    assert rules
    assert all(set(r["verbs"]) <= {"get", "update"} for r in rules if "secrets" in r["resources"])
    assert not [r for r in rules if "configmaps" in r["resources"]]
    egress = _egress_policy(docs)["spec"]["egress"]
    assert {"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}], "ports": [{"protocol": "TCP", "port": 9000}]} in egress
    default = one(documents(helm.template()), "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert not [a for a in default["args"] if a.startswith("--s3-")]
    assert not [e for e in default["env"] if e["name"].startswith("AWS_")]


IRSA_ROLE = "arn:aws:iam::123456789012:role/jiradrift-snapshots"


def _s3_template(helm: Helm, *extra: str, check: bool = True) -> Any:
    base = ["--set", "operator.store.type=s3", "--set", "operator.store.s3.bucket=jiradrift-snapshots"]
    if not check:
        return helm.run("template", "drift", str(CHART), "--kube-version", "1.36.3", *base, *extra, check=False)
    return documents(helm.template(*base, *extra))


def test_the_s3_store_on_irsa_needs_only_the_service_account_annotation(helm: Helm) -> None:
    docs = _s3_template(
        helm, "--set", f"operator.serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn={IRSA_ROLE}"
    )
    account = next(d for d in by_kind(docs, "ServiceAccount") if "token" not in d["metadata"]["name"])
    assert account["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": IRSA_ROLE}
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account["metadata"]["name"]
    # No Secret mapped in: the EKS webhook injects AWS_WEB_IDENTITY_TOKEN_FILE / AWS_ROLE_ARN, which the operator reads.
    assert not [e for e in pod["containers"][0]["env"] if e["name"].startswith("AWS_")]


def test_the_s3_store_credentials_are_a_secret_or_the_pod_identity_not_neither_nor_both(helm: Helm) -> None:
    opted_in = _s3_template(helm, "--set", "operator.store.s3.webIdentity=true")  # annotated elsewhere
    assert not [
        e
        for e in one(opted_in, "Deployment")["spec"]["template"]["spec"]["containers"][0]["env"]
        if e["name"].startswith("AWS_")
    ]
    # An annotation on a ServiceAccount the chart does not create does not reach any pod: still refused.
    foreign = _s3_template(
        helm,
        "--set",
        "operator.serviceAccount.create=false",
        "--set",
        "operator.serviceAccount.name=existing",
        "--set",
        f"operator.serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn={IRSA_ROLE}",
        check=False,
    )
    assert foreign.returncode != 0 and "operator.store.s3.webIdentity=true" in foreign.stderr
    both = _s3_template(
        helm,
        "--set",
        "operator.store.s3.credentialsSecret=jiradrift-s3",
        "--set",
        "operator.store.s3.webIdentity=true",
        check=False,
    )
    assert both.returncode != 0 and "the Secret's access key would win; keep one" in both.stderr
