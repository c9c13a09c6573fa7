"""The full report of a SiteComparison, kept in the left tenant's store beside its snapshots.

    kept = await keep_report(store, "acme.prod-vs-sandbox", result.to_dict(), owner)  # status.report
    report = await read_report(store, kept.key, kept.digest)  # what jiradrift compare -o json gives

Every store keeps reports (:class:`ReportStore`): the Secret and ConfigMap stores the latest one, owned
by the comparison; the filesystem and S3 stores the newest few (``layout.REPORTS_KEPT``), each at most
``layout.MAX_REPORT_BYTES`` compressed, deleted with the comparison (``delete_reports``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import orjson


@runtime_checkable
class ReportStore(Protocol):
    @property
    def report_where(self) -> str: ...

    async def put_report(self, name: str, report: bytes, owner: Mapping[str, Any] | None = None) -> str: ...

    async def get_report(self, key: str) -> bytes | None: ...

    async def delete_reports(self, name: str) -> None: ...


@dataclass(frozen=True)
class KeptReport:
    store: str
    key: str
    digest: str
    bytes: int


def report_name(namespace: str, comparison: str) -> str:
    return f"{namespace}.{comparison}"


async def keep_report(
    store: ReportStore, name: str, report: dict[str, Any], owner: Mapping[str, Any] | None = None
) -> KeptReport:
    """Write ``report`` (JSON) to ``store``, replacing the one kept under ``name`` before."""
    data = orjson.dumps(report)
    key = await store.put_report(name, data, owner)
    return KeptReport(store.report_where, key, "sha256:" + hashlib.sha256(data).hexdigest(), len(data))


async def read_report(store: ReportStore, key: str, digest: str | None = None) -> dict[str, Any] | None:
    """The report kept under ``key`` (None when gone); ValueError when it is not the one ``digest`` names."""
    data = await store.get_report(key)
    if data is None:
        return None
    if digest and "sha256:" + hashlib.sha256(data).hexdigest() != digest:
        raise ValueError(f"comparison report {key} is not the one the status names ({digest}); compare again")
    report: dict[str, Any] = orjson.loads(data)
    return report
