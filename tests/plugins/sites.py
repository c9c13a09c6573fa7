"""Two emulated sites, production and its sandbox, each captured by ``jiradrift snapshot`` into a store
once per module (the captures are the expensive part; the comparisons are offline)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from jiradrift.cli import app
from jiradrift.sim.emulator import Emulator
from jiradrift.sim.site import Site
from jiradrift.snapshot.natural import Json
from jiradrift.store.filesystem import FilesystemStore


@dataclass
class CapturedSite:
    store: Path
    site: Site
    requests: int

    def items(self) -> list[tuple[str, Json]]:
        async def read() -> list[tuple[str, Json]]:
            store = FilesystemStore.open(self.store)
            out: list[tuple[str, Json]] = []
            for info in await store.list_snapshots():
                manifest = await store.get_manifest(info.snapshot_id)
                bodies = await store.get_items(set(manifest.items.values()))
                out.extend((k, orjson.loads(bodies[d])) for k, d in manifest.items.items())
            return out

        return asyncio.run(read())


def capture(variant: str, out: Path, size: str = "small") -> CapturedSite:
    with Emulator(size=size, seed=1, variant=variant).running() as emu:
        c = emu.credentials
        result = CliRunner().invoke(
            app,
            ["snapshot", "--site", emu.base_url, "--auth", "basic", "--email", c.email, "--out", str(out)],
            env={"JIRA_API_TOKEN": c.api_token, "COLUMNS": "200"},
        )
        assert result.exit_code == 0, result.output
        return CapturedSite(out, emu.site, len(list(emu.requests)))


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> CapturedSite:
    return capture("production", tmp_path_factory.mktemp("production"))


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> CapturedSite:
    return capture("sandbox", tmp_path_factory.mktemp("sandbox"))
