"""An unmodified, popular Jira client library reads the emulator and gets the expected objects."""

from __future__ import annotations

import pytest

from jira import JIRA
from jiradrift.sim import SIZES, Emulator


@pytest.mark.parametrize("size", SIZES)
def test_jira_library_reads_config_objects(size: str) -> None:
    with Emulator(size=size, seed=3).running() as sim:
        client = JIRA(
            server=sim.base_url,
            basic_auth=(sim.credentials.email, sim.credentials.api_token),
            timeout=30,
            max_retries=0,
        )
        site = sim.site
        assert {f["id"] for f in client.fields()} == {f["id"] for f in site.fields}
        assert [p.key for p in client.projects()] == [p["key"] for p in site.projects]
        assert [p.name for p in client.priorities()] == [p["name"] for p in site.priorities]
        assert [r.name for r in client.resolutions()] == [r["name"] for r in site.resolutions]
        assert [t.id for t in client.issue_types()] == [t["id"] for t in site.issue_types]
        assert [s.name for s in client.statuses()] == [s["name"] for s in site.statuses]
        first = site.projects[0]
        assert client.project(first["key"]).name == first["name"]
        assert client.server_info()["deploymentType"] == "Cloud"
