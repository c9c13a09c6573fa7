"""``jiradrift comparison-report NS/NAME``: the full report a SiteComparison keeps in its left tenant's store."""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated, Any

import orjson
import typer

from jiradrift.api.resources import GROUP, VERSION
from jiradrift.cmd import s3options
from jiradrift.cmd.cluster import cluster_store
from jiradrift.compare.report import read_report
from jiradrift.kube.client import Kube, KubeError, resource_path
from jiradrift.model.store_errors import StoreError
from jiradrift.store.s3 import S3Store
from jiradrift.store.s3client import S3Client, S3Config


class ReportMissing(Exception):
    pass


async def fetch_report(comparison: str, kubeconfig: str | None = None, s3: S3Config | None = None) -> dict[str, Any]:
    """The report ``status.report`` of SiteComparison ``NAMESPACE/NAME`` names, checked against its digest
    (read from the operator's S3 store, ``PREFIX/NAMESPACE/``, with ``s3``)."""
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
        key, digest = str(ref["key"]), str(ref.get("digest") or "")
        if s3 is not None:
            async with S3Client.connect(s3) as root:
                report = await read_report(S3Store.for_namespace(root, namespace), key, digest)
        elif str(ref.get("store") or "").startswith("s3://"):
            raise ReportMissing(
                f"SiteComparison {comparison} keeps its report in {ref['store']}: "
                f"name the operator's S3 store with --s3-bucket (and --s3-endpoint) or JIRADRIFT_S3_*"
            )
        else:
            left = f"{namespace}/{body['spec']['left']['name']}"
            report = await read_report(await cluster_store(kube, namespace, left), key, digest)
    if report is None:
        raise ReportMissing(f"the report of SiteComparison {comparison} ({ref['key']}) is gone from {ref['store']}")
    return report


def comparison_report_command(
    comparison: Annotated[str, typer.Argument(help="The SiteComparison, NAMESPACE/NAME.")],
    kubeconfig: Annotated[
        str | None, typer.Option("--kubeconfig", help="Default: $KUBECONFIG, then in-cluster.")
    ] = None,
    s3_endpoint: str = s3options.S3_ENDPOINT,
    s3_bucket: str = s3options.S3_BUCKET,
    s3_region: str = s3options.S3_REGION,
    s3_prefix: str = s3options.S3_PREFIX,
    s3_path_style: bool = s3options.S3_PATH_STYLE,
) -> None:
    """Print the full report of a SiteComparison's last comparison (JSON, as jiradrift compare -o json).

    \b
    jiradrift comparison-report jiradrift/prod-vs-sandbox > report.json
    jiradrift comparison-report jiradrift/prod-vs-sandbox --s3-bucket B    operator run with --store s3
    Exit code: 0 printed, 2 error.
    """
    s3 = s3options.s3_config(s3_endpoint, s3_bucket, s3_region, s3_prefix, s3_path_style) if s3_bucket else None
    try:
        report = asyncio.run(fetch_report(comparison, kubeconfig, s3))
    except (ReportMissing, KubeError, StoreError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
