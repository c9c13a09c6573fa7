"""CLI commands of the snapshot core: ``jiradrift diff`` and ``jiradrift drift list``.

A SNAPSHOT argument is one of:

- ``STORE_DIR``: a store written by ``jiradrift snapshot --out STORE_DIR``; the newest snapshot of
  each tenant and type in it is used (``--from`` / ``--to`` pick ids instead);
- ``STORE_DIR/snapshots/<id>``: one snapshot inside a store.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from jiradrift.model.ignore import InvalidIgnoreRule
from jiradrift.model.report import DriftReport, display_value
from jiradrift.model.store_errors import StoreError
from jiradrift.snapshot.diff import diff_manifests
from jiradrift.snapshot.drift import DriftPage, InvalidCursor, StoreDriftSource, list_drift_events
from jiradrift.snapshot.drift_source import KubernetesDriftSource
from jiradrift.snapshot.recording import backfill_drift, predecessor_of
from jiradrift.store.configmap import ConfigMapStore, SecretStore
from jiradrift.store.filesystem import FilesystemStore


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


_SEVERITY_STYLE = {"high": "bold red", "medium": "yellow", "low": "dim"}


def _fail(message: str) -> typer.Exit:
    Console(stderr=True).print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(2)


@dataclass(frozen=True)
class _Target:
    store: FilesystemStore
    snapshot_id: str | None  # None: the newest per tenant and type


def _open_target(path: Path) -> _Target:
    if path.parent.name == "snapshots" and (path / "manifest.json.zst").exists():
        return _Target(FilesystemStore.open(path.parent.parent), path.name)
    return _Target(FilesystemStore.open(path), None)


class _BothStores:
    """Reads bodies from the newer store, falling back to the older one."""

    def __init__(self, old: FilesystemStore, new: FilesystemStore) -> None:
        self.old, self.new = old, new

    def get_item(self, digest: str) -> bytes:
        try:
            return self.new.get_item(digest)
        except KeyError:
            return self.old.get_item(digest)


def _newest_per_stream(store: FilesystemStore, types: list[str]) -> dict[tuple[str, str], str]:
    newest: dict[tuple[str, str], str] = {}
    for info in store.list_snapshots():
        if not types or info.type in types:
            newest.setdefault((info.tenant, info.type), info.snapshot_id)
    return newest


def _stream_of(store: FilesystemStore, snapshot_id: str) -> tuple[str, str]:
    manifest = store.get_manifest(snapshot_id)
    return (manifest.tenant, manifest.type)


def _pairs(
    a: _Target, b: _Target | None, from_id: str | None, to_id: str | None, types: list[str]
) -> list[tuple[str, str]]:
    """(old id, new id) pairs to diff, explained when there are none."""
    old_id = from_id or a.snapshot_id
    if b is None:
        targets = [to_id] if to_id else list(_newest_per_stream(a.store, types).values())
        pairs = []
        for target in targets:
            base = old_id or predecessor_of(a.store, target)
            if base is None:
                raise _fail(
                    f"snapshot {target!r} in {a.store.root} has no earlier snapshot of its tenant and type "
                    f"to compare with; pass --from ID or a second store"
                )
            pairs.append((base, target))
        if not pairs:
            raise _fail(f"{a.store.root} holds no snapshot{' of the given --type' if types else ''}")
        return pairs
    new_id: str | None = to_id or b.snapshot_id
    if old_id and new_id:
        return [(old_id, new_id)]
    old_newest = _newest_per_stream(a.store, types)
    new_newest = _newest_per_stream(b.store, types)
    if old_id:
        streams = [_stream_of(a.store, old_id)]
    elif new_id:
        streams = [_stream_of(b.store, new_id)]
    else:
        streams = sorted(old_newest.keys() & new_newest.keys())
    pairs = [
        (old_id or old_newest[s], new_id or new_newest[s])
        for s in streams
        if (old_id or s in old_newest) and (new_id or s in new_newest)
    ]
    if not pairs:
        raise _fail(
            f"{a.store.root} and {b.store.root} share no tenant and snapshot type; pick snapshots with --from and --to"
        )
    return pairs


def _print_report(console: Console, report: DriftReport) -> None:
    highest = report.highest_severity
    console.print(
        f"[bold]{report.tenant}/{report.type}[/bold]  {report.old_snapshot} → {report.new_snapshot}: "
        f"{report.added} added, {report.removed} removed, {report.changed} changed items; "
        f"{report.change_count} changes (highest: {highest.value if highest else 'none'}"
        f"{f', {report.ignored} ignored' if report.ignored else ''})",
        highlight=False,
    )
    if not report.complete:
        console.print(f"  [yellow]{report.unknown_text()}[/yellow]: not counted as changes", highlight=False)
    if not report.changes:
        return
    table = Table(show_lines=False)
    for column in ("Severity", "Op", "Item", "Path", "Old", "New"):
        table.add_column(column, overflow="fold")
    for c in report.changes:
        table.add_row(
            f"[{_SEVERITY_STYLE[c.severity.value]}]{c.severity.value}[/]",
            c.op.value,
            f"{c.key} ({c.name})" if c.name else c.key,
            c.path or "—",
            "" if c.old is None else display_value(c.old, 40),
            "" if c.new is None else display_value(c.new, 40),
        )
    console.print(table)


def diff_command(
    snapshot_a: Annotated[
        Path, typer.Argument(metavar="DIR_A", help="Older side: STORE_DIR or STORE_DIR/snapshots/ID.")
    ],
    snapshot_b: Annotated[
        Path | None,
        typer.Argument(metavar="[DIR_B]", help="Newer side; omit to compare within DIR_A."),
    ] = None,
    from_id: Annotated[str | None, typer.Option("--from", help="Older snapshot id (in DIR_A).")] = None,
    to_id: Annotated[str | None, typer.Option("--to", help="Newer snapshot id (in DIR_B, else DIR_A).")] = None,
    types: Annotated[list[str] | None, typer.Option("--type", help="Only these snapshot types (repeatable).")] = None,
    ignore: Annotated[
        list[str] | None,
        typer.Option("--ignore", help="Ignore rule KEY_GLOB[:PATH_GLOB], e.g. 'field/*:description' (repeatable)."),
    ] = None,
    output: Annotated[OutputFormat, typer.Option("--format", help="table or json.")] = OutputFormat.table,
    exit_code: Annotated[bool, typer.Option("--exit-code", help="Exit 1 when there is drift.")] = False,
) -> None:
    """Show what changed between two snapshots.

    \b
    jiradrift diff OLD_STORE NEW_STORE          newest of each tenant/type in OLD vs in NEW
    jiradrift diff STORE                        newest of each tenant/type vs its predecessor
    jiradrift diff STORE --from ID1 --to ID2    two snapshots of one store
    jiradrift diff STORE/snapshots/ID1 STORE/snapshots/ID2
    """
    try:
        a = _open_target(snapshot_a)
        b = _open_target(snapshot_b) if snapshot_b is not None else None
        reports = []
        for old_id, new_id in _pairs(a, b, from_id, to_id, types or []):
            new_store = b.store if b else a.store
            old = a.store.get_manifest(old_id)
            new = new_store.get_manifest(new_id)
            reader = _BothStores(a.store, new_store)
            reports.append(diff_manifests(old, new, reader, ignore or []))
    except (StoreError, InvalidIgnoreRule, KeyError) as exc:
        raise _fail(str(exc)) from None
    if output is OutputFormat.json:
        sys.stdout.write(orjson.dumps({"reports": [r.to_dict() for r in reports]}, option=orjson.OPT_INDENT_2).decode())
        sys.stdout.write("\n")
    else:
        console = Console()
        for report in reports:
            _print_report(console, report)
    if exit_code and any(r.has_drift for r in reports):
        raise typer.Exit(1)


drift_app = typer.Typer(help="Drift events recorded in a store.", no_args_is_help=True)


@drift_app.command("list")
def drift_list_command(
    store_dir: Annotated[
        Path | None,
        typer.Argument(
            metavar="[DIR]",
            help="A store written by `jiradrift snapshot --out DIR`; omit it to read a cluster's "
            "Snapshots (with --tenant NAMESPACE/NAME and your kubeconfig).",
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="Events per page (clamped to 1..500).")] = 100,
    cursor: Annotated[str | None, typer.Option("--cursor", help="next_cursor of the previous page.")] = None,
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant (default: all).")] = None,
    output: Annotated[OutputFormat, typer.Option("--format", help="table or json.")] = OutputFormat.table,
    backfill: Annotated[
        bool,
        typer.Option("--backfill/--no-backfill", help="First record drift for snapshots that have no report."),
    ] = True,
) -> None:
    """List drift events newest first, one page at a time.

    Each event is one change in one snapshot against its predecessor. Pass the printed
    cursor to --cursor for the next page, with the same --tenant as for the first page.
    """
    try:
        if store_dir is None:
            page = _cluster_page(tenant, cursor, limit)
        else:
            store = FilesystemStore.open(store_dir)
            if backfill and cursor is None:
                backfill_drift(store, tenant)
            page = list_drift_events(StoreDriftSource(store), tenant, cursor, limit)
    except (StoreError, InvalidCursor, KeyError) as exc:
        raise _fail(str(exc)) from None
    if output is OutputFormat.json:
        sys.stdout.write(orjson.dumps(page.to_dict(), option=orjson.OPT_INDENT_2).decode())
        sys.stdout.write("\n")
        return
    console = Console()
    table = Table()
    for column in ("Captured", "Tenant", "Type", "Severity", "Op", "Item", "Path", "Old → New"):
        table.add_column(column, overflow="fold")
    for e in page.items:
        c = e.change
        table.add_row(
            e.captured_at.strftime("%Y-%m-%d %H:%M"),
            e.tenant,
            e.type,
            f"[{_SEVERITY_STYLE[c.severity.value]}]{c.severity.value}[/]",
            c.op.value,
            f"{c.key} ({c.name})" if c.name else c.key,
            c.path or "—",
            f"{display_value(c.old, 30)} → {display_value(c.new, 30)}",
        )
    console.print(table)
    shown = f"{len(page.items)} of {page.total_count} events"
    console.print(f"page {page.page} (limit {page.limit}): {shown}", highlight=False)
    if page.has_more:
        tenant_opt = f" --tenant {tenant}" if tenant else ""
        where = f" {store_dir}" if store_dir else ""
        command = f"jiradrift drift list{where} --limit {page.limit}{tenant_opt}"
        console.print(
            f"next: {command} --cursor {page.next_cursor}",
            highlight=False,
            soft_wrap=True,
        )


def _cluster_page(tenant: str | None, cursor: str | None, limit: int) -> DriftPage:
    """Drift events of one JiraTenant in the cluster of the current kubeconfig."""
    from kubernetes import config as k8s_config

    if not tenant or tenant.count("/") != 1:
        raise _fail("without DIR, pass --tenant NAMESPACE/NAME to read a JiraTenant's drift from the cluster")
    namespace, name = tenant.split("/")
    api = k8s_config.new_client_from_config()
    # The operator's default store is Secrets; an operator run with --store=configmap used ConfigMaps.
    store: ConfigMapStore = SecretStore(api, namespace, tenant)
    if next(iter(store.list_manifests(tenant)), None) is None:
        store = ConfigMapStore(api, namespace, tenant)
    return list_drift_events(KubernetesDriftSource(api, namespace, name, store), tenant, cursor, limit)
