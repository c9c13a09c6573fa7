"""Upgrade from the previous release and roll back, on the node, both releases from the registry.

The previous release is built from this tree with a lower version (a copy stamped by
``tools/release/stamp.sh``, its image built from the Dockerfile, pushed, signed, the chart pinned to it,
pushed and signed), as the release workflow would have published it. An admin verifies each release's
signatures before installing it, installs the previous one, lets tenants capture and accepts a
baseline, ``helm upgrade``s to this tree's release, then ``helm rollback``s. Through both, every
tenant, Snapshot, accepted baseline and schedule window is kept, and no window is lost or captured
twice: each (tenant, type) has exactly one Scheduled Snapshot for every window from its first to the
current one, and the version that runs at the end captures the current window.

The tests run in file order and share one release.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from tests.plugins.node import Published, ReleaseTools, forget_crds, publish, source_tree
from tests.plugins.registry import Registry

from jiradrift import __version__
from jiradrift.api.credentials import ALLOWED_TENANTS_ANNOTATION
from jiradrift.api.resources import GROUP, VERSION
from jiradrift.dev.node import Cluster, build_operator_image
from jiradrift.dev.tls_jira import TlsJira, chart_values

pytestmark = pytest.mark.k8s

T = TypeVar("T")
PREVIOUS = "0.0.9"
RELEASE = "jdu"
NS = "jiradrift-upgrade"
INTERVAL = timedelta(minutes=5)  # the shortest schedule the CRD admits
TENANTS = {"acme": ["workflows", "priorities"], "beta": ["priorities"]}
ACCEPTED = f"{GROUP}/accepted"


def wait_until(check: Callable[[], T | None], what: str, timeout: float, describe: Callable[[], str]) -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not after {timeout:.0f}s. Last seen:\n{describe()}")
        time.sleep(0.5)


@dataclass
class Admin:
    cluster: Cluster
    tools: ReleaseTools
    jira: TlsJira
    previous: Published
    current: Published

    def kubectl(self, *args: str, check: bool = True, input: str | None = None) -> str:
        return self.cluster.plane.kubectl(*args, check=check, input=input).stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json"))

    def helm(self, *args: str) -> str:
        return self.cluster.plane.helm(*args).stdout

    def values(self, release: Published) -> list[str]:
        return [
            *release.helm_source(self.tools),
            *("--namespace", NS),
            *chart_values(self.jira, f"{release.image_repository}:{release.version}"),
            *("--set", "image.pullPolicy=IfNotPresent", "--set", f"fullnameOverride={RELEASE}"),
            *("--set", "operator.livenessProbe.initialDelaySeconds=5", "--wait", "--timeout=180s"),
        ]

    def pods(self) -> list[dict[str, Any]]:
        pods: list[dict[str, Any]] = self.json(
            "get", "pods", "-n", NS, "-l", f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/component=operator"
        )["items"]
        return pods

    def snapshots(self) -> list[dict[str, Any]]:
        snaps: list[dict[str, Any]] = self.json("get", "snapshots", "-n", NS)["items"]
        return snaps

    def describe(self) -> str:
        return (
            self.kubectl("get", "pods,jiratenants,snapshots", "-n", NS, "-o", "wide", check=False)
            + self.kubectl("get", "events", "-n", NS, "--sort-by=.lastTimestamp", check=False)[-3000:]
            + self.kubectl("logs", "-n", NS, "deploy/" + RELEASE, "--tail=40", check=False)
        )

    def running(self, release: Published, not_uid: str | None = None) -> dict[str, Any]:
        """Wait until the only operator pod runs ``release``'s image by digest and is Ready."""

        def ready() -> dict[str, Any] | None:
            pods = self.pods()
            if len(pods) != 1 or pods[0]["metadata"]["uid"] == not_uid:
                return None
            statuses = pods[0]["status"].get("containerStatuses") or [{}]
            return pods[0] if statuses[0].get("ready") else None

        pod = wait_until(ready, f"the operator pod of {release.version} Ready", 180, self.describe)
        assert pod["spec"]["containers"][0]["image"] == release.image
        imported = pod["status"]["containerStatuses"][0]["imageID"]
        assert imported == f"{release.image_repository}@{release.image_digest}", imported
        said = self.kubectl("exec", "-n", NS, pod["metadata"]["name"], "--", "jiradrift", "--version")
        assert release.version in said, said
        return pod


def _condition(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c["type"] == type_:
            return dict(c)
    return {}


def _window(when: datetime) -> datetime:
    step = int(INTERVAL.total_seconds())
    return datetime.fromtimestamp(int(when.timestamp()) // step * step, UTC)


def _state(admin: Admin) -> dict[str, Any]:
    """What must survive: tenants (and their specs), Snapshots (name, tenant, type, reason, window,
    phase, accepted) and each tenant's Drifted reason."""
    tenants = admin.json("get", "jiratenants", "-n", NS)["items"]
    return {
        "tenants": {t["metadata"]["name"]: (t["metadata"]["uid"], t["spec"]) for t in tenants},
        "snapshots": {
            s["metadata"]["name"]: (
                s["metadata"]["uid"],
                s["spec"]["tenantRef"]["name"],
                s["spec"]["type"],
                s["spec"].get("reason"),
                s["spec"].get("windowStart"),
                (s.get("status") or {}).get("phase"),
                (s["metadata"].get("labels") or {}).get(ACCEPTED),
            )
            for s in admin.snapshots()
        },
    }


def _scheduled_windows(admin: Admin) -> dict[tuple[str, str], list[str]]:
    """Each (tenant, type)'s Scheduled Snapshots' windows, in order, duplicates kept."""
    out: dict[tuple[str, str], list[str]] = {(t, ty): [] for t, types in TENANTS.items() for ty in types}
    for s in admin.snapshots():
        if s["spec"].get("reason") == "Scheduled":
            out[(s["spec"]["tenantRef"]["name"], s["spec"]["type"])].append(s["spec"]["windowStart"])
    return {k: sorted(v) for k, v in out.items()}


def _assert_every_window_once(admin: Admin) -> None:
    """From each (tenant, type)'s first window to the current one: one Scheduled Snapshot per window."""
    now = _window(datetime.now(UTC))
    for key, windows in _scheduled_windows(admin).items():
        assert len(windows) == len(set(windows)), f"{key}: a window captured twice: {windows}"
        parsed = [datetime.fromisoformat(w.replace("Z", "+00:00")) for w in windows]
        expected, at = [], parsed[0]
        while at <= now:
            expected.append(at)
            at += INTERVAL
        assert parsed == expected or parsed == expected[:-1], f"{key}: windows {windows}, expected {expected}"


@pytest.fixture(scope="module")
def previous(
    release_tools: ReleaseTools, node_registry: Registry, tmp_path_factory: pytest.TempPathFactory
) -> Published:
    """The previous release: this tree stamped PREVIOUS, its own image built, pushed, signed; its chart too."""
    source = source_tree(PREVIOUS, tmp_path_factory.mktemp("release-previous") / "repo")
    tarball, _ = build_operator_image(source)
    return publish(release_tools, node_registry, source, PREVIOUS, tarball)


@pytest.fixture(scope="module")
def admin(
    node_cluster: Cluster, release_tools: ReleaseTools, tls_jira: TlsJira, previous: Published, published: Published
) -> Iterator[Admin]:
    assert previous.version != published.version == __version__
    forget_crds(node_cluster)
    admin = Admin(node_cluster, release_tools, tls_jira, previous, published)
    admin.kubectl("create", "namespace", NS)
    admin.kubectl("create", "configmap", "jira-ca", "-n", NS, f"--from-literal=ca.crt={tls_jira.ca_pem}")
    creds = tls_jira.sim.credentials
    admin.kubectl(
        "create", "secret", "generic", "jira", "-n", NS,
        f"--from-literal=email={creds.email}", f"--from-literal=token={creds.api_token}",
    )  # fmt: skip
    admin.kubectl("annotate", "secret", "-n", NS, "jira", f"{ALLOWED_TENANTS_ANNOTATION}={','.join(TENANTS)}")
    yield admin
    admin.helm("uninstall", RELEASE, "--namespace", NS, "--ignore-not-found")
    admin.kubectl("delete", "namespace", NS, "--wait=false", check=False)
    forget_crds(node_cluster)


@pytest.mark.timeout(1500)  # builds the previous release's image (cached by its build context)
def test_the_previous_release_runs_tenants_and_an_accepted_baseline(admin: Admin) -> None:
    previous = admin.previous
    assert previous.verify(admin.tools) == (previous.image_digest, previous.chart_digest)
    admin.helm("install", RELEASE, *admin.values(previous))
    admin.running(previous)
    for name, types in TENANTS.items():
        admin.kubectl(
            "apply",
            "-f",
            "-",
            input=json.dumps(
                {
                    "apiVersion": f"{GROUP}/{VERSION}",
                    "kind": "JiraTenant",
                    "metadata": {"name": name, "namespace": NS},
                    "spec": {
                        "site": admin.jira.url,
                        "auth": {"apiToken": {"secretRef": {"name": "jira"}}},
                        "snapshotTypes": types,
                        # full captures only: the test accepts a manual Snapshot taken right after a
                        # change, and an incremental window (on by default) may report it first
                        "schedule": {"interval": "5m", "incremental": {"enabled": False}},
                    },
                }
            ),
        )

    def first_windows() -> bool:
        done = [s for s in admin.snapshots() if (s.get("status") or {}).get("phase") == "Completed"]
        return len(done) >= sum(map(len, TENANTS.values()))

    wait_until(first_windows, "every tenant's first window Completed", 180, admin.describe)
    # A change in Jira, captured by hand, and accepted as the new baseline of acme's workflows.
    workflow = next(w for w in admin.jira.sim.site.workflows if w["scope"]["type"] == "GLOBAL")
    admin.jira.sim.admin.change_workflow(workflow["id"], description="Changed before the upgrade")
    admin.kubectl(
        "apply",
        "-f",
        "-",
        input=json.dumps(
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "Snapshot",
                "metadata": {"name": "acme-before-upgrade", "namespace": NS},
                "spec": {"tenantRef": {"name": "acme"}, "type": "workflows"},
            }
        ),
    )
    wait_until(
        lambda: (
            (admin.json("get", "snapshot", "-n", NS, "acme-before-upgrade").get("status") or {}).get("phase")
            == "Completed"
        ),
        "the manual Snapshot Completed",
        240,
        admin.describe,
    )
    admin.kubectl("label", "snapshot", "-n", NS, "acme-before-upgrade", f"{ACCEPTED}=true", "--overwrite")
    wait_until(
        lambda: (
            _condition(admin.json("get", "jiratenant", "-n", NS, "acme"), "Drifted").get("reason") == "MatchesAccepted"
        ),
        "acme matches its accepted baseline",
        240,  # under a loaded machine the operator pod re-evaluates Drifted after its next tick
        admin.describe,
    )
    accepted = {
        (s["spec"]["tenantRef"]["name"], s["spec"]["type"]): s["metadata"]["name"]
        for s in sorted(admin.snapshots(), key=lambda s: s["metadata"]["creationTimestamp"])
        if (s["metadata"].get("labels") or {}).get(ACCEPTED) == "true"
    }
    assert accepted.keys() == {(t, ty) for t, types in TENANTS.items() for ty in types}, accepted
    assert accepted[("acme", "workflows")] == "acme-before-upgrade", accepted
    _assert_every_window_once(admin)


def _kept(admin: Admin, before: dict[str, Any]) -> None:
    """Everything in ``before`` is still there, unchanged; what is new is only Scheduled Snapshots of
    later windows; and each (tenant, type) has every window once."""
    after = _state(admin)
    assert after["tenants"] == before["tenants"]
    for name, snap in before["snapshots"].items():
        assert after["snapshots"].get(name) == snap, (name, snap, after["snapshots"].get(name))
    latest: dict[tuple[str, str], str] = {}
    for _, tenant, type_, _, window, _, _ in before["snapshots"].values():
        if window:
            latest[(tenant, type_)] = max(window, latest.get((tenant, type_), ""))
    for name in after["snapshots"].keys() - before["snapshots"].keys():
        _, tenant, type_, reason, window, _, _ = after["snapshots"][name]
        assert reason == "Scheduled" and window > latest[(tenant, type_)], (name, after["snapshots"][name])
    for name in TENANTS:
        drifted = _condition(admin.json("get", "jiratenant", "-n", NS, name), "Drifted")
        assert drifted.get("reason") == "MatchesAccepted", (name, drifted)
    _assert_every_window_once(admin)


def _settled(admin: Admin) -> dict[str, Any]:
    """The state once no capture is in flight (every Snapshot has a final phase)."""

    def settled() -> dict[str, Any] | None:
        state = _state(admin)
        final = ("Completed", "Incomplete", "Failed")
        return state if all(s[5] in final for s in state["snapshots"].values()) else None

    return wait_until(settled, "no capture in flight", 120, admin.describe)


def test_helm_upgrade_to_this_release_keeps_everything(admin: Admin) -> None:
    current = admin.current
    before = _settled(admin)
    (old,) = admin.pods()
    assert current.verify(admin.tools) == (current.image_digest, current.chart_digest)
    admin.helm("upgrade", RELEASE, *admin.values(current))
    admin.running(current, not_uid=old["metadata"]["uid"])
    _kept(admin, before)
    history = json.loads(admin.helm("history", RELEASE, "-n", NS, "-o", "json"))
    assert [(h["revision"], h["app_version"]) for h in history] == [(1, PREVIOUS), (2, current.version)]


def test_helm_rollback_keeps_everything_and_the_schedule_goes_on(admin: Admin) -> None:
    before = _settled(admin)
    (old,) = admin.pods()
    admin.helm("rollback", RELEASE, "1", "-n", NS, "--wait", "--timeout=180s")
    admin.running(admin.previous, not_uid=old["metadata"]["uid"])
    _kept(admin, before)
    # The version running now captures the current window of every (tenant, type): none lost.
    now = _window(datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def current_window() -> bool:
        done = {
            (s["spec"]["tenantRef"]["name"], s["spec"]["type"])
            for s in admin.snapshots()
            if s["spec"].get("reason") == "Scheduled"
            and s["spec"]["windowStart"] >= now
            and (s.get("status") or {}).get("phase") == "Completed"
        }
        return done == {(t, ty) for t, types in TENANTS.items() for ty in types}

    wait_until(current_window, f"the window {now} captured for every (tenant, type)", 120, admin.describe)
    _kept(admin, before)
    secret = admin.json("get", "secret", "-n", NS, "jira")
    assert base64.b64decode(secret["data"]["token"]).decode() == admin.jira.sim.credentials.api_token
