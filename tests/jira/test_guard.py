"""Read-only by construction: nothing but GET and allowlisted read-POSTs reaches the wire."""

from __future__ import annotations

import httpx
import pytest

from jiradrift.jira.auth import ApiTokenAuth
from jiradrift.jira.client import JiraClient
from jiradrift.jira.errors import ForeignHostRefused, WriteRefused
from jiradrift.jira.guard import ReadOnlyTransport, is_allowed
from jiradrift.jira.token_source import StaticAuthorization

BASE = "https://acme.atlassian.net/rest/api/3"


class RecordingTransport(httpx.AsyncBaseTransport):
    """Stands in for the network: records every request that would have left the process."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((request.method, str(request.url)))
        return httpx.Response(200, json={"ok": True})


def _client(wire: RecordingTransport) -> JiraClient:
    return JiraClient(
        api_base=BASE, token_source=StaticAuthorization(ApiTokenAuth("a@b.c", "t").header()), transport=wire
    )


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/rest/api/3/field"),
        ("POST", "/rest/api/3/workflows"),
        ("POST", "/ex/jira/abc/rest/api/3/workflowscheme/read"),
        ("POST", "/rest/api/2/field/customfield_10010/context/mapping"),
        ("POST", "/rest/api/3/permissions/check"),
        ("POST", "/rest/api/3/workflows/preview"),
    ],
)
def test_reads_are_allowed(method: str, path: str) -> None:
    assert is_allowed(method, path)


@pytest.mark.parametrize(
    "method,path",
    [
        ("PUT", "/rest/api/3/field/customfield_1"),
        ("DELETE", "/rest/api/3/workflows"),
        ("PATCH", "/rest/api/3/workflows"),
        ("HEAD", "/rest/api/3/field"),
        ("OPTIONS", "/rest/api/3/field"),
        ("POST", "/rest/api/3/workflows/create"),
        ("POST", "/rest/api/3/workflowscheme"),
        ("POST", "/rest/api/3/field"),
        ("POST", "/rest/api/3/issue"),
        ("POST", "/rest/api/3/workflows/../workflows/create"),
        ("POST", "/rest/api/3/workflows%2Fcreate"),
        ("POST", "/rest/api/3/field/x/context/mapping/extra"),
        ("POST", "/rest/api/3/issue/1/rest/api/3/workflows"),
    ],
)
def test_writes_are_not_allowed(method: str, path: str) -> None:
    assert not is_allowed(method, path)


async def test_no_write_leaves_the_client() -> None:
    wire = RecordingTransport()
    jira = _client(wire)
    async with jira:
        assert await jira.get_json("/field") == {"ok": True}
        assert await jira.post_read("/workflows", {"workflowIds": ["1"]}) == {"ok": True}
        with pytest.raises(WriteRefused, match="read-only"):
            await jira.post_read("/workflowscheme", {"name": "x"})
        for method in ("PUT", "DELETE", "PATCH", "POST"):
            with pytest.raises(WriteRefused):
                await jira._request(method, "/field/customfield_1", body={"name": "x"})
        # Even the raw httpx client underneath cannot send a write: the transport refuses it.
        with pytest.raises(WriteRefused):
            await jira._http.delete(BASE + "/workflows")
        with pytest.raises(WriteRefused):
            await jira._http.request("PUT", BASE + "/screens/1", json={})
    assert wire.sent == [("GET", BASE + "/field"), ("POST", BASE + "/workflows")]
    assert jira.stats.writes_refused == 5
    assert jira.stats.requests_total == 2


async def test_requests_to_other_hosts_are_refused() -> None:
    wire = RecordingTransport()
    async with _client(wire) as jira:
        with pytest.raises(ForeignHostRefused, match="only talks to"):
            await jira.get_json("https://evil.example.com/rest/api/3/field")
    assert wire.sent == []


async def test_transport_alone_refuses_writes() -> None:
    wire = RecordingTransport()
    guarded = ReadOnlyTransport(wire)
    async with httpx.AsyncClient(transport=guarded) as http:
        with pytest.raises(WriteRefused):
            await http.post("https://acme.atlassian.net/rest/api/3/issue", json={})
        response = await http.get("https://acme.atlassian.net/rest/api/3/field")
    assert response.status_code == 200
    assert guarded.refused == 1
    assert wire.sent == [("GET", "https://acme.atlassian.net/rest/api/3/field")]
