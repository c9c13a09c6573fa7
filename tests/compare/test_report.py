"""The full comparison report kept in a filesystem store: written compressed, read back checked
against its digest, replaced by the next one, refused over its bound, never a path outside the store."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from jiradrift.compare.report import ReportStore, keep_report, read_report
from jiradrift.model.store_errors import StoreError
from jiradrift.store import layout
from jiradrift.store.filesystem import FilesystemStore


def test_a_report_is_kept_replaced_and_read_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = FilesystemStore(tmp_path / "store")
    assert isinstance(store, ReportStore)

    async def scenario() -> None:
        first = {"in_sync": False, "changes": [{"key": f"workflow/W{i}", "op": "modified"} for i in range(2000)]}
        kept = await keep_report(store, "acme.prod-vs-sandbox", first)
        assert kept.store == str(tmp_path / "store") and kept.bytes > 0
        stored = tmp_path / "store" / "reports" / f"{kept.key}.json.zst"
        assert stored.stat().st_size < kept.bytes / 5  # compressed
        assert await read_report(store, kept.key, kept.digest) == first
        again = await keep_report(store, "acme.prod-vs-sandbox", {"in_sync": True, "changes": []})
        assert again.key == kept.key and again.digest != kept.digest
        assert await read_report(store, kept.key, again.digest) == {"in_sync": True, "changes": []}
        with pytest.raises(ValueError, match="not the one the status names"):
            await read_report(store, kept.key, kept.digest)
        assert await read_report(store, "acme.other") is None
        with pytest.raises(StoreError, match=r"not a Kubernetes namespace\.name"):
            await keep_report(store, "../../etc/x", {})
        monkeypatch.setattr(layout, "MAX_REPORT_BYTES", 64)
        with pytest.raises(StoreError, match="more than 64 a store keeps"):
            await keep_report(store, "acme.big", first)

    asyncio.run(scenario())
