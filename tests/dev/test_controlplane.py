"""The harness itself: a real API server, users for RBAC, nothing left running."""

from __future__ import annotations

import json
import os

import pytest

from jiradrift.dev.controlplane import ControlPlane
from jiradrift.dev.operator_process import wait_for

pytestmark = pytest.mark.k8s


def test_server_reports_a_real_version(control_plane: ControlPlane) -> None:
    version = json.loads(control_plane.kubectl("version", "-o", "json").stdout)
    assert version["serverVersion"]["gitVersion"].startswith("v1.36.")
    assert version["serverVersion"]["minor"] == "36"


def test_minted_users_are_subject_to_rbac(control_plane: ControlPlane, k8s_namespace: str) -> None:
    alice = control_plane.user_kubeconfig("alice", ["devs"])
    denied = control_plane.kubectl("get", "secrets", "-n", k8s_namespace, kubeconfig=alice, check=False)
    assert denied.returncode != 0 and "forbidden" in denied.stderr.lower()
    control_plane.kubectl(
        "create", "role", "read-secrets", "--verb=get,list", "--resource=secrets", "-n", k8s_namespace
    )
    control_plane.kubectl("create", "rolebinding", "alice", "--role=read-secrets", "--group=devs", "-n", k8s_namespace)

    def alice_may_list_secrets() -> bool:
        answer = control_plane.kubectl(
            "auth", "can-i", "list", "secrets", "-n", k8s_namespace, kubeconfig=alice, check=False
        ).stdout.strip()
        assert answer == "yes", f"kubectl auth can-i said {answer!r}"
        return True

    # The authorizer sees a new binding through its own watch, a moment after it is created.
    wait_for(alice_may_list_secrets, "alice may list secrets through the group binding", timeout=60)
    sa = control_plane.service_account_kubeconfig(k8s_namespace, "op")
    whoami = json.loads(control_plane.kubectl("auth", "whoami", "-o", "json", kubeconfig=sa).stdout)
    assert whoami["status"]["userInfo"]["username"] == f"system:serviceaccount:{k8s_namespace}:op"


def test_teardown_leaves_no_process(tmp_path: object) -> None:
    with ControlPlane.start() as plane:
        pids = [p.pid for p in plane._procs]
        assert len(pids) == 2
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
