"""Issue 23: objects planted in a namespace's Secret and ConfigMap stores (real kube-apiserver).

A team may create Secrets and ConfigMaps in its own namespace, so it can plant objects that look like
the store's. Before: a 32 KB zstd frame declaring 1 GiB, stored as a ``jiradrift.io/snapshot-pack``
Secret with a manifest pointing at it, ran the next capture out of memory, and a manifest with a
missing annotation raised ``KeyError`` in every capture of that tenant and in the namespace's garbage
collection. Now every read is bounded and validated: the capture and garbage collection go on, the
planted object is skipped with a warning naming it, and reading it on purpose is a clear error.
"""

from __future__ import annotations

import base64
import logging
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from kubernetes import client as k8s
from tests.store.builders import emulator_client
from tests.store.hostile import GIB, zstd_bomb

from jiradrift.api.resources import JiraTenantSpec
from jiradrift.dev.kubejson import request_json
from jiradrift.handlers.stored import find_baseline
from jiradrift.kube.client import Kube
from jiradrift.kube.names import label_value
from jiradrift.model.store_errors import CorruptStoredObject
from jiradrift.sim.emulator import RunningEmulator
from jiradrift.snapshot.capture import capture_snapshot
from jiradrift.store import configmap as cm
from jiradrift.store.codec import MAX_EXPANDED_BYTES, ZstdCodec
from jiradrift.store.configmap import ConfigMapStore, SecretStore

pytestmark = pytest.mark.k8s

TENANT = "team-a/acme"
TYPE = "priorities"
SITE = {"site": "https://acme.atlassian.net", "auth": {"apiToken": {"secretRef": {"name": "jira"}}}}
MEMORY_BOUND = MAX_EXPANDED_BYTES // 2  # far below the 1 GiB planted, far above a capture of the emulator


def plant(api: k8s.ApiClient, store: ConfigMapStore, name: str, part: str, data: dict[str, bytes], **ann: str) -> None:
    """Create a part the way anyone with create rights on the namespace's Secrets/ConfigMaps can."""
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": store.KIND,
        "metadata": {
            "name": name,
            "labels": {cm.LABEL_MANAGED_BY: cm.MANAGED_BY, cm.LABEL_PART: part, cm.LABEL_TENANT: label_value(TENANT)},
            "annotations": ann,
        },
        store.DATA: {k: base64.b64encode(v).decode() for k, v in data.items()},
    }
    if store.TYPE:
        body["type"] = store.TYPE
    request_json(api, "POST", f"/api/v1/namespaces/{store.namespace}/{store.RESOURCE}", body=body)


def manifest_annotations(snapshot_id: str, items_part: str, **overrides: str) -> dict[str, str]:
    ann = {
        cm.A_TENANT: TENANT,
        cm.A_SNAPSHOT: snapshot_id,
        cm.A_TYPE: TYPE,
        cm.A_CAPTURED: "2099-01-01T00:00:00+00:00",  # the newest: what a capture reads first
        cm.A_DIGEST: "0" * 64,
        cm.A_ITEM_COUNT: "1",
        cm.A_COMPLETE: "true",
        cm.A_ITEMS: orjson.dumps({"parts": [items_part], "bytes": 32 * 1024}).decode(),
        **overrides,
    }
    return {k: v for k, v in ann.items() if v}


def snapshot_owner(name: str) -> dict[str, str]:
    return {"apiVersion": "jiradrift.io/v1alpha1", "kind": "Snapshot", "name": name, "uid": str(uuid.uuid4())}


@pytest.mark.parametrize("kind", [SecretStore, ConfigMapStore])
async def test_planted_bomb_and_broken_manifest_never_stop_a_capture_or_garbage_collection(
    kind: type[ConfigMapStore],
    kube: Kube,
    k8s_api: k8s.ApiClient,
    k8s_namespace: str,
    jira_sim: RunningEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = kind(kube, k8s_namespace, TENANT, gc_grace=timedelta(0))
    bomb = zstd_bomb()
    assert len(bomb) < 33 * 1024
    payload = ZstdCodec().compress(orjson.dumps({"snapshot_id": "planted", "tenant": TENANT, "type": TYPE}))
    plant(k8s_api, store, "jiradrift-i-planted", "items", {"items.0": bomb})
    plant(
        k8s_api,
        store,
        store.manifest_name("planted"),
        "manifest",
        {"manifest": payload},
        **manifest_annotations("planted", "jiradrift-i-planted"),
    )
    plant(  # no captured-at annotation: the record cannot be read
        k8s_api,
        store,
        store.manifest_name("broken"),
        "manifest",
        {"manifest": payload},
        **manifest_annotations("broken", "jiradrift-i-planted", **{cm.A_CAPTURED: ""}),
    )
    plant(  # its items "part" is a path to a credential Secret, or to another namespace
        k8s_api,
        store,
        store.manifest_name("escape"),
        "manifest",
        {"manifest": payload},
        **manifest_annotations("escape", "../secrets/jira", **{cm.A_CAPTURED: "2000-01-01T00:00:00+00:00"}),
    )
    caplog.set_level(logging.WARNING)

    jira = await emulator_client(jira_sim)
    async with jira:
        tracemalloc.start()
        try:
            manifest = await capture_snapshot(
                jira,
                store.for_owner(snapshot_owner("acme-priorities-1")),
                tenant=TENANT,
                snapshot_type=TYPE,
                snapshot_id="acme-priorities-1",
                captured_at=datetime(2026, 1, 1, tzinfo=UTC),
            )
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert manifest.complete and manifest.items
    assert peak < MEMORY_BOUND, f"the capture held {peak} bytes at its peak"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("jiradrift-i-planted" in w and str(GIB) in w and "skipped" in w for w in warnings), warnings
    assert any(store.manifest_name("broken") in w and cm.A_CAPTURED in w for w in warnings), warnings

    # the planted manifest is listed (its record is well formed), the broken one is not
    listed = {i.snapshot_id for i in await store.list_snapshots()}
    assert listed == {"planted", "escape", "acme-priorities-1"}
    with pytest.raises(CorruptStoredObject, match="not a Kubernetes object name"):
        await store.get_manifest("escape")
    with pytest.raises(CorruptStoredObject) as info:
        await store.get_manifest("planted")
    assert "jiradrift-i-planted" in str(info.value) and "delete it" in str(info.value)
    assert (await store.get_manifest("acme-priorities-1")).items == manifest.items

    # the next capture's baseline skips the planted snapshot (newer, but unreadable) for the real one
    spec = JiraTenantSpec.model_validate(SITE)
    baseline = await find_baseline(store, TENANT, TYPE, "acme-priorities-2", spec)
    assert baseline is not None and baseline.snapshot_id == "acme-priorities-1"

    # garbage collection of the namespace goes on, and keeps what the real snapshot needs
    await store.collect_garbage()
    await store.delete_snapshot("acme-priorities-1")
    assert {i.snapshot_id for i in await store.list_snapshots()} == {"planted", "escape"}
