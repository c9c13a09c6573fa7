"""The cluster admin's settings of the history sink (``jiradrift run --history-hosts``, chart ``history.*``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from jiradrift.net.hosts import HostAllowlist

HISTORY_HOSTS_ENV = "JIRADRIFT_HISTORY_HOSTS"


@dataclass(frozen=True)
class HistorySettings:
    """``hosts``: where tenants' history may be pushed (empty: nowhere, spec.history is refused);
    ``workdir``: the local mirrors (an emptyDir: a restart fetches again); ``timeout_seconds``: one publish;
    ``max_concurrent_pushes``: publishes at once in this process (outside the capture slots; one per
    tenant at a time); ``max_waiting_tenants``: tenants with a publish running or waiting, beyond which a
    publish is left to the tenant's next Snapshot (which commits everything the branch lacks)."""

    hosts: HostAllowlist = field(default_factory=lambda: HostAllowlist(()))
    workdir: Path = Path("/tmp/jiradrift-history")
    timeout_seconds: float = 120.0
    max_concurrent_pushes: int = 4
    max_waiting_tenants: int = 4096
