"""``jiradrift drift list --tenant NAME -n NS --unaccepted``: exactly the outstanding changes.

For each snapshot type, the diff between the accepted snapshot and the newest complete one (what
the tenant's ``Drifted`` condition counts), with the Jira audit-log attribution the operator
recorded on the Snapshots in between (``status.drift.changes[].changedBy``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.console import Console

from jiradrift.api.baseline import SnapshotEntry, baselines
from jiradrift.api.resources import GROUP, LABEL_TENANT, VERSION
from jiradrift.cmd.cluster import TenantRef, cluster_store
from jiradrift.cmd.output import OutputFormat, change_cells, change_table, plural, text, write_data
from jiradrift.kube.client import Kube, KubeError, resource_path
from jiradrift.kube.names import label_value
from jiradrift.model.report import DriftReport
from jiradrift.snapshot.recording import diff_stored


@dataclass(slots=True)
class Outstanding:
    """One type's unaccepted changes."""

    type: str
    accepted: str
    newest: str
    since: str | None
    report: DriftReport
    changed_by: dict[tuple[str, str], str] = field(default_factory=dict)

    def attribution(self, key: str, path: str) -> str | None:
        return self.changed_by.get((key, path)) or self.changed_by.get((key, ""))


async def outstanding(kube: Kube, namespace: str, name: str) -> list[Outstanding]:
    """The unaccepted changes of JiraTenant ``namespace/name``, per snapshot type."""
    try:
        tenant = await kube.get(resource_path(GROUP, VERSION, "jiratenants", namespace, name))
    except KubeError as exc:
        if exc.not_found:
            raise LookupError(
                f"JiraTenant {namespace}/{name} not found (check the namespace and your context)"
            ) from None
        raise
    ignore = tuple(((tenant.get("spec") or {}).get("drift") or {}).get("ignore") or ())
    path = resource_path(GROUP, VERSION, "snapshots", namespace)
    objects = await kube.list_all(path, labelSelector=f"{LABEL_TENANT}={label_value(name)}")
    by_name = {o["metadata"]["name"]: o for o in objects}
    entries = [SnapshotEntry.from_object(o) for o in objects]
    key = f"{namespace}/{name}"
    store = await cluster_store(kube, namespace, key)
    result = []
    for stype, base in baselines(entries).items():
        if not base.outstanding or base.accepted is None or base.newest is None:
            continue
        old, new = await store.get_manifest(base.accepted.name), await store.get_manifest(base.newest.name)
        report = await diff_stored(store, old, new, ignore)
        changed_by: dict[tuple[str, str], str] = {}
        later = sorted(
            (e for e in entries if e.type == stype and e.order > base.accepted.order and e.order <= base.newest.order),
            key=lambda e: e.order,
        )
        for entry in later:  # newest attribution wins
            for change in (((by_name[entry.name].get("status") or {}).get("drift") or {}).get("changes")) or ():
                if change.get("changedBy"):
                    changed_by[(change.get("key", ""), change.get("path", ""))] = change["changedBy"]
        since = base.since.isoformat().replace("+00:00", "Z") if base.since else None
        result.append(Outstanding(stype, base.accepted.name, base.newest.name, since, report, changed_by))
    return result


def to_json(tenant: str, found: list[Outstanding]) -> dict[str, Any]:
    return {
        "tenant": tenant,
        "total": sum(o.report.change_count for o in found),
        "types": [
            {
                "type": o.type,
                "accepted": o.accepted,
                "newest": o.newest,
                "since": o.since,
                **{k: v for k, v in o.report.summary().items() if k not in ("tenant", "type")},
                "changes": [{**c.to_dict(), "changed_by": o.attribution(c.key, c.path)} for c in o.report.changes],
            }
            for o in found
        ],
    }


def print_outstanding(ref: TenantRef, found: list[Outstanding], fmt: OutputFormat) -> None:
    tenant = str(ref)
    if fmt in (OutputFormat.json, OutputFormat.yaml):
        write_data(to_json(tenant, found), fmt)
        return
    console = Console()
    total = sum(o.report.change_count for o in found)
    if not total:
        unknown = "; ".join(o.report.unknown_text() for o in found if not o.report.complete)
        console.print(f"{tenant}: no unaccepted changes{f' ({unknown})' if unknown else ''}", highlight=False)
        return
    wide = fmt is OutputFormat.wide
    table = change_table(["Type"], ["Changed by"], wide=wide)
    rows = [(o, c) for o in found for c in o.report.changes]
    for o, c in sorted(rows, key=lambda oc: -oc[1].severity.rank):
        attribution = text(o.attribution(c.key, c.path) or "—")
        table.add_row(o.type, *change_cells(c), attribution, *([text(c.key)] if wide else []))
    console.print(table)
    for o in found:
        extra = f"; {o.report.unknown_text()}" if not o.report.complete else ""
        console.print(
            f"{o.type}: {plural(o.report.change_count, 'change')} since {o.since or '?'} "
            f"({o.accepted} → {o.newest}){extra}",
            highlight=False,
        )
    console.print(f"total: {plural(total, 'unaccepted change')}", highlight=False)
    console.print(f"accept with: jiradrift accept {ref.name} -n {ref.namespace}", highlight=False)


def print_many_outstanding(
    found: list[tuple[TenantRef, list[Outstanding] | str]], fmt: OutputFormat, namespace: str | None
) -> None:
    """``drift list --unaccepted`` for every tenant of a namespace (``-n``) or the cluster (``-A``); a
    tenant whose changes could not be read shows its reason (and ``error`` in JSON), the others still show."""
    if fmt in (OutputFormat.json, OutputFormat.yaml):
        tenants = [
            {"tenant": str(ref), "error": each} if isinstance(each, str) else to_json(str(ref), each)
            for ref, each in found
        ]
        write_data({"tenants": tenants}, fmt)
        return
    console = Console()
    where = f"namespace {namespace}" if namespace else "any namespace"
    if not found:
        console.print(f"no JiraTenant in {where}", highlight=False)
        return
    read = [(ref, each) for ref, each in found if not isinstance(each, str)]
    wide = fmt is OutputFormat.wide
    table = change_table(["Tenant", "Type"], ["Changed by"], wide=wide)
    rows = [(ref, o, c) for ref, each in read for o in each for c in o.report.changes]
    for ref, o, c in sorted(rows, key=lambda r: -r[2].severity.rank):
        attribution = text(o.attribution(c.key, c.path) or "—")
        table.add_row(text(str(ref)), o.type, *change_cells(c), attribution, *([text(c.key)] if wide else []))
    if rows:
        console.print(table)
    for ref, each in found:
        if isinstance(each, str):
            console.print(f"{ref}: could not be read: {each}", highlight=False, markup=False)
            continue
        total = sum(o.report.change_count for o in each)
        unknown = "; ".join(o.report.unknown_text() for o in each if not o.report.complete)
        hint = f"; accept with: jiradrift accept {ref.name} -n {ref.namespace}" if total else ""
        console.print(
            f"{ref}: {plural(total, 'unaccepted change')}{f' ({unknown})' if unknown else ''}{hint}", highlight=False
        )
    grand = sum(o.report.change_count for _, each in read for o in each)
    console.print(f"total: {plural(grand, 'unaccepted change')} in {plural(len(found), 'tenant')}", highlight=False)
