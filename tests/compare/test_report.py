"""The full comparison report kept in a filesystem or an S3 store (the real S3 server the tests run):
written compressed, read back checked against its digest, the newest few kept per comparison, all
deleted with the comparison, refused over its bound, never a path outside the store."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from jiradrift.compare.report import ReportStore, keep_report, read_report
from jiradrift.model.store_errors import StoreError
from jiradrift.store import layout
from jiradrift.store.filesystem import FilesystemStore
from jiradrift.store.s3 import S3Store
from jiradrift.store.s3client import S3Client

NAME = "acme.prod-vs-sandbox"
FIRST = {"in_sync": False, "changes": [{"key": f"workflow/W{i}", "op": "modified"} for i in range(2000)]}


async def stored_keys(store: ReportStore, name: str) -> list[str]:
    if isinstance(store, S3Store):
        return sorted([o.key async for o in store.client.list(f"reports/{name}/")])
    assert isinstance(store, FilesystemStore)
    folder = store.root / "reports" / name
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


async def check_reports(store: ReportStore, where: str, monkeypatch: pytest.MonkeyPatch) -> None:
    kept = await keep_report(store, NAME, FIRST)
    assert kept.store == where and kept.bytes > 0
    assert len((await store.get_report(kept.key)) or b"") == kept.bytes
    assert await read_report(store, kept.key, kept.digest) == FIRST
    # Every comparison writes a new report; the newest REPORTS_KEPT stay, each readable by its key.
    later = [await keep_report(store, NAME, {"in_sync": True, "round": n}) for n in range(layout.REPORTS_KEPT + 1)]
    assert len({k.key for k in [kept, *later]}) == len(later) + 1
    assert len(await stored_keys(store, NAME)) == layout.REPORTS_KEPT
    assert await read_report(store, kept.key) is None  # the oldest went
    for n, report in enumerate(later[-layout.REPORTS_KEPT :], start=len(later) - layout.REPORTS_KEPT):
        assert await read_report(store, report.key, report.digest) == {"in_sync": True, "round": n}
    with pytest.raises(ValueError, match="not the one the status names"):
        await read_report(store, later[-1].key, kept.digest)
    other = await keep_report(store, "acme.other", {"in_sync": True})
    # The comparison is deleted: its reports go, another comparison's stay.
    await store.delete_reports(NAME)
    assert await stored_keys(store, NAME) == []
    assert await read_report(store, later[-1].key) is None
    assert await read_report(store, other.key, other.digest) == {"in_sync": True}
    with pytest.raises(StoreError, match=r"not a Kubernetes namespace\.name"):
        await keep_report(store, "../../etc/x", {})
    with pytest.raises(StoreError, match="is not NAME/<time>-<hash>"):
        await store.get_report("acme.other/../../../etc/passwd")
    monkeypatch.setattr(layout, "MAX_REPORT_BYTES", 64)
    with pytest.raises(StoreError, match="more than 64 a store keeps"):
        await keep_report(store, "acme.big", FIRST)


def test_reports_in_a_filesystem_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = FilesystemStore(tmp_path / "store")
    assert isinstance(store, ReportStore)
    kept = asyncio.run(keep_report(store, "acme.first", FIRST))
    assert (tmp_path / "store" / "reports" / f"{kept.key}.json.zst").stat().st_size < kept.bytes / 5  # compressed
    asyncio.run(check_reports(store, str(tmp_path / "store"), monkeypatch))


async def test_reports_in_an_s3_store(s3_client: S3Client, monkeypatch: pytest.MonkeyPatch) -> None:
    store: Any = S3Store.for_namespace(s3_client, "acme")
    assert isinstance(store, ReportStore)
    kept = await keep_report(store, "acme.first", FIRST)
    [found] = [o async for o in s3_client.list(f"acme/reports/{kept.key}.json.zst")]
    assert found.size < kept.bytes / 5  # compressed
    await check_reports(store, store.where, monkeypatch)


def test_a_report_written_before_reports_were_kept_by_time_is_still_read(tmp_path: Path) -> None:
    store = FilesystemStore(tmp_path / "store")
    (tmp_path / "store" / "reports").mkdir(parents=True)
    data = store._codec.compress(b'{"in_sync": true}')
    (tmp_path / "store" / "reports" / f"{NAME}.json.zst").write_bytes(data)
    assert asyncio.run(read_report(store, NAME)) == {"in_sync": True}  # the key an older status names
    asyncio.run(keep_report(store, NAME, {"in_sync": False}))
    assert not (tmp_path / "store" / "reports" / f"{NAME}.json.zst").exists()  # replaced by the new layout
