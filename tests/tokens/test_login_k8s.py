"""``jiradrift auth login``: the 3LO consent against the emulator's /authorize, with a loopback callback."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from kubernetes import client as k8s
from tokenlib import (
    EMULATOR,
    condition,
    create_secret,
    create_tenant,
    get_secret,
    get_tenant,
    patch_secret,
    secret_values,
)

from jiradrift.dev.controlplane import ControlPlane
from jiradrift.kube.client import Kube
from jiradrift.sim.emulator import RunningEmulator
from jiradrift.tokens import ensure_fresh_token
from jiradrift.tokens.login import LoginError, LoginResult, login
from jiradrift.tokens.scopes import GRANULAR_READ_SCOPES
from jiradrift.tokens.secret import REAUTH_ANNOTATION, credentials_fingerprint

pytestmark = pytest.mark.k8s


async def consent(url: str) -> httpx.Response:
    """What the admin's browser does: open the authorize URL, follow the redirect to the callback."""
    async with httpx.AsyncClient(follow_redirects=True, timeout=10) as browser:
        return await browser.get(url)


async def start_login(
    kube: Kube, ns: str, sim: RunningEmulator, *, timeout: float
) -> tuple[asyncio.Task[LoginResult], str]:
    """Start ``login`` for ``ns/acme`` and return it with the authorize URL it announced."""
    urls: list[str] = []
    task = asyncio.create_task(
        login(
            kube,
            ns,
            "acme",
            client_id=sim.credentials.client_id,
            client_secret=sim.credentials.client_secret,
            port=0,
            announce=urls.append,
            timeout=timeout,
            allowlist=EMULATOR,
        )
    )
    for _ in range(500):
        if urls or task.done():
            break
        await asyncio.sleep(0.02)
    assert urls, "login announced no URL"
    return task, urls[0]


async def test_login_writes_the_secret_and_the_token_refreshes(
    kube: Kube, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: RunningEmulator
) -> None:
    ns, sim = k8s_namespace, jira_sim
    create_tenant(k8s_api, ns, "acme", sim)
    task, url = await start_login(kube, ns, sim, timeout=30)
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(f"{sim.base_url}/authorize?")
    assert query["redirect_uri"][0].startswith("http://127.0.0.1:") and query["redirect_uri"][0].endswith("/callback")
    assert set(query["scope"][0].split()) == {*GRANULAR_READ_SCOPES, "offline_access"}
    assert query["response_type"] == ["code"] and len(query["state"][0]) >= 20

    page = await consent(url)
    result = await asyncio.wait_for(task, 30)

    assert page.status_code == 200 and "authorised" in page.text
    assert result.created and result.secret == f"{ns}/acme-creds" and not result.write_scopes
    stored = secret_values(k8s_api, ns, "acme-creds")
    assert stored["client_id"] == sim.credentials.client_id
    assert sim.oauth.grant_of_refresh_token(stored["refresh_token"]) is not None
    assert sim.oauth.access_token(stored["access_token"]) is not None
    assert "offline_access" in stored["scope"].split()
    tenant = get_tenant(k8s_api, ns, "acme")
    assert condition(tenant, "TokenFresh")["status"] == "True"
    assert tenant["status"]["token"]["scopesReadOnly"] is True

    state = await ensure_fresh_token(kube, tenant, window=timedelta(hours=2), allowlist=EMULATOR)  # 1 h token: refresh
    assert state.refreshed and secret_values(k8s_api, ns, "acme-creds")["refresh_token"] != stored["refresh_token"]


async def test_login_refuses_a_callback_with_the_wrong_state(
    kube: Kube, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: RunningEmulator
) -> None:
    ns, sim = k8s_namespace, jira_sim
    create_tenant(k8s_api, ns, "acme", sim)
    task, url = await start_login(kube, ns, sim, timeout=1.5)
    redirect = parse_qs(urlsplit(url).query)["redirect_uri"][0]
    async with httpx.AsyncClient() as attacker:
        forged = await attacker.get(redirect, params={"code": "stolen", "state": "guess"})
    assert forged.status_code == 400
    with pytest.raises(LoginError, match="no callback within"):
        await task
    assert sim.requests.count("POST /oauth/token") == 0


def test_cli_login_replaces_revoked_credentials(
    control_plane: ControlPlane, k8s_api: k8s.ApiClient, k8s_namespace: str, jira_sim: RunningEmulator
) -> None:
    """The command an admin runs: client id from the existing Secret, secret from the environment."""
    ns, sim = k8s_namespace, jira_sim
    old = {
        "client_id": sim.credentials.client_id,
        "client_secret": sim.credentials.client_secret,
        "refresh_token": "rt-revoked",
    }
    create_secret(k8s_api, ns, "acme-creds", old)
    patch_secret(
        k8s_api,
        ns,
        "acme-creds",
        {
            "metadata": {
                "annotations": {
                    REAUTH_ANNOTATION: credentials_fingerprint(
                        old["client_id"], old["client_secret"], old["refresh_token"]
                    )
                }
            }
        },
    )
    create_tenant(k8s_api, ns, "acme", sim)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jiradrift",
            "auth",
            "login",
            "--tenant",
            "acme",
            "-n",
            ns,
            "--port",
            "0",
            "--kubeconfig",
            str(control_plane.kubeconfig),
            "--timeout",
            "30",
            "--allowed-hosts",
            str(EMULATOR),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "JIRADRIFT_CLIENT_SECRET": sim.credentials.client_secret},
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith(f"{sim.base_url}/authorize?"), url
        response = httpx.get(url, follow_redirects=True, timeout=10)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert response.status_code == 200
    assert proc.returncode == 0, err
    assert f"Secret {ns}/acme-creds updated" in out
    stored = secret_values(k8s_api, ns, "acme-creds")
    assert stored["refresh_token"] != "rt-revoked"
    assert REAUTH_ANNOTATION not in (get_secret(k8s_api, ns, "acme-creds")["metadata"].get("annotations") or {})
    assert stored["refresh_token"] not in out + err and stored["access_token"] not in out + err
