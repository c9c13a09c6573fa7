"""``jiradrift comparison-report NS/NAME``: the full report a SiteComparison keeps in its left tenant's store."""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated, Any

import orjson
import typer

from jiradrift.api.resources import GROUP, VERSION
from jiradrift.cmd.cluster import cluster_store
from jiradrift.compare.report import read_report
from jiradrift.kube.client import Kube, KubeError, resource_path
from jiradrift.model.store_errors import StoreError


class ReportMissing(Exception):
    pass


async def fetch_report(comparison: str, kubeconfig: str | None = None) -> dict[str, Any]:
    """The report ``status.report`` of SiteComparison ``NAMESPACE/NAME`` names, checked against its digest."""
    namespace, _, name = comparison.partition("/")
    if not namespace or not name:
        raise ReportMissing(f"{comparison!r}: name the SiteComparison as NAMESPACE/NAME")
    async with await Kube.connect(kubeconfig) as kube:
        body = await kube.get_or_none(resource_path(GROUP, VERSION, "sitecomparisons", namespace, name))
        if body is None:
            raise ReportMissing(f"SiteComparison {comparison} does not exist")
        ref = (body.get("status") or {}).get("report")
        if not ref:
            message = (body.get("status") or {}).get("message") or "it has not been compared yet"
            raise ReportMissing(f"SiteComparison {comparison} keeps no report: {message}")
        left = f"{namespace}/{body['spec']['left']['name']}"
        store = await cluster_store(kube, namespace, left)
        report = await read_report(store, str(ref["key"]), str(ref.get("digest") or ""))
    if report is None:
        raise ReportMissing(f"the report of SiteComparison {comparison} ({ref['key']}) is gone from {ref['store']}")
    return report


def comparison_report_command(
    comparison: Annotated[str, typer.Argument(help="The SiteComparison, NAMESPACE/NAME.")],
    kubeconfig: Annotated[
        str | None, typer.Option("--kubeconfig", help="Default: $KUBECONFIG, then in-cluster.")
    ] = None,
) -> None:
    """Print the full report of a SiteComparison's last comparison (JSON, as jiradrift compare -o json).

    \b
    jiradrift comparison-report jiradrift/prod-vs-sandbox > report.json
    Exit code: 0 printed, 2 error.
    """
    try:
        report = asyncio.run(fetch_report(comparison, kubeconfig))
    except (ReportMissing, KubeError, StoreError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
