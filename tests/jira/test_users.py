"""Display names of the audit log's account ids (jira/users.py), read from the emulator over HTTP:
once per site (the cache), bounded and expiring, and never a failure: a hidden e-mail stays hidden,
a deleted account or a failed lookup shows the account id alone."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from jiradrift.jira.audit import AuditEntry
from jiradrift.jira.auth import ApiTokenAuth
from jiradrift.jira.client import JiraClient
from jiradrift.jira.users import JiraUser, UserDirectory
from jiradrift.sim import RunningEmulator
from jiradrift.sim.users import ADMIN, BOB, GONE_ACCOUNT_ID, DirectoryUser

BULK = "GET /rest/api/3/user/bulk"
EVERYONE = {ADMIN.account_id, BOB.account_id, GONE_ACCOUNT_ID}


@pytest.fixture
async def client(jira_sim: RunningEmulator) -> AsyncIterator[JiraClient]:
    creds = jira_sim.credentials
    async with await JiraClient.connect(jira_sim.base_url, ApiTokenAuth(creds.email, creds.api_token)) as c:
        yield c


async def test_names_are_read_once_per_site(jira_sim: RunningEmulator, client: JiraClient) -> None:
    directory = UserDirectory()
    site = jira_sim.base_url
    users = await directory.resolve(client, site, [*EVERYONE, ""])
    assert users[ADMIN.account_id] == JiraUser(ADMIN.account_id, "Alice Admin", "")  # e-mail hidden
    assert users[BOB.account_id] == JiraUser(BOB.account_id, "Bob Builder", "bob@example.com")
    assert users[GONE_ACCOUNT_ID] == JiraUser(GONE_ACCOUNT_ID)  # deleted: the account id alone
    assert users[ADMIN.account_id].label() == f"Alice Admin ({ADMIN.account_id})"
    assert users[GONE_ACCOUNT_ID].label() == GONE_ACCOUNT_ID
    asked = jira_sim.requests.count(BULK)
    assert asked == 1
    again = await directory.resolve(client, site, EVERYONE)
    assert again == users and jira_sim.requests.count(BULK) == asked  # all cached, the deleted one too
    await directory.resolve(client, "https://other.example.test", [ADMIN.account_id])
    assert jira_sim.requests.count(BULK) == asked + 1  # per site: another site's answer is not this one's


async def test_the_cache_is_bounded_and_expires(jira_sim: RunningEmulator, client: JiraClient) -> None:
    now = [0.0]
    directory = UserDirectory(max_entries=2, ttl_seconds=60, clock=lambda: now[0])
    site = jira_sim.base_url
    await directory.resolve(client, site, EVERYONE)
    assert len(directory) == 2  # the least recently used went out
    before = jira_sim.requests.count(BULK)
    await directory.resolve(client, site, [BOB.account_id, GONE_ACCOUNT_ID])  # the two kept
    assert jira_sim.requests.count(BULK) == before
    now[0] = 61.0
    await directory.resolve(client, site, [BOB.account_id])
    assert jira_sim.requests.count(BULK) == before + 1  # expired: asked again


async def test_a_failed_lookup_shows_the_ids_and_is_asked_again(jira_sim: RunningEmulator, client: JiraClient) -> None:
    directory = UserDirectory()
    site = jira_sim.base_url
    jira_sim.faults.fail_object("/rest/api/3/user/bulk", status=403, times=1)  # no Browse users permission
    users = await directory.resolve(client, site, [ADMIN.account_id])
    assert users == {ADMIN.account_id: JiraUser(ADMIN.account_id)}
    assert len(directory) == 0  # a failure is not remembered
    jira_sim.faults.trickle(seconds=5.0, path="/rest/api/3/user/bulk", times=1)
    slow = await directory.resolve(client, site, [ADMIN.account_id], timeout=0.5)
    assert slow == {ADMIN.account_id: JiraUser(ADMIN.account_id)}
    named = await directory.resolve(client, site, [ADMIN.account_id])
    assert named[ADMIN.account_id].display_name == "Alice Admin"


def test_an_audit_entry_names_its_author_beside_the_account_id() -> None:
    entry = AuditEntry("Workflow updated", ADMIN.account_id, "2026-01-01T00:00:00.000+0000", "W", "WORKFLOW", "1")
    assert entry.describe() == f"'Workflow updated' by {ADMIN.account_id} at 2026-01-01T00:00:00.000+0000"
    named = entry.named(JiraUser(ADMIN.account_id, "Alice Admin"))
    assert named.describe() == (
        f"'Workflow updated' by Alice Admin ({ADMIN.account_id}) at 2026-01-01T00:00:00.000+0000"
    )
    assert entry.named(JiraUser("someone-else", "Mallory")) == entry  # never another account's name
    assert entry.named(None) == entry


async def test_a_hostile_name_is_cut_and_stripped(jira_sim: RunningEmulator, client: JiraClient) -> None:
    evil = DirectoryUser("evil-1", "Eve\n\x1b[31m" + "x" * 1000, "eve@example.com\r\nBcc: all@example.com")
    jira_sim.site.users[evil.account_id] = evil
    user = (await UserDirectory().resolve(client, jira_sim.base_url, [evil.account_id]))[evil.account_id]
    assert "\n" not in user.display_name and "\x1b" not in user.display_name and len(user.display_name) <= 128
    assert "\r" not in user.email and "\n" not in user.email
