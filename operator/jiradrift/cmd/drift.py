"""CLI commands of the snapshot core: ``jiradrift diff`` and ``jiradrift drift list``.

A SNAPSHOT argument is one of:

- ``STORE_DIR``: a store written by ``jiradrift snapshot --out STORE_DIR``; the newest snapshot of
  each tenant and type in it is used (``--from`` / ``--to`` pick ids instead);
- ``STORE_DIR/snapshots/<id>``: one snapshot inside a store;
- ``s3://BUCKET/PREFIX`` and ``s3://BUCKET/PREFIX/snapshots/<id>``: the same in an S3 store (the
  ``--s3-*`` options or ``JIRADRIFT_S3_*`` variables say where the endpoint is; the operator keeps
  namespace NS under ``PREFIX/NS``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from jiradrift.api.resources import GROUP, VERSION
from jiradrift.cmd import s3options
from jiradrift.cmd.cluster import ALL_NAMESPACES, CONTEXT, KUBECONFIG, NAMESPACE, TenantRef, cluster_store, tenant_ref
from jiradrift.cmd.drift_source import KubernetesDriftSource
from jiradrift.cmd.output import (
    LEGACY_FORMAT,
    OUTPUT,
    OutputFormat,
    change_cells,
    change_table,
    output_format,
    print_reports,
    text,
    write_data,
)
from jiradrift.cmd.reach import Radii, annotate_page
from jiradrift.cmd.unaccepted import Outstanding, outstanding, print_many_outstanding, print_outstanding
from jiradrift.kube.client import Kube, KubeError, resource_path
from jiradrift.kube.kubeconfig import context_namespace
from jiradrift.model.ignore import InvalidIgnoreRule
from jiradrift.model.manifest import Manifest
from jiradrift.model.report import DriftReport
from jiradrift.model.store import SnapshotStore
from jiradrift.model.store_errors import StoreError
from jiradrift.snapshot.blast import REACH_HIGH, ReachRule, annotate_report
from jiradrift.snapshot.diff import IncomparableSnapshots, diff_manifests
from jiradrift.snapshot.drift import DriftPage, InvalidCursor, StoreDriftSource, list_drift_events
from jiradrift.snapshot.recording import backfill_drift, predecessor_of
from jiradrift.store.filesystem import FilesystemStore
from jiradrift.store.s3 import S3Store
from jiradrift.store.s3client import S3Client, S3Config

REACH_HIGH_OPTION = typer.Option(
    REACH_HIGH, "--reach-high", help="A medium change affecting this many projects counts as high (0: off)."
)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)  # one line, never wrapped: a log or a pipe reads it whole
    return typer.Exit(2)


@dataclass(frozen=True)
class _Target:
    store: FilesystemStore | S3Store
    snapshot_id: str | None  # None: the newest per tenant and type

    @property
    def where(self) -> str:
        return str(self.store.root) if isinstance(self.store, FilesystemStore) else self.store.where


@dataclass(frozen=True)
class _S3Where:
    """Where S3 URLs point (endpoint, region, addressing); bucket and prefix come from the URL."""

    endpoint: str
    region: str
    path_style: bool

    def store(self, bucket: str, prefix: str) -> S3Store:
        config = s3options.s3_config(self.endpoint, bucket, self.region, prefix, self.path_style)
        return S3Store(S3Client.connect(config))


def _open_target(target: str, s3: _S3Where) -> _Target:
    if target.startswith("s3://"):
        bucket, prefix = s3options.parse_s3_url(target)
        head, sep, snapshot_id = f"/{prefix}".rpartition("/snapshots/")
        if sep and snapshot_id and "/" not in snapshot_id:
            return _Target(s3.store(bucket, head.strip("/")), snapshot_id)
        return _Target(s3.store(bucket, prefix), None)
    path = Path(target)
    if path.parent.name == "snapshots" and (path / "manifest.json.zst").exists():
        return _Target(FilesystemStore.open(path.parent.parent), path.name)
    return _Target(FilesystemStore.open(path), None)


async def _close(*targets: _Target | None) -> None:
    for target in targets:
        if target is not None and isinstance(target.store, S3Store):
            await target.store.client.aclose()


class _Bodies:
    """The bodies a diff reads, read beforehand: from the newer store, else the older one."""

    def __init__(self, bodies: dict[str, bytes]) -> None:
        self.bodies = bodies

    def get_item(self, digest: str) -> bytes:
        return self.bodies[digest]

    @classmethod
    async def read(cls, old_store: SnapshotStore, new_store: SnapshotStore, old: Manifest, new: Manifest) -> _Bodies:
        wanted = {d for k, d in new.items.items() if old.items.get(k) != d}
        wanted.update(d for k, d in old.items.items() if new.items.get(k) != d)
        bodies: dict[str, bytes] = {}
        for digest in sorted(wanted):
            try:
                bodies[digest] = await new_store.get_item(digest)
            except KeyError:
                bodies[digest] = await old_store.get_item(digest)
        return cls(bodies)


async def _newest_per_stream(store: SnapshotStore, types: list[str]) -> dict[tuple[str, str], str]:
    newest: dict[tuple[str, str], str] = {}
    for info in await store.list_snapshots():
        if not types or info.type in types:
            newest.setdefault((info.tenant, info.type), info.snapshot_id)
    return newest


async def _stream_of(store: SnapshotStore, snapshot_id: str) -> tuple[str, str]:
    manifest = await store.get_manifest(snapshot_id)
    return (manifest.tenant, manifest.type)


async def _pairs(
    a: _Target, b: _Target | None, from_id: str | None, to_id: str | None, types: list[str]
) -> list[tuple[str, str]]:
    """(old id, new id) pairs to diff, explained when there are none."""
    old_id = from_id or a.snapshot_id
    if b is None:
        targets = [to_id] if to_id else list((await _newest_per_stream(a.store, types)).values())
        pairs = []
        for target in targets:
            base = old_id or await predecessor_of(a.store, target)
            if base is None:
                raise _fail(
                    f"snapshot {target!r} in {a.where} has no earlier snapshot of its tenant and type "
                    f"to compare with; pass --from ID or a second store"
                )
            pairs.append((base, target))
        if not pairs:
            raise _fail(f"{a.where} holds no snapshot{' of the given --type' if types else ''}")
        return pairs
    new_id: str | None = to_id or b.snapshot_id
    if old_id and new_id:
        return [(old_id, new_id)]
    old_newest = await _newest_per_stream(a.store, types)
    new_newest = await _newest_per_stream(b.store, types)
    if old_id:
        streams = [await _stream_of(a.store, old_id)]
    elif new_id:
        streams = [await _stream_of(b.store, new_id)]
    else:
        streams = sorted(old_newest.keys() & new_newest.keys())
    pairs = [
        (old_id or old_newest[s], new_id or new_newest[s])
        for s in streams
        if (old_id or s in old_newest) and (new_id or s in new_newest)
    ]
    if not pairs:
        raise _fail(f"{a.where} and {b.where} share no tenant and snapshot type; pick snapshots with --from and --to")
    return pairs


def diff_command(
    snapshot_a: Annotated[
        str,
        typer.Argument(
            metavar="DIR_A",
            help="Older side: STORE_DIR or STORE_DIR/snapshots/ID (or s3://BUCKET/PREFIX, s3://BUCKET/PREFIX/snapshots/ID).",
        ),
    ],
    snapshot_b: Annotated[
        str | None,
        typer.Argument(metavar="[DIR_B]", help="Newer side; omit to compare within DIR_A."),
    ] = None,
    from_id: Annotated[str | None, typer.Option("--from", help="Older snapshot id (in DIR_A).")] = None,
    to_id: Annotated[str | None, typer.Option("--to", help="Newer snapshot id (in DIR_B, else DIR_A).")] = None,
    types: Annotated[list[str] | None, typer.Option("--type", help="Only these snapshot types (repeatable).")] = None,
    ignore: Annotated[
        list[str] | None,
        typer.Option("--ignore", help="Ignore rule KEY_GLOB[:PATH_GLOB], e.g. 'field/*:description' (repeatable)."),
    ] = None,
    output: OutputFormat | None = OUTPUT,
    legacy_format: OutputFormat | None = LEGACY_FORMAT,
    exit_code: Annotated[bool, typer.Option("--exit-code", help="Exit 1 when there is drift.")] = False,
    reach_high: int = REACH_HIGH_OPTION,
    s3_endpoint: str = s3options.S3_ENDPOINT,
    s3_region: str = s3options.S3_REGION,
    s3_path_style: bool = s3options.S3_PATH_STYLE,
) -> None:
    """Show what changed between two snapshots.

    \b
    jiradrift diff OLD_STORE NEW_STORE          newest of each tenant/type in OLD vs in NEW
    jiradrift diff STORE                        newest of each tenant/type vs its predecessor
    jiradrift diff STORE --from ID1 --to ID2    two snapshots of one store
    jiradrift diff STORE/snapshots/ID1 STORE/snapshots/ID2
    jiradrift diff s3://BUCKET/jiradrift/NAMESPACE   an S3 store (--s3-endpoint, AWS_* credentials)
    """
    s3 = _S3Where(s3_endpoint, s3_region, s3_path_style)

    async def diff_all() -> list[DriftReport]:
        a = _open_target(snapshot_a, s3)
        b = _open_target(snapshot_b, s3) if snapshot_b is not None else None
        try:
            reports = []
            radii = Radii(b.store if b else a.store)
            for old_id, new_id in await _pairs(a, b, from_id, to_id, types or []):
                new_store = b.store if b else a.store
                old = await a.store.get_manifest(old_id)
                new = await new_store.get_manifest(new_id)
                reader = await _Bodies.read(a.store, new_store, old, new)
                report = diff_manifests(old, new, reader, ignore or [])
                radius = await radii.of(new.tenant, {c.kind for c in report.changes})
                reports.append(annotate_report(report, radius, ReachRule(reach_high)))
            return reports
        finally:
            await _close(a, b)

    try:
        reports = asyncio.run(diff_all())
    except (StoreError, InvalidIgnoreRule, IncomparableSnapshots, KeyError) as exc:
        raise _fail(str(exc)) from None
    fmt = output_format(output, legacy_format)
    if fmt in (OutputFormat.json, OutputFormat.yaml):
        write_data(
            {"change_count": sum(r.change_count for r in reports), "reports": [r.to_dict() for r in reports]}, fmt
        )
    else:
        print_reports(Console(), reports, wide=fmt is OutputFormat.wide)
    if exit_code and any(r.has_drift for r in reports):
        raise typer.Exit(1)


drift_app = typer.Typer(help="Drift events recorded in a store.", no_args_is_help=True)


@drift_app.command("list")
def drift_list_command(
    store_dir: Annotated[
        str | None,
        typer.Argument(
            metavar="[DIR]",
            help="A store written by `jiradrift snapshot --out DIR` (or s3://BUCKET/PREFIX); omit it to read a "
            "cluster's Snapshots (with --tenant NAME -n NAMESPACE and your kubeconfig; with --s3-bucket when the "
            "operator runs with --store s3).",
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="Events per page (clamped to 1..500).")] = 100,
    cursor: Annotated[str | None, typer.Option("--cursor", help="next_cursor of the previous page.")] = None,
    tenant: Annotated[
        str | None,
        typer.Option("--tenant", help="Only this tenant (default: all); in a cluster, the JiraTenant (with -n)."),
    ] = None,
    namespace: str | None = NAMESPACE,
    all_namespaces: bool = ALL_NAMESPACES,
    kubeconfig: Path | None = KUBECONFIG,
    context: str | None = CONTEXT,
    output: OutputFormat | None = OUTPUT,
    legacy_format: OutputFormat | None = LEGACY_FORMAT,
    backfill: Annotated[
        bool,
        typer.Option("--backfill/--no-backfill", help="First record drift for snapshots that have no report."),
    ] = True,
    reach_high: int = REACH_HIGH_OPTION,
    unaccepted: Annotated[
        bool,
        typer.Option(
            "--unaccepted",
            help="Only the outstanding changes: accepted snapshot vs the newest complete one, per type "
            "(in a cluster: with --tenant NAME -n NAMESPACE; without --tenant, every JiraTenant of -n NAMESPACE, "
            "or of every namespace with -A).",
        ),
    ] = False,
    s3_endpoint: str = s3options.S3_ENDPOINT,
    s3_bucket: str = s3options.S3_BUCKET,
    s3_region: str = s3options.S3_REGION,
    s3_prefix: str = s3options.S3_PREFIX,
    s3_path_style: bool = s3options.S3_PATH_STYLE,
) -> None:
    """List drift events newest first, one page at a time.

    Each event is one change in one snapshot against its predecessor. Pass the printed
    cursor to --cursor for the next page, with the same --tenant as for the first page.
    """

    fmt = output_format(output, legacy_format)

    async def one_page(directory: str) -> DriftPage:
        target = _open_target(directory, _S3Where(s3_endpoint, s3_region, s3_path_style))
        try:
            if tenant is not None and cursor is None:
                known = sorted({i.tenant for i in await target.store.list_snapshots()})
                if tenant not in known:
                    raise _fail(
                        f"{target.where} holds no snapshot of tenant {tenant!r} (tenants: {', '.join(known) or 'none'})"
                    )
            if backfill and cursor is None:
                await backfill_drift(target.store, tenant)
            page = await list_drift_events(StoreDriftSource(target.store), tenant, cursor, limit)
            return await annotate_page(page, Radii(target.store), ReachRule(reach_high))
        finally:
            await _close(target)

    def cluster_tenant() -> TenantRef:
        if store_dir is not None or not tenant:
            what = "--unaccepted reads a cluster" if unaccepted else "without DIR, drift list reads a cluster"
            raise _fail(f"{what}: pass --tenant NAME -n NAMESPACE and no DIR")
        try:
            return tenant_ref(tenant, namespace, kubeconfig, context)
        except typer.BadParameter as exc:
            raise _fail(str(exc)) from None

    if all_namespaces and (not unaccepted or store_dir is not None or tenant):
        raise _fail("-A lists every JiraTenant's unaccepted changes: use it with --unaccepted, without DIR or --tenant")
    if unaccepted and store_dir is None and not tenant:
        scope = None if all_namespaces else (namespace or context_namespace(kubeconfig, context))
        many = asyncio.run(_unaccepted_of_all(scope, kubeconfig, context))
        print_many_outstanding(many, fmt, scope)
        return
    if unaccepted:
        ref = cluster_tenant()
        found = asyncio.run(_unaccepted(ref))
        print_outstanding(ref, found, fmt)
        return
    try:
        if store_dir is None:
            ref = cluster_tenant()
            s3 = s3options.s3_config(s3_endpoint, s3_bucket, s3_region, s3_prefix, s3_path_style) if s3_bucket else None
            page = asyncio.run(_cluster_page(ref, cursor, limit, s3))
        else:
            page = asyncio.run(one_page(store_dir))
    except (StoreError, InvalidCursor, KeyError, KubeError) as exc:
        if isinstance(exc, KubeError) and exc.status is None:
            raise  # the API server cannot be reached: the CLI's error boundary says so, exit 1
        raise _fail(str(exc)) from None
    if fmt in (OutputFormat.json, OutputFormat.yaml):
        write_data(page.to_dict(), fmt)
        return
    console = Console()
    wide = fmt is OutputFormat.wide
    reach = any(e.change.affects for e in page.items)  # the column only when some change reaches a project
    table = change_table(["Captured", "Tenant", "Type"], ["Affects"] if reach else [], wide=wide)
    for e in page.items:
        c = e.change
        captured = e.captured_at.strftime("%Y-%m-%d %H:%M")
        affects = [text(c.affects_text())] if reach else []
        table.add_row(captured, text(e.tenant), e.type, *change_cells(c), *affects, *([text(c.key)] if wide else []))
    console.print(table)
    shown = f"{len(page.items)} of {page.total_count} events"
    console.print(f"page {page.page} (limit {page.limit}): {shown}", highlight=False)
    if page.has_more:
        if store_dir is None:
            tenant_opt = f" {cluster_tenant().flags()}"
        else:
            tenant_opt = f" --tenant {tenant}" if tenant else ""
        where = f" {store_dir}" if store_dir else ""
        command = f"jiradrift drift list{where} --limit {page.limit}{tenant_opt}"
        console.print(
            f"next: {command} --cursor {page.next_cursor}",
            highlight=False,
            soft_wrap=True,
        )


async def _unaccepted(ref: TenantRef) -> list[Outstanding]:
    try:
        async with await Kube.connect(ref.kubeconfig, ref.context) as kube:
            return await outstanding(kube, ref.namespace, ref.name)
    except (LookupError, StoreError, KubeError) as exc:
        if isinstance(exc, KubeError) and exc.status is None:
            raise  # the API server cannot be reached: the CLI's error boundary says so, exit 1
        raise _fail(str(exc).strip("'\"")) from None


async def _unaccepted_of_all(
    namespace: str | None, kubeconfig: Path | None, context: str | None
) -> list[tuple[TenantRef, list[Outstanding] | str]]:
    """Every JiraTenant's unaccepted changes, in ``namespace`` or (None) the whole cluster, by name; a
    tenant whose changes cannot be read (gone meanwhile, a damaged store) gets the reason instead."""
    async with await Kube.connect(kubeconfig, context) as kube:
        try:
            tenants = await kube.list_all(resource_path(GROUP, VERSION, "jiratenants", namespace))
        except KubeError as exc:
            if exc.status is None:
                raise  # the API server cannot be reached: the CLI's error boundary says so, exit 1
            raise _fail(str(exc)) from None
        names = sorted((t["metadata"]["namespace"], t["metadata"]["name"]) for t in tenants)
        found: list[tuple[TenantRef, list[Outstanding] | str]] = []
        for ns, name in names:
            ref = TenantRef(ns, name, kubeconfig, context)
            try:
                found.append((ref, await outstanding(kube, ns, name)))
            except (LookupError, StoreError, KubeError) as exc:
                if isinstance(exc, KubeError) and exc.status is None:
                    raise
                found.append((ref, str(exc).strip("'\"")))
        return found


async def _cluster_page(ref: TenantRef, cursor: str | None, limit: int, s3: S3Config | None = None) -> DriftPage:
    """Drift events of one JiraTenant in the cluster of the kubeconfig; with ``s3``, the payloads are
    read from the operator's S3 store (``PREFIX/NAMESPACE/``)."""
    namespace, name, tenant = ref.namespace, ref.name, str(ref)
    if s3 is not None:
        async with S3Client.connect(s3) as root, await Kube.connect(ref.kubeconfig, ref.context) as kube:
            s3_store = S3Store.for_namespace(root, namespace)
            source = KubernetesDriftSource(kube, namespace, name, s3_store)
            return await list_drift_events(source, tenant, cursor, limit)
    async with await Kube.connect(ref.kubeconfig, ref.context) as kube:
        store = await cluster_store(kube, namespace, tenant)
        return await list_drift_events(KubernetesDriftSource(kube, namespace, name, store), tenant, cursor, limit)
