"""What the CLI commands share about output: ``-o`` formats, deprecated flag aliases, and how a
change or a drift report reads in a table.

Results go to stdout (tables, JSON, YAML); progress, warnings and deprecation notes to stderr.
Items are shown by what people call them (kind and name); the key (``kind/id``) is in ``-o wide``
and in JSON/YAML, where scripts and ignore rules need it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

import orjson
import typer
import yaml
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from jiradrift.model.kinds import Severity
from jiradrift.model.report import Change, DriftReport, display_value

SEVERITY_STYLE = {"high": "bold red", "medium": "yellow", "low": "dim"}


class OutputFormat(StrEnum):
    table = "table"
    wide = "wide"
    json = "json"
    yaml = "yaml"


OUTPUT = typer.Option(None, "--output", "-o", help="Output format: table, wide, json or yaml.")
# Kept for scripts written before -o: `--format table|json`.
LEGACY_FORMAT = typer.Option(None, "--format", hidden=True, help="Deprecated: use -o/--output.")


def deprecated(old: str, new: str) -> None:
    """One line on stderr for a flag that still works but has a kubectl-style replacement."""
    typer.echo(f"warning: {old} is deprecated; use {new}", err=True)


def output_format(output: OutputFormat | None, legacy: OutputFormat | None) -> OutputFormat:
    if legacy is not None:
        deprecated("--format", "-o/--output")
    return output or legacy or OutputFormat.table


def write_data(data: Any, fmt: OutputFormat) -> None:
    """A JSON or YAML document on stdout."""
    if fmt is OutputFormat.yaml:
        sys.stdout.write(yaml.safe_dump(orjson.loads(orjson.dumps(data)), sort_keys=False, allow_unicode=True))
        return
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def severity_cell(severity: Severity) -> str:
    return f"[{SEVERITY_STYLE[severity.value]}]{severity.value}[/]"


def item_cells(change: Change) -> tuple[str, str]:
    """(kind, what people call the item): its name, else the id part of its key; as table text."""
    kind, _, ident = change.key.partition("/")
    return escape(kind), escape(change.name or ident or change.key)


def text(value: str) -> str:
    """Data as table text: ``[...]`` in a path or a name is not markup."""
    return escape(value)


def old_new(change: Change, width: int) -> tuple[str, str]:
    return (
        "" if change.old is None else escape(display_value(change.old, width)),
        "" if change.new is None else escape(display_value(change.new, width)),
    )


CHANGE_COLUMNS = ["Severity", "Op", "Kind", "Name", "Path", "Old → New"]


def change_cells(change: Change) -> list[str]:
    """The cells under CHANGE_COLUMNS for one change, as table text."""
    kind, name = item_cells(change)
    old_to_new = f"{display_value(change.old, 30)} → {display_value(change.new, 30)}"
    return [severity_cell(change.severity), change.op.value, kind, name, text(change.path) or "—", text(old_to_new)]


def change_table(before: list[str], after: list[str], *, wide: bool) -> Table:
    """A table of changes: ``before`` + CHANGE_COLUMNS + ``after`` (+ Key in -o wide)."""
    table = Table()
    for column in [*before, *CHANGE_COLUMNS, *after, *(["Key"] if wide else [])]:
        table.add_column(column, overflow="fold")
    return table


def by_severity(changes: Sequence[Change]) -> list[Change]:
    """Highest severity first; within one severity, the report's order (by key, then path)."""
    return sorted(changes, key=lambda c: -c.severity.rank)


def report_order(reports: Sequence[DriftReport]) -> list[DriftReport]:
    """Reports with the most severe changes first, then by tenant and type."""

    def rank(r: DriftReport) -> int:
        highest = r.highest_severity
        return highest.rank if highest else -1

    return sorted(reports, key=lambda r: (-rank(r), r.tenant, r.type))


def print_reports(console: Console, reports: Sequence[DriftReport], *, wide: bool = False) -> None:
    """The diff as people read it: types with changes, most severe first; the rest on one line; a total."""
    quiet = [r for r in reports if not r.changes and r.complete]
    for report in report_order([r for r in reports if r not in quiet]):
        _print_report(console, report, wide=wide)
    if quiet:
        names = ", ".join(escape(f"{r.tenant}/{r.type}") for r in sorted(quiet, key=lambda r: (r.tenant, r.type)))
        console.print(f"[dim]no changes: {names}[/dim]", highlight=False)
    total = sum(r.change_count for r in reports)
    highest = max((r.highest_severity for r in reports if r.highest_severity), key=lambda s: s.rank, default=None)
    drifted = sum(1 for r in reports if r.changes)
    summary = f"total: {plural(total, 'change')}"
    if total:
        summary += (
            f" in {drifted} of {plural(len(reports), 'snapshot type')} (highest: {highest.value if highest else '-'})"
        )
    else:
        summary += f" in {plural(len(reports), 'snapshot type')}"
    console.print(f"[bold]{summary}[/bold]", highlight=False)


def _print_report(console: Console, report: DriftReport, *, wide: bool) -> None:
    highest = report.highest_severity
    counts = [
        f"{n} {word}" for n, word in ((report.added, "added"), (report.removed, "removed"), (report.changed, "changed"))
    ]
    extra = f", {report.ignored} ignored" if report.ignored else ""
    console.print(
        f"[bold]{escape(report.tenant)}/{report.type}[/bold]: {plural(report.change_count, 'change')}"
        f"{f' ({highest.value})' if highest else ''} in {', '.join(counts)} items{extra}  "
        f"[dim]{escape(str(report.old_snapshot))} → {escape(report.new_snapshot)}[/dim]",
        highlight=False,
    )
    if not report.complete:
        console.print(f"  [yellow]{report.unknown_text()}[/yellow]: not counted as changes", highlight=False)
    if not report.changes:
        return
    table = Table(show_lines=False)
    reach = any(c.affects for c in report.changes)  # the column only when some change reaches a project
    columns = ["Severity", "Op", "Kind", "Name", "Path", "Old", "New"]
    columns += (["Affects"] if reach else []) + (["Key"] if wide else [])
    for column in columns:
        table.add_column(column, overflow="fold")
    width = 80 if wide else 40
    for c in by_severity(report.changes):
        kind, name = item_cells(c)
        row = [severity_cell(c.severity), c.op.value, kind, name, text(c.path) or "—", *old_new(c, width)]
        table.add_row(*row, *([text(c.affects_text())] if reach else []), *([text(c.key)] if wide else []))
    console.print(table)
