"""Prometheus metrics of the operator (served on ``--metrics-port``, path ``/metrics``).

Each success measure of the design has a metric: snapshot duration and items, drift changes by
severity, Jira requests by status and rate-limit waits, lock acquisitions by result (lock
contention = denied / (acquired + denied)), token expiry, errors by reason.

The gauges the chart's PrometheusRule alerts on (``charts/*/templates/prometheusrule.yaml``, one
runbook section per alert in ``docs/runbook.md``) hold times and counts, never rates, so a rule
can compare them with ``time()`` and with each other.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from jiradrift.store.codec import skipped_total

REGISTRY = CollectorRegistry(auto_describe=True)

SNAPSHOT_DURATION = Histogram(
    "jiradrift_snapshot_duration_seconds",
    "Wall time of a snapshot capture, by outcome.",
    ["namespace", "tenant", "type", "phase"],
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800),
    registry=REGISTRY,
)
SNAPSHOT_ITEMS = Gauge(
    "jiradrift_snapshot_items",
    "Items in the latest snapshot.",
    ["namespace", "tenant", "type"],
    registry=REGISTRY,
)
STORE_OBJECTS_SKIPPED = Gauge(
    "jiradrift_store_objects_skipped",
    "Reads of stored objects skipped as planted or damaged (too large, not zstd or JSON, fields missing) "
    "since the operator started; each logs a warning naming the object.",
    registry=REGISTRY,
)
STORE_OBJECTS_SKIPPED.set_function(skipped_total)
SNAPSHOTS = Counter(
    "jiradrift_snapshots_total",
    "Snapshots finished, by phase.",
    ["namespace", "tenant", "type", "phase"],
    registry=REGISTRY,
)
DRIFT_CHANGES = Counter(
    "jiradrift_drift_changes_total",
    "Path-level drift changes detected, by severity.",
    ["namespace", "tenant", "type", "severity"],
    registry=REGISTRY,
)
COMPARISON_DIFFERENCES = Gauge(
    "jiradrift_comparison_differences",
    "Differences between the two tenants of a SiteComparison, by severity (handlers/comparison.py).",
    ["namespace", "comparison", "severity"],
    registry=REGISTRY,
)
JIRA_REQUESTS = Counter(
    "jiradrift_jira_requests_total",
    "Requests sent to Jira, by HTTP status.",
    ["namespace", "tenant", "status"],
    registry=REGISTRY,
)
RATE_LIMIT_WAITS = Counter(
    "jiradrift_jira_rate_limit_waits_total",
    "Times a 429/Retry-After made the client wait.",
    ["namespace", "tenant"],
    registry=REGISTRY,
)
RATE_LIMIT_WAIT_SECONDS = Counter(
    "jiradrift_jira_rate_limit_wait_seconds_total",
    "Seconds spent waiting on Jira rate limits.",
    ["namespace", "tenant"],
    registry=REGISTRY,
)
LOCK_ACQUISITIONS = Counter(
    "jiradrift_lock_acquisitions_total",
    "Snapshot lock attempts by result (acquired, denied, lost). Contention = denied / all.",
    ["result"],
    registry=REGISTRY,
)
TOKEN_EXPIRY = Gauge(
    "jiradrift_token_expiry_timestamp_seconds",
    "When the tenant's access token expires (Unix time).",
    ["namespace", "tenant"],
    registry=REGISTRY,
)
TOKEN_LAST_REFRESH = Gauge(
    "jiradrift_token_last_refresh_timestamp_seconds",
    "When the tenant's access token was last refreshed by jiradrift (Unix time), from status.token.",
    ["namespace", "tenant"],
    registry=REGISTRY,
)
TOKEN_REFRESH_FAILURES = Counter(
    "jiradrift_token_refresh_failures_total",
    "Times the operator could not get a usable OAuth or service-account access token, by reason "
    "(RefreshFailed, ReauthorizationPending, LeaseUnavailable, ...; the TokenFresh condition has the message).",
    ["namespace", "tenant", "reason"],
    registry=REGISTRY,
)
LAST_COMPLETE_SNAPSHOT = Gauge(
    "jiradrift_last_complete_snapshot_timestamp_seconds",
    "When the newest Completed Snapshot of the tenant and type finished (Unix time); "
    "also learnt from existing Snapshots at startup.",
    ["namespace", "tenant", "type"],
    registry=REGISTRY,
)
TENANT_INTERVAL = Gauge(
    "jiradrift_tenant_interval_seconds",
    "The tenant's spec.schedule.interval in seconds; absent while the tenant is paused.",
    ["namespace", "tenant"],
    registry=REGISTRY,
)
UNACCEPTED_CHANGES = Gauge(
    "jiradrift_unaccepted_changes",
    "Changes in the newest complete snapshots that are not yet accepted, by severity (the tenant's Drifted "
    "condition counts the same). Set by the accepted-baseline reconciliation; declared here for the alert rules.",
    ["namespace", "tenant", "severity"],
    registry=REGISTRY,
)
ERRORS = Counter(
    "jiradrift_errors_total",
    "Reconciliation errors, by stable reason.",
    ["namespace", "tenant", "reason"],
    registry=REGISTRY,
)
HISTORY_LAST_PUSH = Gauge(
    "jiradrift_history_last_push_timestamp_seconds",
    "When the tenant's git history (spec.history) was last pushed or found up to date.",
    ["namespace", "tenant"],
    registry=REGISTRY,
)
HISTORY_FAILURES = Counter(
    "jiradrift_history_failures_total",
    "Failed pushes of a tenant's git history, by reason (HostKeyMismatch, PermissionDenied, BranchProtected ...).",
    ["namespace", "tenant", "reason"],
    registry=REGISTRY,
)
HISTORY_COMMITS = Counter(
    "jiradrift_history_commits_total",
    "Snapshots committed and pushed to a tenant's git history.",
    ["namespace", "tenant"],
    registry=REGISTRY,
)
NOTIFICATIONS = Counter(
    "jiradrift_notifications_total",
    "Drift notification attempts, by destination and result (delivered, retrying, failed).",
    ["namespace", "tenant", "destination", "result"],
    registry=REGISTRY,
)
INCREMENTAL_MISSED = Counter(
    "jiradrift_incremental_missed_total",
    "Changes a full capture found that the incremental windows before it had missed, by config kind",
    ["kind"],
    registry=REGISTRY,
)
INCREMENTAL_WINDOWS = Counter(
    "jiradrift_incremental_windows_total",
    "Incremental windows run, by result: quiet (nothing changed), changed (a Snapshot created), "
    "unchecked (no type had a complete base yet), failed (tried again at the next window)",
    ["namespace", "tenant", "result"],
    registry=REGISTRY,
)
SHARD_TENANTS = Gauge(
    "jiradrift_shard_tenants",
    "Tenants this replica owns (sharded replicas; with one replica, every tenant).",
    ["replica"],
    registry=REGISTRY,
)
SHARD_MEMBERS = Gauge(
    "jiradrift_shard_replicas",
    "Live replicas this replica sees (membership Leases renewed within their duration).",
    ["replica"],
    registry=REGISTRY,
)
SHARD_MOVES = Counter(
    "jiradrift_shard_moves_total",
    "Tenants that moved to (gained) or away from (lost) this replica.",
    ["replica", "direction"],
    registry=REGISTRY,
)


SNAPSHOT_PHASES = ("Completed", "Incomplete", "Failed")
WINDOW_RESULTS = ("quiet", "changed", "unchecked", "failed")  # jiradrift_incremental_windows_total{result}
_newest_complete: dict[tuple[str, str, str], float] = {}


# Tenants whose gauges were dropped (deleted, or moved to another replica): a capture that finishes
# afterwards must not export them again, or its alerts would fire forever. A reconcile of the tenant
# (set_tenant_schedule) reports it again.
_forgotten: set[tuple[str, str]] = set()


def record_complete_snapshot(namespace: str, tenant: str, snapshot_type: str, finished_at: float) -> None:
    """Keep the newest completion time: at startup kopf resumes old Snapshots in no particular order."""
    if (namespace, tenant) in _forgotten:
        return
    key = (namespace, tenant, snapshot_type)
    if finished_at > _newest_complete.get(key, float("-inf")):
        _newest_complete[key] = finished_at
        LAST_COMPLETE_SNAPSHOT.labels(*key).set(finished_at)


def set_snapshot_items(namespace: str, tenant: str, snapshot_type: str, items: int) -> None:
    if (namespace, tenant) not in _forgotten:
        SNAPSHOT_ITEMS.labels(namespace, tenant, snapshot_type).set(items)


def set_tenant_schedule(
    namespace: str,
    tenant: str,
    interval_seconds: float | None,
    snapshot_types: list[str],
    *,
    incremental: bool = False,
) -> None:
    """Export the interval (``None``, a paused tenant: removed, as no snapshot is due) and start the
    tenant's snapshot counters (and, with ``incremental`` windows, its window counters) at 0, so a
    rule's ``increase()`` sees even the first failure."""
    _forgotten.discard((namespace, tenant))
    if interval_seconds is None:
        TENANT_INTERVAL.remove(namespace, tenant)  # a no-op when absent
    else:
        TENANT_INTERVAL.labels(namespace, tenant).set(interval_seconds)
    for snapshot_type in snapshot_types:
        for phase in SNAPSHOT_PHASES:
            SNAPSHOTS.labels(namespace, tenant, snapshot_type, phase)
    if incremental:
        for result in WINDOW_RESULTS:
            INCREMENTAL_WINDOWS.labels(namespace, tenant, result)


def forget_tenant(namespace: str, tenant: str) -> None:
    """Drop a deleted tenant's gauges, so alerts on times and counts do not fire for it forever.

    Counters and histograms stay: they stop growing, and rules look at their rates."""
    _forgotten.add((namespace, tenant))
    for gauge, labelnames in _TENANT_GAUGES:
        for family in gauge.collect():
            for sample in family.samples:
                if sample.labels.get("namespace") == namespace and sample.labels.get("tenant") == tenant:
                    gauge.remove(*(sample.labels[label] for label in labelnames))
    for key in [k for k in _newest_complete if k[:2] == (namespace, tenant)]:
        del _newest_complete[key]


_TENANT_GAUGES: tuple[tuple[Gauge, tuple[str, ...]], ...] = (
    (SNAPSHOT_ITEMS, ("namespace", "tenant", "type")),
    (TOKEN_EXPIRY, ("namespace", "tenant")),
    (TOKEN_LAST_REFRESH, ("namespace", "tenant")),
    (LAST_COMPLETE_SNAPSHOT, ("namespace", "tenant", "type")),
    (TENANT_INTERVAL, ("namespace", "tenant")),
    (UNACCEPTED_CHANGES, ("namespace", "tenant", "severity")),
    (HISTORY_LAST_PUSH, ("namespace", "tenant")),
)


def serve(port: int, addr: str = "0.0.0.0") -> None:
    start_http_server(port, addr=addr, registry=REGISTRY)
