"""ConfigMapStore against a real kube-apiserver: the shared store contract, plus chunking,
ownership, dedupe across snapshots, pagination, garbage collection and the byte budget.

The store talks through the one async client (``Kube``); assertions read the API server with the
test plugin's own client, so they see what is stored, not what the store believes."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from kubernetes import client as k8s
from tests.store.builders import T0, canonical, put_snapshot, report_with
from tests.store.contract import WF_A, WF_B, StoreContract

from jiradrift.dev.kubejson import request_json
from jiradrift.kube.client import Kube
from jiradrift.model.manifest import Manifest
from jiradrift.model.store_errors import BudgetExceeded, StoreError
from jiradrift.store.configmap import ConfigMapStore

pytestmark = pytest.mark.k8s

ONE_MIB = 1024 * 1024
SELECTOR = "app.kubernetes.io/managed-by=jira-drift-operator"


def configmaps(api: k8s.ApiClient, namespace: str, part: str | None = None) -> list[dict[str, Any]]:
    selector = SELECTOR + (f",jiradrift.io/part={part}" if part else "")
    data = request_json(api, "GET", f"/api/v1/namespaces/{namespace}/configmaps", query={"labelSelector": selector})
    items: list[dict[str, Any]] = data["items"]
    return items


def stored_bytes(cm: dict[str, Any]) -> int:
    return sum(len(k) + len(base64.b64decode(v)) for k, v in (cm.get("binaryData") or {}).items())


def owner(name: str) -> dict[str, str]:
    return {"apiVersion": "jiradrift.io/v1alpha1", "kind": "Snapshot", "name": name, "uid": str(uuid.uuid4())}


def owner_uids(cm: dict[str, Any]) -> set[str]:
    return {ref["uid"] for ref in cm["metadata"].get("ownerReferences") or []}


@pytest.fixture
def make_store(kube: Kube, k8s_namespace: str) -> Callable[..., ConfigMapStore]:
    def make(**kwargs: Any) -> ConfigMapStore:
        kwargs.setdefault("gc_grace", timedelta(0))
        return ConfigMapStore(kube, k8s_namespace, **kwargs)

    return make


class TestConfigMapStoreContract(StoreContract):
    @pytest.fixture
    def store(self, make_store: Callable[..., ConfigMapStore]) -> Iterator[ConfigMapStore]:
        yield make_store()

    @pytest.fixture
    def tenant_store(self, make_store: Callable[..., ConfigMapStore]) -> Callable[[str], ConfigMapStore]:
        return lambda tenant: make_store(tenant=tenant)


# --- chunking -----------------------------------------------------------------------------------


async def test_a_large_capture_is_packed_into_few_configmaps_each_below_one_mib(
    make_store: Callable[..., ConfigMapStore], k8s_api: k8s.ApiClient, k8s_namespace: str
) -> None:
    store = make_store(gc_grace=timedelta(hours=1))
    objects: dict[str, Any] = {f"field/f{i}": {"name": f"Field {i}", "id": f"customfield_{i}"} for i in range(3000)}
    for i in range(4):  # incompressible bodies of ~300 KiB: several per pack would exceed 1 MiB
        objects[f"workflow/big{i}"] = {"blob": base64.b64encode(os.urandom(225 * 1024)).decode()}
    stored = await put_snapshot(store, "big-1", objects)
    cms = configmaps(k8s_api, k8s_namespace)
    assert all(stored_bytes(cm) < 900 * 1024 for cm in cms)
    assert len(cms) <= 8, [cm["metadata"]["name"] for cm in cms]  # not 3004
    packs = configmaps(k8s_api, k8s_namespace, "pack")
    assert 2 <= len(packs) <= 5
    again = make_store()  # a fresh process: nothing cached
    manifest = await again.get_manifest("big-1")
    assert manifest.items == stored.items
    for key in ("field/f0", "field/f2999", "workflow/big3"):
        assert await again.get_item(manifest.items[key]) == canonical(objects[key])[1]


async def test_a_manifest_bigger_than_a_chunk_is_split_and_read_back(
    make_store: Callable[..., ConfigMapStore], k8s_api: k8s.ApiClient, k8s_namespace: str
) -> None:
    store = make_store(max_chunk_bytes=32 * 1024)
    objects = {f"option/o{i}": {"value": f"Option {i}"} for i in range(2000)}
    stored = await put_snapshot(store, "split-1", objects)
    cms = configmaps(k8s_api, k8s_namespace)
    assert all(stored_bytes(cm) <= 32 * 1024 for cm in cms)
    assert len(configmaps(k8s_api, k8s_namespace, "items")) >= 2
    assert (await make_store().get_manifest("split-1")).items == stored.items
    await make_store(max_chunk_bytes=2048).put_drift(report_with("split-1", 1500))  # drift spreads over parts too
    assert len(configmaps(k8s_api, k8s_namespace, "drift")) >= 2
    changes = await make_store().read_changes("split-1", 1390, 1410)
    assert changes == report_with("split-1", 1500).changes[1390:1410]


async def test_an_item_too_big_for_a_configmap_is_refused_with_the_fix(
    make_store: Callable[..., ConfigMapStore],
) -> None:
    store = make_store(max_chunk_bytes=4096)
    digest, body = canonical({"blob": base64.b64encode(os.urandom(6000)).decode()})
    with pytest.raises(StoreError, match="filesystem store"):
        await store.put_item(digest, body)


# --- dedupe and ownership ---------------------------------------------------------------------


async def test_bodies_already_stored_are_referenced_not_stored_again(
    make_store: Callable[..., ConfigMapStore], k8s_api: k8s.ApiClient, k8s_namespace: str
) -> None:
    objects = {f"field/f{i}": {"name": f"Field {i}"} for i in range(500)}
    await put_snapshot(make_store(), "s1", objects, hours=0)
    packs_before = {cm["metadata"]["name"] for cm in configmaps(k8s_api, k8s_namespace, "pack")}
    changed = dict(objects, **{"field/f7": {"name": "Renamed"}})
    fresh = make_store()  # another process: learns the bodies from the stored manifests
    put_items = [await fresh.put_item(*canonical(obj)) for obj in changed.values()]
    assert put_items.count(True) == 1
    await put_snapshot(fresh, "s2", changed, hours=1)
    packs_after = {cm["metadata"]["name"] for cm in configmaps(k8s_api, k8s_namespace, "pack")}
    assert packs_before < packs_after and len(packs_after - packs_before) == 1
    new_pack = next(
        cm for cm in configmaps(k8s_api, k8s_namespace, "pack") if cm["metadata"]["name"] not in packs_before
    )
    assert list(new_pack["binaryData"]) == [canonical({"name": "Renamed"})[0]]


async def test_a_snapshot_owns_its_manifest_and_the_tenant_owns_the_shared_parts(
    make_store: Callable[..., ConfigMapStore], k8s_api: k8s.ApiClient, k8s_namespace: str
) -> None:
    """An unchanged capture writes nothing but its manifest, so it cannot add itself as an owner of the
    parts it shares; shared parts are owned by the tenant, and the store's collection removes them
    when no manifest refers to them any more."""
    store = make_store()
    first, second = owner("acme-workflows-1"), owner("acme-workflows-2")
    tenant = {"apiVersion": "jiradrift.io/v1alpha1", "kind": "JiraTenant", "name": "acme", "uid": str(uuid.uuid4())}
    await put_snapshot(store.for_owner(first, parts_owner=tenant), "acme-workflows-1", WF_A, hours=0)
    stored = await put_snapshot(store.for_owner(second, parts_owner=tenant), "acme-workflows-2", WF_A, hours=1)
    assert stored.unchanged_from == "acme-workflows-1"
    manifests = {
        cm["metadata"]["annotations"]["jiradrift.io/snapshot-id"]: cm
        for cm in configmaps(k8s_api, k8s_namespace, "manifest")
    }
    assert owner_uids(manifests["acme-workflows-1"]) == {first["uid"]}
    assert owner_uids(manifests["acme-workflows-2"]) == {second["uid"]}
    shared = configmaps(k8s_api, k8s_namespace, "items") + configmaps(k8s_api, k8s_namespace, "pack")
    assert shared and all(owner_uids(cm) == {tenant["uid"]} for cm in shared)
    await store.delete_snapshot("acme-workflows-1")  # what retention does; the second still reads whole
    assert (await store.get_manifest("acme-workflows-2")).items == stored.items
    ref = manifests["acme-workflows-1"]["metadata"]["ownerReferences"][0]
    assert (ref["apiVersion"], ref["kind"], ref["name"]) == (
        "jiradrift.io/v1alpha1",
        "Snapshot",
        "acme-workflows-1",
    )
    labels = manifests["acme-workflows-2"]["metadata"]["labels"]
    assert labels["jiradrift.io/tenant"] == "acme" and labels["jiradrift.io/snapshot"] == "acme-workflows-2"
    assert labels["app.kubernetes.io/managed-by"] == "jira-drift-operator"
    with pytest.raises(ValueError, match="uid"):
        store.for_owner({"apiVersion": "v1", "kind": "Snapshot", "name": "x"})


async def test_deleting_every_snapshot_deletes_every_configmap(
    make_store: Callable[..., ConfigMapStore], k8s_api: k8s.ApiClient, k8s_namespace: str
) -> None:
    store = make_store()
    await put_snapshot(store, "s1", WF_A, hours=0)
    await put_snapshot(store, "s2", WF_B, hours=1)
    await put_snapshot(store, "s3", WF_B, hours=2)
    await store.put_drift(report_with("s2", 120))
    assert len(configmaps(k8s_api, k8s_namespace)) >= 6
    await store.delete_snapshots(["s2", "s1", "s3"])
    assert configmaps(k8s_api, k8s_namespace) == []


async def test_garbage_of_a_capture_that_died_is_collected_after_the_grace(
    make_store: Callable[..., ConfigMapStore], k8s_api: k8s.ApiClient, k8s_namespace: str
) -> None:
    patient = make_store(gc_grace=timedelta(hours=1))
    await put_snapshot(patient, "s1", WF_A)
    dead = make_store(gc_grace=timedelta(hours=1))
    await dead.put_item(*canonical({"name": "orphan"}))
    await dead._flush(await dead._current())  # what a pack write mid-capture leaves behind if the process dies
    assert len(configmaps(k8s_api, k8s_namespace, "pack")) == 2
    assert await patient.collect_garbage() == 0  # young: could be a capture in flight
    assert await make_store(gc_grace=timedelta(0)).collect_garbage() == 1
    assert len(configmaps(k8s_api, k8s_namespace, "pack")) == 1
    reader = make_store()
    manifest = await reader.get_manifest("s1")
    assert set(await reader.get_items(manifest.items.values())) == set(manifest.items.values())


async def test_a_young_pack_is_compacted_by_a_later_collection_to_the_bodies_still_used(
    make_store: Callable[..., ConfigMapStore], k8s_api: k8s.ApiClient, k8s_namespace: str
) -> None:
    store = make_store(gc_grace=timedelta(hours=1))
    big = {"blob": base64.b64encode(os.urandom(4000)).decode()}
    await put_snapshot(store, "s1", {"workflow/w": big, "field/f1": {"name": "Team"}}, hours=0)
    [old_pack] = configmaps(k8s_api, k8s_namespace, "pack")
    await put_snapshot(store, "s2", {"field/f1": {"name": "Team"}}, hours=1)  # re-uses it
    await store.delete_snapshot("s1")
    [pack] = configmaps(k8s_api, k8s_namespace, "pack")
    assert set(pack["binaryData"]) == set(old_pack["binaryData"])  # written within the grace: kept whole
    assert int(pack["metadata"]["annotations"]["jiradrift.io/live-bytes"]) < 200  # ...and marked
    await make_store(gc_grace=timedelta(0)).collect_garbage()  # a later collection compacts what it marked
    [pack] = configmaps(k8s_api, k8s_namespace, "pack")
    team, body = canonical({"name": "Team"})
    assert list(pack["binaryData"]) == [team] and "jiradrift.io/live-bytes" not in pack["metadata"]["annotations"]
    assert await make_store().get_item(team) == body
    with pytest.raises(KeyError):
        await make_store().get_item(canonical(big)[0])


# --- listing, scope and budget -------------------------------------------------------------------


async def test_listing_pages_through_many_manifests(make_store: Callable[..., ConfigMapStore]) -> None:
    store = make_store(page_size=2)
    for i in range(7):
        await put_snapshot(store, f"s{i}", {"field/f": {"n": i}}, hours=i)
    assert list(await store.list_manifests("acme")) == [f"s{i}" for i in reversed(range(7))]


async def test_a_tenant_scoped_store_refuses_other_tenants(make_store: Callable[..., ConfigMapStore]) -> None:
    store = make_store(tenant="team-a/acme")
    await put_snapshot(store, "s1", WF_A, tenant="team-a/acme")
    with pytest.raises(StoreError, match="serves tenant 'team-a/acme'"):
        await put_snapshot(store, "s2", WF_A, tenant="team-a/globex")
    assert list(await store.list_manifests()) == ["s1"]
    assert (await store.list_snapshots())[0].tenant == "team-a/acme"


async def test_budget_pruning_deletes_the_oldest_until_the_tenant_fits(
    make_store: Callable[..., ConfigMapStore],
) -> None:
    store = make_store()
    for i in range(4):
        payload = {"blob": base64.b64encode(os.urandom(3000)).decode()}  # ~3 KiB each, incompressible
        await put_snapshot(store, f"s{i}", {"workflow/w": payload, "field/f1": {"name": "Team"}}, hours=i)
    await put_snapshot(store, "other", WF_A, tenant="globex", hours=9)
    usage = await store.usage("acme")
    assert usage.snapshots == 4 and usage.body_bytes > 4 * 3000
    one = usage.total_bytes // 4
    budgeted = make_store(budget_bytes=int(one * 2.5))
    assert await budgeted.over_budget("acme") == usage.total_bytes - int(one * 2.5)
    assert await budgeted.enforce_budget("acme") == ["s0", "s1"]
    assert await budgeted.over_budget("acme") == 0
    assert list(await budgeted.list_manifests("acme")) == ["s3", "s2"]
    assert (await budgeted.usage("acme")).total_bytes < usage.total_bytes
    assert list(await budgeted.list_manifests("globex")) == ["other"]  # other tenants untouched
    assert await make_store().over_budget("acme") == 0  # no budget: never over


async def test_a_capture_over_the_budget_stops_writing_and_leaves_the_store_within_it(
    make_store: Callable[..., ConfigMapStore], k8s_api: k8s.ApiClient, k8s_namespace: str
) -> None:
    budget = 64 * 1024
    store = make_store(max_chunk_bytes=16 * 1024).for_owner(owner("acme-fields-1"), budget_bytes=budget)
    objects = {f"field/f{i}": {"blob": base64.b64encode(os.urandom(1024)).decode()} for i in range(200)}  # ~270 KiB
    await store.begin_capture("acme", "fields")
    with pytest.raises(BudgetExceeded) as info:
        for obj in objects.values():
            await store.put_item(*canonical(obj))
    assert info.value.reason == "BudgetExceeded" and info.value.budget_bytes == budget
    assert "spec.retention.maxBytes" in str(info.value) and "'acme'" in str(info.value)
    assert await store.list_manifests("acme") == []
    assert sum(stored_bytes(cm) for cm in configmaps(k8s_api, k8s_namespace)) <= budget
    # The same capture within a budget that fits completes.
    roomy = make_store(max_chunk_bytes=16 * 1024).for_owner(owner("acme-fields-2"), budget_bytes=4 * budget)
    await roomy.begin_capture("acme", "fields")
    stored = await put_snapshot(roomy, "acme-fields-2", objects, type="fields")
    assert len(stored.items) == 200
    assert sum(stored_bytes(cm) for cm in configmaps(k8s_api, k8s_namespace)) <= 4 * budget


async def test_manifest_metadata_survives_without_items_being_listed(
    make_store: Callable[..., ConfigMapStore],
) -> None:
    store = make_store()
    digest, body = canonical({"x": 1})
    await store.put_item(digest, body)
    manifest = Manifest(
        snapshot_id="m1",
        tenant="acme",
        type="fields",
        captured_at=T0,
        items={"field/x": digest},
        site="https://acme.atlassian.net",
        request_count=42,
        complete=False,
    )
    await store.put_manifest(manifest)
    [info] = await make_store().list_snapshots("acme")
    assert (info.complete, info.item_count, info.type) == (False, 1, "fields")
    again = await make_store().get_manifest("m1")
    assert (again.site, again.request_count) == ("https://acme.atlassian.net", 42)
