"""S3Store against a real S3-compatible server (versitygw on loopback, a fresh bucket per test):
the shared store contract, plus what only an object-storage store promises."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import zstandard
from tests.plugins.s3 import S3Server
from tests.store.builders import canonical, put_snapshot, report_with
from tests.store.contract import WF_A, WF_B, StoreContract

from jiradrift.clock import FakeClock
from jiradrift.jira.auth import ApiTokenAuth
from jiradrift.jira.client import ClientSettings, JiraClient
from jiradrift.model.store_errors import BudgetExceeded, StoreError, StoreIntegrityError
from jiradrift.sim.emulator import RunningEmulator
from jiradrift.snapshot.capture import capture_snapshot
from jiradrift.store.s3 import S3Store
from jiradrift.store.s3client import S3Client, S3Config, S3Error, S3ResponseTooLarge, S3Unavailable
from jiradrift.store.sigv4 import Credentials

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
AT = datetime(2026, 3, 1, tzinfo=UTC)


class TestS3StoreContract(StoreContract):
    @pytest.fixture
    def store(self, s3_client: S3Client) -> S3Store:
        return S3Store(s3_client, gc_grace=timedelta(0))

    @pytest.fixture
    def tenant_store(self, s3_client: S3Client) -> Callable[[str], S3Store]:
        return lambda tenant: S3Store(s3_client, gc_grace=timedelta(0), tenant=tenant)


async def test_objects_are_laid_out_like_the_filesystem_store_and_bodies_are_compressed(s3_client: S3Client) -> None:
    store = S3Store(s3_client, gc_grace=timedelta(0))
    await put_snapshot(store, "s1", {"field/f1": {"description": "x" * 5000}})
    await store.put_drift(report_with("s1", 150))
    keys = [o.key async for o in s3_client.list("")]
    digest = canonical({"description": "x" * 5000})[0]
    assert keys == sorted(
        [
            f"items/{digest[:2]}/{digest}.zst",
            "index/acme.json",
            "jiradrift-store.json",
            "snapshots/s1/drift.json",
            "snapshots/s1/drift/0.json.zst",
            "snapshots/s1/drift/1.json.zst",
            "snapshots/s1/manifest.json.zst",
        ]
    )  # S3 lists in key order
    found = await s3_client.get(f"items/{digest[:2]}/{digest}.zst")
    assert found is not None and found[0].startswith(ZSTD_MAGIC) and len(found[0]) < 500


async def test_a_prefix_keeps_stores_apart_in_one_bucket(s3_server: S3Server, s3_client: S3Client) -> None:
    bucket = s3_client.config.bucket
    a = S3Client.connect(s3_server.config(bucket, prefix="team-a"), s3_server.credentials)
    b = S3Client.connect(s3_server.config(bucket, prefix="team-b/"), s3_server.credentials)
    try:
        await put_snapshot(S3Store(a), "s1", WF_A)
        await put_snapshot(S3Store(b), "s1", WF_B)
        assert (await S3Store(a).get_manifest("s1")).items["workflow/1"] == canonical(WF_A["workflow/1"])[0]
        assert (await S3Store(b).get_manifest("s1")).items["workflow/1"] == canonical(WF_B["workflow/1"])[0]
        keys = [o.key async for o in _raw_listing(s3_server, bucket)]
        assert keys and all(k.startswith(("team-a/", "team-b/")) for k in keys), keys
    finally:
        await a.aclose()
        await b.aclose()


async def _raw_listing(s3_server: S3Server, bucket: str):  # type: ignore[no-untyped-def]
    async with S3Client.connect(s3_server.config(bucket), s3_server.credentials) as raw:
        async for obj in raw.list(""):
            yield obj


async def test_an_unchanged_capture_costs_four_reads_and_writes_only_the_manifest_and_index(
    s3_client: S3Client,
) -> None:
    await put_snapshot(S3Store(s3_client), "s1", WF_A, hours=0)
    calls = _count_requests(s3_client)
    store = S3Store(s3_client)
    await store.begin_capture("acme", "workflows")
    stored = await put_snapshot(store, "s2", WF_A, hours=1)
    assert stored.unchanged_from == "s1"
    writes = [c for c in calls if c[0] == "PUT"]
    assert writes == [("PUT", "snapshots/s2/manifest.json.zst"), ("PUT", "index/acme.json")], calls
    assert not [c for c in calls if c[0] == "HEAD"], calls
    assert len([c for c in calls if c[0] == "GET"]) == 4, calls


def _count_requests(client: S3Client) -> list[tuple[str, str | None]]:
    """Record (method, key) of every request the client sends from now on (they still go to the server)."""
    calls: list[tuple[str, str | None]] = []
    send = client._send

    async def counting(method: str, key: str | None, **kwargs):  # type: ignore[no-untyped-def]
        calls.append((method, key))
        return await send(method, key, **kwargs)

    client._send = counting  # type: ignore[method-assign]
    return calls


async def test_a_new_body_costs_one_head_and_one_put(s3_client: S3Client) -> None:
    store = S3Store(s3_client)
    await store.begin_capture("acme", "workflows")
    calls = _count_requests(s3_client)
    for obj in WF_A.values():  # what capture does for each body: has_item, then put_item when missing
        digest, body = canonical(obj)
        assert await store.has_item(digest) is False
        assert await store.put_item(digest, body) is True
    bodies = [c for c in calls if c[1] and c[1].startswith("items/")]
    assert sorted(m for m, _ in bodies) == ["HEAD", "HEAD", "PUT", "PUT"], calls


async def test_a_known_body_is_written_again_only_when_near_the_gc_grace_so_gc_spares_it(s3_client: S3Client) -> None:
    digest, body = canonical({"name": "reused"})
    assert await S3Store(s3_client).put_item(digest, body) is True
    calls = _count_requests(s3_client)
    assert await S3Store(s3_client, gc_grace=timedelta(hours=1)).put_item(digest, body) is False
    assert [m for m, _ in calls] == ["HEAD"]  # young: nothing to renew
    calls.clear()
    # With no grace left, a re-used body is older than half of it: written again, so its age restarts.
    assert await S3Store(s3_client, gc_grace=timedelta(0)).put_item(digest, body) is False
    assert [m for m, _ in calls] == ["HEAD", "PUT"]
    assert await S3Store(s3_client).get_item(digest) == body


async def test_the_budget_stops_a_capture_before_the_body_that_does_not_fit(s3_client: S3Client) -> None:
    store = S3Store(s3_client, budget_bytes=60)
    await store.begin_capture("acme", "workflows")
    first, body = canonical({"name": "a"})
    assert await store.put_item(first, body) is True
    big, big_body = canonical({"description": "".join(f"{i:x}" for i in range(2000))})
    with pytest.raises(BudgetExceeded) as info:
        await store.put_item(big, big_body)
    assert info.value.reason == "BudgetExceeded" and "s3://" in str(info.value)
    assert await S3Store(s3_client).has_item(big) is False


async def test_two_writers_of_one_tenant_lose_no_snapshot(s3_client: S3Client) -> None:
    async def write(i: int) -> None:
        await put_snapshot(S3Store(s3_client), f"s{i}", {"field/f": {"n": i}}, hours=i)

    await asyncio.gather(*(write(i) for i in range(8)))
    assert await S3Store(s3_client).list_manifests("acme") == [f"s{i}" for i in reversed(range(8))]


async def test_a_manifest_left_by_a_crash_before_the_index_is_completed_by_the_retry(s3_client: S3Client) -> None:
    store = S3Store(s3_client)
    first = await put_snapshot(store, "s1", WF_A)
    raw = await s3_client.get("snapshots/s1/manifest.json.zst")
    assert raw is not None
    await s3_client.delete("index/acme.json")  # as if the process died between the two writes
    assert await store.list_manifests("acme") == []
    again = await put_snapshot(S3Store(s3_client), "s1", WF_A)
    assert again == first
    assert await store.list_manifests("acme") == ["s1"]
    with pytest.raises(StoreIntegrityError, match="already stored"):
        await put_snapshot(S3Store(s3_client), "s1", WF_B)


async def test_gc_spares_bodies_younger_than_the_grace_period(s3_client: S3Client) -> None:
    store = S3Store(s3_client, gc_grace=timedelta(minutes=5))
    in_flight, body = canonical({"name": "capture in progress"})
    await store.put_item(in_flight, body)
    assert await store.collect_garbage() == 0
    assert await store.has_item(in_flight)
    assert await S3Store(s3_client, gc_grace=timedelta(0)).collect_garbage() == 1


async def test_deletions_sweep_garbage_at_most_every_half_grace(s3_client: S3Client) -> None:
    store = S3Store(s3_client, gc_grace=timedelta(hours=1))
    for i in range(3):
        await put_snapshot(store, f"s{i}", {"field/f": {"n": i}}, hours=i)
    await store.delete_snapshot("s0")  # no sweep yet in this store: one runs
    calls = _count_requests(s3_client)
    await store.delete_snapshot("s1")  # swept a moment ago: none
    sweep = [("GET", "snapshots/s2/manifest.json.zst"), ("PUT", "gc.json")]  # marks from s2, records the run
    assert not [c for c in calls if c in sweep], calls
    assert await store.list_manifests() == ["s2"]
    assert await store.collect_garbage() == 0  # an explicit sweep always runs (s0's, s1's bodies are young)
    assert all(c in calls for c in sweep), calls


async def test_a_prefix_holding_other_objects_is_refused(s3_client: S3Client) -> None:
    await s3_client.put("someone-elses/file.txt", b"mine")
    with pytest.raises(StoreError, match="not a jiradrift store"):
        await put_snapshot(S3Store(s3_client), "s1", WF_A)


async def test_first_captures_of_a_namespace_at_once_all_succeed(s3_client: S3Client) -> None:
    """Found by bench/scale_bench.py: a first capture that found another's bodies before the format
    marker existed refused the prefix as someone else's."""
    # One capture's bodies are already there, its marker not yet: what a concurrent first writer sees.
    digest, _ = canonical({"n": 1})
    await s3_client.put(f"items/{digest[:2]}/{digest}.zst", b"a body being written")
    assert await s3_client.get("jiradrift-store.json") is None
    stores = [S3Store(s3_client) for _ in range(8)]
    await asyncio.gather(*(put_snapshot(store, f"s{i}", WF_A) for i, store in enumerate(stores)))
    assert sorted(await S3Store(s3_client).list_manifests()) == sorted(f"s{i}" for i in range(8))


async def test_wrong_credentials_are_a_typed_error_naming_the_fix(s3_server: S3Server, s3_client: S3Client) -> None:
    wrong = Credentials(s3_server.credentials.access_key_id, "not-the-secret")
    async with S3Client.connect(s3_client.config, wrong) as client:
        with pytest.raises(S3Error) as info:
            await S3Store(client).list_manifests("acme")
    assert info.value.status == 403 and "access key" in str(info.value)
    assert "not-the-secret" not in str(info.value)


async def test_a_response_over_the_size_limit_is_refused(s3_server: S3Server, s3_client: S3Client) -> None:
    await s3_client.put("big", b"x" * 4096)
    small = S3Config(endpoint=s3_server.endpoint, bucket=s3_client.config.bucket, max_response_bytes=1024)
    async with S3Client.connect(small, s3_server.credentials) as client:
        with pytest.raises(S3ResponseTooLarge, match="limit of 1024"):
            await client.get("big")


async def test_a_stored_object_that_is_not_zstd_or_expands_past_the_limit_is_a_store_error(
    s3_server: S3Server, s3_client: S3Client
) -> None:
    digest = "ab" * 32
    key = f"items/ab/{digest}.zst"
    await s3_client.put(key, b"not zstd at all")
    with pytest.raises(StoreError, match="not valid zstd data"):
        await S3Store(s3_client).get_item(digest)
    # Small on the wire, 4 KiB once expanded, and no declared size: the response limit bounds it.
    await s3_client.put(key, zstandard.ZstdCompressor(write_content_size=False).compress(b"x" * 4096))
    small = S3Config(endpoint=s3_server.endpoint, bucket=s3_client.config.bucket, max_response_bytes=1024)
    async with S3Client.connect(small, s3_server.credentials) as client:
        with pytest.raises(StoreError, match="not valid zstd data"):
            await S3Store(client).get_item(digest)
    assert await S3Store(s3_client).get_item(digest) == b"x" * 4096


async def test_an_endpoint_that_does_not_answer_is_unavailable_within_the_timeout() -> None:
    config = S3Config(endpoint="http://127.0.0.1:9", bucket="b", timeout_seconds=2)
    async with S3Client.connect(config, Credentials("k", "s")) as client:
        with pytest.raises(S3Unavailable, match=r"cannot reach|no answer"):
            await S3Store(client).list_manifests("acme")


def test_a_config_that_cannot_work_is_refused() -> None:
    with pytest.raises(StoreError, match="http"):
        S3Config(endpoint="s3.amazonaws.com", bucket="b")
    with pytest.raises(StoreError, match="bucket"):
        S3Config(endpoint="https://s3.amazonaws.com", bucket="a/b")


async def test_a_capture_from_the_emulator_into_s3_and_an_unchanged_recapture(
    jira_sim: RunningEmulator, s3_client: S3Client
) -> None:
    c = jira_sim.credentials
    jira = await JiraClient.connect(
        jira_sim.base_url,
        ApiTokenAuth(c.email, c.api_token),
        settings=ClientSettings(max_concurrency=8, requests_per_second=10_000, timeout=30.0),
        clock=FakeClock(),
        rng=random.Random(1),
    )
    async with jira:
        first = await asyncio.wait_for(
            capture_snapshot(
                jira, S3Store(s3_client), tenant="ns/acme", snapshot_type="fields", snapshot_id="f1", captured_at=AT
            ),
            timeout=60,
        )
        again = await asyncio.wait_for(
            capture_snapshot(
                jira,
                S3Store(s3_client),
                tenant="ns/acme",
                snapshot_type="fields",
                snapshot_id="f2",
                captured_at=AT + timedelta(hours=1),
            ),
            timeout=60,
        )
    assert first.complete and len(first.items) > 10
    assert again.unchanged_from == "f1" and again.items == first.items
    bodies = await S3Store(s3_client).get_items(first.items.values())
    assert len(bodies) == len(set(first.items.values()))


class _DroppingProxy:
    """A TCP relay on loopback to the real S3 server that hangs up on its first ``drops`` connections
    (a network fault, like a load balancer resetting): the S3 answers themselves are the server's."""

    def __init__(self, upstream_port: int, drops: int) -> None:
        self.upstream_port = upstream_port
        self.drops = drops
        self.accepted = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if self.accepted <= self.drops:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer), return_exceptions=True)


async def test_a_request_that_gets_no_answer_is_retried_and_then_fails_clearly(
    s3_server: S3Server, s3_client: S3Client
) -> None:
    port = int(s3_server.endpoint.rsplit(":", 1)[1])
    proxy = _DroppingProxy(port, drops=2)
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", 0)
    via = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        config = S3Config(endpoint=via, bucket=s3_client.config.bucket, retry_backoff_seconds=0.01)
        async with S3Client.connect(config, s3_server.credentials) as client:
            await client.put("k", b"v")  # two hang-ups, then through
        assert proxy.accepted == 3
        assert await s3_client.get("k") == (b"v", (await s3_client.head("k")).etag)  # type: ignore[union-attr]
        proxy.drops, proxy.accepted = 10, 0
        config = S3Config(endpoint=via, bucket=s3_client.config.bucket, retries=1, retry_backoff_seconds=0.01)
        async with S3Client.connect(config, s3_server.credentials) as client:
            with pytest.raises(S3Unavailable, match="cannot reach"):
                await client.get("k")
        assert proxy.accepted == 2  # the first attempt and one retry
    finally:
        server.close()
        await server.wait_closed()
