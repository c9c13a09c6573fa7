"""``jiradrift compare LEFT RIGHT``: does one site's configuration match another's (sandbox vs production)?

Each side is a store written by ``jiradrift snapshot --out DIR`` (``DIR`` or ``DIR@TENANT`` when the
store holds several tenants) or a JiraTenant ``NAMESPACE/NAME`` whose snapshots the operator keeps
in the cluster (Secret or ConfigMap store): the newest complete snapshot of every type is read. Items are matched
by natural key (:mod:`jiradrift.snapshot.natural`), so equal configurations compare equal although
every id differs. No Jira request is made. Exit code: 0 equal, 1 different, 2 error.
"""

from __future__ import annotations

import asyncio
import gc
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from jiradrift.cmd.cluster import cluster_store
from jiradrift.cmd.errors import one_line
from jiradrift.compare.comparison import Comparison, InvalidPin, Pin, annotate_comparison, compare_sites
from jiradrift.compare.mapping import InvalidMapping, ValueMappings
from jiradrift.compare.sides import Side, read_side
from jiradrift.kube.client import Kube, KubeError
from jiradrift.model.ignore import InvalidIgnoreRule
from jiradrift.model.kinds import KINDS
from jiradrift.model.report import Change, display_value
from jiradrift.model.store_errors import StoreError
from jiradrift.snapshot.blast import REACH_HIGH, ReachRule
from jiradrift.snapshot.natural import NaturalIndex
from jiradrift.store.filesystem import FilesystemStore


class CompareFormat(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


class SideError(Exception):
    """A side cannot be read; the message says which and what to do."""


TENANT_REF = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-.a-z0-9]*[a-z0-9])?$")


async def load_side(spec: str, types: list[str], kubeconfig: str | None = None) -> Side:
    """The newest complete snapshot of each type of ``DIR``, ``DIR@TENANT`` or a JiraTenant
    ``NAMESPACE/NAME`` (its snapshots in the cluster's Secret or ConfigMap store)."""
    path, _, tenant = spec.partition("@")
    if not Path(path).is_dir():
        if TENANT_REF.match(spec):
            return await _tenant_side(spec, types, kubeconfig)
        raise SideError(
            f"{path!r} is neither a store directory (written by `jiradrift snapshot --out DIR`) "
            f"nor a JiraTenant NAMESPACE/NAME"
        )
    store = FilesystemStore.open(path)
    infos = [i for i in await store.list_snapshots(tenant or None) if i.complete and (not types or i.type in types)]
    tenants = sorted({i.tenant for i in infos})
    if not tenants:
        raise SideError(f"{spec!r} holds no complete snapshot{' of the given --type' if types else ''}")
    if len(tenants) > 1:
        raise SideError(f"{path!r} holds tenants {', '.join(tenants)}; name one as {path}@TENANT")
    side = await read_side(f"{path}@{tenants[0]}", store, tenants[0], types)
    assert side is not None  # the tenant has a complete snapshot
    return side


async def _tenant_side(tenant: str, types: list[str], kubeconfig: str | None) -> Side:
    namespace = tenant.split("/", 1)[0]
    try:
        async with await Kube.connect(kubeconfig) as kube:
            side = await read_side(tenant, await cluster_store(kube, namespace, tenant), tenant, types)
            if side is not None and side.items:
                return side
    except KubeError as exc:
        raise SideError(f"cannot read the snapshots of JiraTenant {tenant}: {exc}") from None
    raise SideError(
        f"JiraTenant {tenant} has no complete snapshot{' of the given --type' if types else ''} in the "
        f"cluster's Secret or ConfigMap store (is the name right, and has it completed a snapshot?)"
    )


COLUMNS = ("Severity", "Op", "Item", "Path", "Left", "Right", "Affects")
"""The columns of a comparison's changes, in text and markdown alike."""


def change_cells(change: Change) -> tuple[str, ...]:
    """One change as the :data:`COLUMNS` show it."""
    return (
        change.severity.value,
        change.op.value,
        change.key,
        change.path or "—",
        "" if change.old is None else display_value(change.old, 40),
        "" if change.new is None else display_value(change.new, 40),
        change.affects_text(),
    )


def more_line(result: Comparison, limit: int) -> str | None:
    """``… and N more (...)`` when ``limit`` cuts the changes short, else ``None``."""
    hidden = len(result.changes) - limit
    return f"… and {hidden} more (--limit, or -o json for all)" if hidden > 0 else None


@contextmanager
def gc_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _compare(
    a: Side,
    b: Side,
    ignore: list[str],
    maps: ValueMappings,
    pins: list[Pin],
    kinds: list[str] | None,
    reach_high: int,
) -> Comparison:
    result = compare_sites(
        NaturalIndex.build(a.items, in_place=True),
        NaturalIndex.build(b.items, in_place=True),
        left_name=a.label,
        right_name=b.label,
        ignore=ignore,
        mappings=maps,
        pins=pins,
        kinds=kinds,
    )
    return annotate_comparison(result, (a.radius, b.radius), ReachRule(reach_high))


def render_markdown(result: Comparison, limit: int) -> str:
    s = result.summary()
    verdict = "in sync" if not result.different else f"{len(result.changes)} difference(s)"
    lines = [
        f"## {result.left} vs {result.right}: {verdict}",
        "",
        f"{s['equal']} equal, {s['added']} only on the right, {s['removed']} only on the left, "
        f"{s['changed']} changed; highest severity: {s['highest_severity'] or 'none'}.",
        "",
    ]
    if result.renames:
        lines += ["Renamed: " + "; ".join(f"{r['kind']} `{r['left']}` → `{r['right']}`" for r in result.renames), ""]
    if result.changes:
        lines += ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        for c in result.changes[:limit]:
            lines.append("| " + " | ".join(x.replace("|", "\\|") for x in change_cells(c)) + " |")
        more = more_line(result, limit)
        if more:
            lines.append(f"\n{more}")
    if result.duplicates:
        lines += [
            "",
            "Duplicate names (matched by content): "
            + ", ".join(f"`{d['name']}` ({d['left']} left, {d['right']} right)" for d in result.duplicates),
        ]
    return "\n".join(lines) + "\n"


def _print_text(result: Comparison, limit: int) -> None:
    console = Console()
    s = result.summary()
    console.print(
        f"[bold]{result.left}[/bold] vs [bold]{result.right}[/bold]: "
        f"{'in sync' if not result.different else 'different'}; {s['equal']} equal, {s['added']} added, "
        f"{s['removed']} removed, {s['changed']} changed (highest: {s['highest_severity'] or 'none'}"
        f"{f', {result.ignored} ignored' if result.ignored else ''})",
        highlight=False,
    )
    for r in result.renames:
        console.print(
            f"  renamed {r['kind']}: {r['left']!r} → {r['right']!r} ({r['how']}, {r['similarity']})", highlight=False
        )
    if result.duplicates:
        names = ", ".join(f"{d['name']} ({d['left']} left, {d['right']} right)" for d in result.duplicates)
        console.print(f"  duplicate names, matched by content: {names}", highlight=False)
    if not result.changes:
        return
    table = Table()
    for column in COLUMNS:
        table.add_column(column, overflow="fold")
    for c in result.changes[:limit]:
        table.add_row(*change_cells(c))
    console.print(table)
    more = more_line(result, limit)
    if more:
        console.print(more, highlight=False)


def compare_command(
    left: Annotated[
        str,
        typer.Argument(metavar="LEFT", help="The reference: STORE_DIR[@TENANT] or a JiraTenant NAMESPACE/NAME."),
    ],
    right: Annotated[
        str, typer.Argument(metavar="RIGHT", help="The side compared with it: STORE_DIR[@TENANT] or NAMESPACE/NAME.")
    ],
    types: Annotated[list[str] | None, typer.Option("--type", help="Only these snapshot types (repeatable).")] = None,
    kinds: Annotated[
        list[str] | None, typer.Option("--kind", help="Only these kinds, e.g. workflow (repeatable).")
    ] = None,
    ignore: Annotated[
        list[str] | None,
        typer.Option("--ignore", help="Ignore rule on natural keys, e.g. 'workflow/*:description' (repeatable)."),
    ] = None,
    mappings: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="Expected value difference KIND:LEFT=RIGHT, KIND one of url, email-domain, group, account "
            "(repeatable), e.g. 'group:jira-administrators=sandbox-administrators'.",
        ),
    ] = None,
    pins: Annotated[
        list[str] | None,
        typer.Option("--pin", help="Match by hand: KIND/LEFT NAME=RIGHT NAME (repeatable)."),
    ] = None,
    output: Annotated[
        CompareFormat, typer.Option("--output", "-o", "--format", help="text, json or markdown (-o as in kubectl).")
    ] = CompareFormat.text,
    limit: Annotated[int, typer.Option("--limit", help="Changes shown in text and markdown.")] = 200,
    reach_high: Annotated[
        int,
        typer.Option("--reach-high", help="A medium change affecting this many projects counts as high (0: off)."),
    ] = REACH_HIGH,
    kubeconfig: Annotated[
        str | None, typer.Option("--kubeconfig", help="For NAMESPACE/NAME sides (default: $KUBECONFIG, in-cluster).")
    ] = None,
) -> None:
    """Compare two sites' stored configuration by natural key (no Jira request).

    \b
    jiradrift compare prod-store sandbox-store
    jiradrift compare jiradrift/acme-prod jiradrift/acme-sandbox     two JiraTenants in a cluster
    jiradrift compare prod-store sandbox-store --map group:jira-administrators=sandbox-admins -o markdown
    Exit code: 0 in sync, 1 different, 2 error.
    """
    try:
        for kind in kinds or []:
            if kind not in KINDS:
                raise InvalidMapping(f"unknown kind {kind!r}; kinds: {', '.join(sorted(KINDS))}")
        maps = ValueMappings.parse(mappings or [])
        pinned = [Pin.parse(p) for p in pins or []]

        async def both() -> tuple[Side, Side]:
            return await load_side(left, types or [], kubeconfig), await load_side(right, types or [], kubeconfig)

        with gc_paused():  # millions of acyclic JSON objects: collections would only walk them
            a, b = asyncio.run(both())
            result = _compare(a, b, ignore or [], maps, pinned, kinds or None, reach_high)
    except (SideError, StoreError, InvalidIgnoreRule, InvalidMapping, InvalidPin, KeyError, OSError) as exc:
        typer.echo(f"error: {one_line(str(exc))}", err=True)  # one line, never wrapped (as every command)
        raise typer.Exit(2) from None
    if output is CompareFormat.json:
        sys.stdout.write(orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
    elif output is CompareFormat.markdown:
        sys.stdout.write(render_markdown(result, limit))
    else:
        _print_text(result, limit)
    raise typer.Exit(1 if result.different else 0)
