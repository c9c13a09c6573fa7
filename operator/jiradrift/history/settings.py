"""The cluster admin's settings of the history sink (``jiradrift run --history-hosts``, chart ``history.*``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from jiradrift.net.hosts import HostAllowlist

HISTORY_HOSTS_ENV = "JIRADRIFT_HISTORY_HOSTS"


@dataclass(frozen=True)
class HistorySettings:
    """``hosts``: where tenants' history may be pushed (empty: nowhere, spec.history is refused);
    ``workdir``: the local mirrors (an emptyDir: a restart fetches again); ``timeout_seconds``: one publish."""

    hosts: HostAllowlist = field(default_factory=lambda: HostAllowlist(()))
    workdir: Path = Path("/tmp/jiradrift-history")
    timeout_seconds: float = 120.0
