"""Prometheus metrics of the operator (served on ``--metrics-port``, path ``/metrics``).

Each success measure of the design has a metric: snapshot duration and items, drift changes by
severity, Jira requests by status and rate-limit waits, lock acquisitions by result (lock
contention = denied / (acquired + denied)), token expiry, errors by reason.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

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
ERRORS = Counter(
    "jiradrift_errors_total",
    "Reconciliation errors, by stable reason.",
    ["namespace", "tenant", "reason"],
    registry=REGISTRY,
)
NOTIFICATIONS = Counter(
    "jiradrift_notifications_total",
    "Drift notification attempts, by destination and result (delivered, retrying, failed).",
    ["namespace", "tenant", "destination", "result"],
    registry=REGISTRY,
)


def serve(port: int, addr: str = "0.0.0.0") -> None:
    start_http_server(port, addr=addr, registry=REGISTRY)
