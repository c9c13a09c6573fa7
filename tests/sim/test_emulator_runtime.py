"""Start-up, the async form, and the shipped scope table."""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path

import httpx
import orjson

from jiradrift.sim import Emulator
from jiradrift.sim.scopes import build_scope_table
from jiradrift.sim.site import Site
from jiradrift.sim.spec import SiteSpec

SPEC_PATH = Path("/work/shared/reference/jira-openapi-v3.json")


def test_xl_site_is_big_enough_and_starts_fast() -> None:
    started = time.perf_counter()
    with Emulator(size="xl").running() as sim:
        elapsed = time.perf_counter() - started
        site = sim.site
        assert len(site.custom_fields) >= 3000 and len(site.workflows) >= 500 and len(site.screens) >= 1500
        assert len(site.projects) >= 1000 and len(site.permission_schemes) >= 200
        assert any(len(c.options) >= 10_000 for f in site.custom_fields[:200] for c in site.contexts(f["id"]))
    assert elapsed < 5.0


async def test_serve_on_the_current_loop() -> None:
    async with Emulator(size="tiny").serve() as sim:
        async with httpx.AsyncClient(auth=(sim.credentials.email, sim.credentials.api_token)) as client:
            response = await client.get(sim.api_url + "/issuetype")
    assert [t["id"] for t in response.json()] == [t["id"] for t in sim.site.issue_types]


def test_shipped_scope_table_matches_the_spec() -> None:
    shipped = orjson.loads(resources.files("jiradrift.sim").joinpath("data/scopes.json").read_bytes())
    assert shipped == build_scope_table(orjson.loads(SPEC_PATH.read_bytes())), (
        "regenerate with: python -m jiradrift.sim.scopes /work/shared/reference/jira-openapi-v3.json"
    )


def test_generation_is_deterministic_per_seed_and_size() -> None:
    spec = SiteSpec.for_size("medium")
    a, b, c = (Site.generate(spec, s, "http://x") for s in (5, 5, 6))
    assert a.workflows == b.workflows and a.fields == b.fields
    assert [o["value"] for o in a.contexts("customfield_10000")[0].options] == [
        o["value"] for o in b.contexts("customfield_10000")[0].options
    ]
    assert a.workflows != c.workflows
