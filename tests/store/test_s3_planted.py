"""Issue 23, the S3 store: objects planted under its prefix (a manifest that expands to 1 GiB, an
index that is not JSON, a manifest without its tenant) are skipped with a warning by listings,
captures and garbage collection, and reading one on purpose is a clear error naming it."""

from __future__ import annotations

import logging
from datetime import timedelta

import orjson
import pytest
from tests.store.builders import put_snapshot
from tests.store.contract import WF_A, WF_B
from tests.store.hostile import zstd_bomb

from jiradrift.model.store_errors import CorruptStoredObject
from jiradrift.store.codec import ZstdCodec
from jiradrift.store.s3 import S3Store
from jiradrift.store.s3client import S3Client


async def test_planted_objects_never_stop_a_listing_a_capture_or_garbage_collection(
    s3_client: S3Client, caplog: pytest.LogCaptureFixture
) -> None:
    store = S3Store(s3_client, gc_grace=timedelta(0), tenant="acme")
    await put_snapshot(store, "s1", WF_A, tenant="acme", hours=0)
    await s3_client.put("snapshots/bomb/manifest.json.zst", zstd_bomb())
    tenantless = ZstdCodec().compress(orjson.dumps({"manifest": {"items": {}}, "items_from": None}))
    await s3_client.put("snapshots/notenant/manifest.json.zst", tenantless)
    await s3_client.put("index/globex.json", b"{not json")
    caplog.set_level(logging.WARNING)

    assert await S3Store(s3_client).list_snapshots("globex") == []
    assert await store.collect_garbage() == 0  # s1's bodies are live; the planted manifests are skipped
    warnings = " ".join(r.getMessage() for r in caplog.records)
    assert "'bomb'" in warnings and "'notenant'" in warnings and "'globex'" in warnings
    with pytest.raises(CorruptStoredObject, match="'bomb'"):
        await S3Store(s3_client).get_manifest("bomb")

    # the next capture of the tenant whose index was planted over, and of the tenant next to it
    await put_snapshot(S3Store(s3_client, tenant="globex"), "g1", WF_B, tenant="globex", hours=1)
    assert [i.snapshot_id for i in await S3Store(s3_client).list_snapshots("globex")] == ["g1"]
    await put_snapshot(store, "s2", WF_B, tenant="acme", hours=2)
    assert [i.snapshot_id for i in await store.list_snapshots()] == ["s2", "s1"]
    assert (await store.usage("acme")).body_bytes > 0
