"""The emulator's users: ``GET /user`` and ``/user/bulk`` as Jira answers them (e-mail hidden or
shown, 404 / left out for a deleted account), and ``Admin.act_as`` naming the audit log's author."""

from __future__ import annotations

import httpx

from jiradrift.sim import RunningEmulator
from jiradrift.sim.users import ADMIN, BOB, GONE_ACCOUNT_ID


def _get(sim: RunningEmulator, path: str, **params: object) -> httpx.Response:
    return httpx.get(
        sim.api_url + path,
        params=params,  # type: ignore[arg-type]
        auth=(sim.credentials.email, sim.credentials.api_token),
    )


def test_a_user_is_read_by_account_id_with_the_email_only_when_shown(jira_sim: RunningEmulator) -> None:
    admin = _get(jira_sim, "/user", accountId=ADMIN.account_id).json()
    assert admin["displayName"] == "Alice Admin" and "emailAddress" not in admin
    bob = _get(jira_sim, "/user", accountId=BOB.account_id).json()
    assert bob["displayName"] == "Bob Builder" and bob["emailAddress"] == "bob@example.com"
    gone = _get(jira_sim, "/user", accountId=GONE_ACCOUNT_ID)
    assert gone.status_code == 404 and gone.json()["errorMessages"]
    assert _get(jira_sim, "/user").status_code == 400


def test_the_bulk_read_pages_and_leaves_unknown_accounts_out(jira_sim: RunningEmulator) -> None:
    ids = [ADMIN.account_id, GONE_ACCOUNT_ID, BOB.account_id]
    first = _get(jira_sim, "/user/bulk", accountId=ids, maxResults=1).json()
    assert [u["accountId"] for u in first["values"]] == [ADMIN.account_id] and first["isLast"] is False
    rest = _get(jira_sim, "/user/bulk", accountId=ids, startAt=1).json()
    assert [u["accountId"] for u in rest["values"]] == [BOB.account_id] and rest["isLast"] is True
    assert _get(jira_sim, "/user/bulk").status_code == 400


def test_act_as_names_the_author_of_the_next_mutations(jira_sim: RunningEmulator) -> None:
    workflow = jira_sim.site.workflows[0]
    jira_sim.admin.act_as(BOB.account_id)
    jira_sim.admin.change_workflow(workflow["id"], description="by Bob")
    newest = _get(jira_sim, "/auditing/record", limit=1).json()["records"][0]
    assert newest["authorKey"] == BOB.account_id
