"""A rotated refresh token survives an API-server outage: it is persisted once the server is back.

Atlassian rotates the refresh token on every use and accepts the spent one for 10 minutes only; a
rotated token that never reaches the Secret is lost, and once the window closes the next refresh
presents the spent token and the whole grant is revoked (a person must consent again). This test
stops kube-apiserver (etcd keeps running) for two minutes right after the token endpoint answered,
on a control plane of its own so no other test sees the outage.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from tokenlib import EMULATOR, create_secret, create_tenant, oauth_secret, secret_values, soon

from jiradrift.dev.controlplane import ControlPlane, install_crds
from jiradrift.kube.client import Kube
from jiradrift.sim.clock import ManualClock
from jiradrift.sim.emulator import RunningEmulator
from jiradrift.sim.errors import OAuthError as SimOAuthError
from jiradrift.sim.oauth import REUSE_WINDOW_S
from jiradrift.tokens import Outcome, TokenRefresher

pytestmark = pytest.mark.k8s

OUTAGE_SECONDS = 120.0


@pytest.fixture
def own_plane(tmp_path: Path) -> Iterator[ControlPlane]:
    """A control plane for this test alone: its API server is stopped and started again."""
    with ControlPlane.start(tmp_path / "plane") as plane:
        install_crds(plane, tmp_path / "crds")
        yield plane


async def test_rotated_token_is_persisted_after_a_two_minute_api_server_outage_and_the_grant_survives(
    own_plane: ControlPlane, jira_sim_factory: object, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock()
    sim: RunningEmulator = jira_sim_factory(clock=clock)  # type: ignore[operator]
    api = k8s_config.new_client_from_config(config_file=str(own_plane.kubeconfig))
    k8s.CoreV1Api(api).create_namespace({"metadata": {"name": "outage"}})
    ns = "outage"
    spent = sim.oauth.create_grant()
    create_secret(api, ns, "acme-creds", oauth_secret(sim, spent, expires_at=soon(1)))
    tenant = create_tenant(api, ns, "acme", sim)

    stopped = asyncio.Event()

    async def outage_after_the_token_endpoint_answers(response: httpx.Response) -> None:
        if response.request.url.path.endswith("/oauth/token") and response.status_code == 200 and not stopped.is_set():
            await asyncio.to_thread(own_plane.stop_apiserver)
            stopped.set()

    async def restart_after_the_outage() -> None:
        await stopped.wait()
        await asyncio.sleep(OUTAGE_SECONDS)  # the outage itself, not a wait for a result
        await asyncio.to_thread(own_plane.restart_apiserver)

    caplog.set_level(logging.INFO, logger="jiradrift.tokens")
    async with await Kube.connect(own_plane.kubeconfig) as kube:
        async with httpx.AsyncClient(event_hooks={"response": [outage_after_the_token_endpoint_answers]}) as http:
            refresher = TokenRefresher(kube, http=http, allowlist=EMULATOR)
            restarter = asyncio.create_task(restart_after_the_outage())
            result = await asyncio.wait_for(refresher.refresh(tenant, window=timedelta(minutes=5)), timeout=600)
            await restarter

        assert stopped.is_set(), "the API server was stopped during the refresh"
        assert result.outcome is Outcome.REFRESHED, result.message
        stored = secret_values(api, ns, "acme-creds")
        rotated = stored["refresh_token"]
        assert rotated != spent, "the rotated refresh token reached the Secret"
        assert result.state is not None and stored["access_token"] == result.state.access_token
        grant = sim.oauth.grant_of_refresh_token(spent)
        assert grant is not None and rotated in grant.refresh_tokens, "the emulator issued what was stored"

        failures = [r.getMessage() for r in caplog.records if "could not save the new token" in r.getMessage()]
        assert len(failures) >= 2, "each failed write during the outage is logged"
        logged = "\n".join(r.getMessage() for r in caplog.records)
        assert rotated not in logged and result.state.access_token not in logged, "no token in the logs"

        # The reuse window of the spent token closes: the grant lives on through the stored token.
        clock.advance(REUSE_WINDOW_S + 60)
        async with httpx.AsyncClient() as http:
            again = await TokenRefresher(kube, http=http, allowlist=EMULATOR).refresh(
                tenant, window=timedelta(hours=24)
            )
        assert again.outcome is Outcome.REFRESHED, again.message
        assert not grant.revoked
        assert secret_values(api, ns, "acme-creds")["refresh_token"] not in (spent, rotated)
        # The spent token, presented now (what a lost rotation would have led to), is refused.
        form = {
            "grant_type": "refresh_token",
            "client_id": sim.credentials.client_id,
            "client_secret": sim.credentials.client_secret,
            "refresh_token": spent,
        }
        with pytest.raises(SimOAuthError, match="invalid"):
            sim.oauth.token(form)
    api.close()
