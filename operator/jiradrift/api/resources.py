"""The custom resources, as pydantic models: the single source of truth for the CRDs.

``jiradrift crds`` turns these models into the structural CRD YAML in ``crds/`` (and the chart);
``tests/packaging/test_packaging.py`` fails when the committed YAML is out of date. Field docs become the
``kubectl explain`` text, so they are written for a cluster admin.

Rules the API server enforces live here too, as ``x-kubernetes-validations`` (CEL) next to the
field they guard, so a bad object is refused at ``kubectl apply`` with a message naming the field.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from jiradrift.jira.limits import SITE_CONCURRENCY, SITE_REQUESTS_PER_SECOND
from jiradrift.model.ignore import rule_problem
from jiradrift.model.kinds import Severity
from jiradrift.model.snapshot_types import SnapshotType

GROUP = "jiradrift.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
CATEGORY = "jiradrift"

# Label keys the operator sets on Snapshots, Leases and ConfigMaps.
LABEL_TENANT = f"{GROUP}/tenant"
LABEL_TYPE = f"{GROUP}/type"
LABEL_WINDOW = f"{GROUP}/window"
LABEL_DRIFT = f"{GROUP}/drift"
LABEL_NOTIFY = f"{GROUP}/notify"  # "pending" while a Snapshot has notifications to deliver

# A site is https, or plain http on loopback (the emulator and local development only).
SITE_PATTERN = r"^(https://[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?(:[0-9]{1,5})?|http://(127\.0\.0\.1|localhost)(:[0-9]{1,5})?)(/[^\s]*)?$"
DURATION_PATTERN = r"^([0-9]{1,5}h)?([0-9]{1,6}m)?([0-9]{1,7}s)?$"
DNS_SUBDOMAIN_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"


def cel(
    rule: str,
    message: str,
    *,
    field_path: str | None = None,
    reason: str | None = None,
    message_expression: str | None = None,
) -> dict[str, str]:
    """One ``x-kubernetes-validations`` entry (``message_expression``: a CEL string naming the value)."""
    entry = {"rule": rule, "message": message}
    if message_expression:
        entry["messageExpression"] = message_expression
    if field_path:
        entry["fieldPath"] = field_path
    if reason:
        entry["reason"] = reason
    return entry


def url_rules(field: str) -> list[dict[str, str]]:
    """CEL on a URL a tenant names: what the API server can tell is never a place for credentials.

    The cluster admin's host allowlist is checked by the operator (and by the chart's
    ValidatingAdmissionPolicy); these rules need no configuration: canonical form, no IP literal but
    loopback, no cluster-internal name. Regular expressions on the host part rather than CEL's URL
    library keep the estimated cost within the CRD budget. Messages name the field and the fix.
    """
    host = "^[a-z]+://"  # SITE_PATTERN already allows only a host name (no brackets, no user info)
    port = "(:[0-9]+)?(/|$)"
    numeric = r"(0x[0-9a-fA-F]+|[0-9]+)([.](0x[0-9a-fA-F]+|[0-9]+))*"
    return [
        cel(
            f"!self.matches('{host}[^/]*[A-Z]')",
            f"{field} must use a lower-case host name, e.g. https://acme.atlassian.net: hosts are compared exactly",
            reason="FieldValueInvalid",
        ),
        cel(
            "!self.matches('^https://[^/]*:443(/|$)') && !self.matches('^http://[^/]*:80(/|$)')",
            f"{field} must not spell out the default port (:443 for https); remove it",
            reason="FieldValueInvalid",
        ),
        cel(
            "!self.contains('?') && !self.contains('#') && !self.contains('@')",
            f"{field} must be a plain base URL, without user info (@), query (?) or fragment (#)",
            reason="FieldValueInvalid",
        ),
        cel(
            f"!self.matches('{host}{numeric}{port}') || self.matches('{host}127[.][0-9.]+{port}')",
            f"{field} must name a host, not an IP address: link-local (169.254.169.254), private and "
            "cluster-internal addresses never receive credentials (loopback is allowed for the emulator only)",
            reason="FieldValueForbidden",
        ),
        cel(
            f"self.matches('{host}(localhost|[^/:]+[.][^/:]+){port}') && "
            f"!self.matches('{host}[^/:]*[.](svc|local|internal|localhost){port}')",
            f"{field} must not name a cluster-internal host (a single label, *.svc, *.cluster.local, *.local, "
            "*.internal); use the site's public https host name",
            reason="FieldValueForbidden",
        ),
    ]


def validations(rules: list[dict[str, str]]) -> dict[str, Any]:
    """``json_schema_extra`` carrying CEL rules for the CRD generator."""
    return {"x-kubernetes-validations": rules}


class Resource(BaseModel):
    """Base for every CR model: camelCase on the wire, unknown fields refused."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class OwnerReference(BaseModel):
    """A metav1.OwnerReference, as read (fields a newer API server adds are ignored)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    api_version: str = ""
    kind: str = ""
    name: str = ""
    uid: str = ""
    controller: bool | None = None
    block_owner_deletion: bool | None = None


class ObjectMeta(BaseModel):
    """The metav1.ObjectMeta fields the operator reads. The API server owns metadata, so fields not
    named here (managedFields, finalizers, ...) are ignored when reading, never refused."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    name: str = ""
    namespace: str = ""
    uid: str = ""
    generation: int | None = None
    resource_version: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    creation_timestamp: datetime | None = None
    owner_references: list[OwnerReference] = Field(default_factory=list)

    @property
    def key(self) -> str:
        """``namespace/name``."""
        return f"{self.namespace}/{self.name}"


# --- shared pieces --------------------------------------------------------------------------


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(Resource):
    """A metav1.Condition: one observed aspect of the object, with a stable reason."""

    type: str = Field(
        max_length=316,
        pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$",
        description="Type of condition in CamelCase, e.g. Ready.",
    )
    status: ConditionStatus = Field(description="True, False or Unknown.")
    observed_generation: int | None = Field(
        default=None, ge=0, description="The .metadata.generation the condition was set for."
    )
    last_transition_time: datetime = Field(description="When the status last changed.")
    reason: str = Field(
        min_length=1,
        max_length=1024,
        pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$",
        description="A stable CamelCase reason for the last transition.",
    )
    message: str = Field(default="", max_length=32768, description="What happened and what to do about it.")


CONDITIONS_SCHEMA_EXTRA: dict[str, Any] = {
    "x-kubernetes-list-type": "map",
    "x-kubernetes-list-map-keys": ["type"],
}


class SecretReference(Resource):
    """A Secret in the same namespace as the JiraTenant. Credentials are never inline."""

    name: str = Field(max_length=253, pattern=DNS_SUBDOMAIN_PATTERN, description="Name of the Secret.")


# --- notifications --------------------------------------------------------------------------

NOTIFICATION_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
MAX_NOTIFICATION_DESTINATIONS = 8


class NotificationType(StrEnum):
    SLACK = "slack"
    TEAMS = "teams"
    WEBHOOK = "webhook"


class SecretKeyReference(Resource):
    """One key of a Secret in the JiraTenant's namespace. The Secret must opt in to the tenant."""

    name: str = Field(max_length=253, pattern=DNS_SUBDOMAIN_PATTERN, description="Name of the Secret.")
    key: str = Field(
        default="url",
        min_length=1,
        max_length=253,
        pattern=r"^[-._a-zA-Z0-9]+$",
        description="Key in the Secret whose value is the webhook URL (default: url).",
    )


class NotificationDestination(Resource):
    """Where drift is announced: a Slack or Microsoft Teams incoming webhook, or a generic JSON webhook.

    The URL is a credential (anyone holding it can post), so it lives in a Secret that opts in to this
    tenant (annotation jiradrift.io/allowed-tenants). Its host must be on the operator's notification
    host allowlist (set by the cluster admin), and it must be https.
    """

    name: str = Field(
        min_length=1,
        max_length=63,
        pattern=NOTIFICATION_NAME_PATTERN,
        description="Name of this destination (lower-case DNS label); delivery status is reported under it.",
    )
    type: NotificationType = Field(
        description="slack (incoming webhook), teams (incoming webhook, Adaptive Card) or webhook (generic JSON)."
    )
    url_secret_ref: SecretKeyReference = Field(description="Secret key holding the webhook URL.")
    min_severity: Severity = Field(
        default=Severity.LOW,
        description="Notify only when the snapshot's highest drift severity is at least this (low, medium, high).",
    )


# --- JiraTenant -----------------------------------------------------------------------------


class Deployment(StrEnum):
    CLOUD = "Cloud"
    DATA_CENTER = "DataCenter"


TOKEN_URL_FIELD: str = Field(
    default="https://auth.atlassian.com/oauth/token",
    max_length=2048,
    pattern=SITE_PATTERN,
    description=(
        "OAuth token endpoint. Its host must be on the operator's host allowlist (set by the cluster admin). "
        "Change only for testing against an emulator."
    ),
    json_schema_extra=validations(url_rules("tokenUrl")),
)


class OAuthAuth(Resource):
    """OAuth 2.0 (3LO) with a rotating refresh token.

    The Secret holds ``client_id``, ``client_secret`` and ``refresh_token``; the operator adds
    ``access_token`` and ``expires_at`` and rotates ``refresh_token``. Create it with
    ``jiradrift auth login``.
    """

    secret_ref: SecretReference = Field(description="Secret with client_id, client_secret, refresh_token.")
    token_url: str = TOKEN_URL_FIELD


class ServiceAccountAuth(Resource):
    """OAuth 2.0 client credentials of an Atlassian service account (no refresh token to rotate)."""

    secret_ref: SecretReference = Field(description="Secret with client_id and client_secret.")
    token_url: str = TOKEN_URL_FIELD


class ApiTokenAuth(Resource):
    """Email and API token (basic auth) against the site URL."""

    secret_ref: SecretReference = Field(description="Secret with email and token.")


class PatAuth(Resource):
    """Jira Data Center personal access token (bearer)."""

    secret_ref: SecretReference = Field(description="Secret with token.")


class TenantAuth(Resource):
    """How the operator authenticates to Jira: set exactly one of oauth, serviceAccount, apiToken, pat."""

    oauth: OAuthAuth | None = None
    service_account: ServiceAccountAuth | None = None
    api_token: ApiTokenAuth | None = None
    pat: PatAuth | None = None
    allow_write_scopes: bool = Field(
        default=False,
        description=(
            "Accept a token whose granted scopes could write to Jira. The operator never writes "
            "either way; leave false so an over-privileged token is refused."
        ),
    )


TENANT_AUTH_RULES = [
    cel(
        "[has(self.oauth), has(self.serviceAccount), has(self.apiToken), has(self.pat)].filter(x, x).size() == 1",
        "spec.auth must set exactly one of oauth, serviceAccount, apiToken or pat",
        reason="FieldValueInvalid",
    ),
]


DEFAULT_FULL_INTERVAL = "24h"  # full captures: daily (issue 26)
DEFAULT_INCREMENTAL_INTERVAL = "2m"  # change -> Drifted within about 3 min (docs/incremental.md: detection budget)


class IncrementalSchedule(Resource):
    """Incremental windows between full captures: the audit log and cheap change probes are read,
    and only what changed is re-read (docs/incremental.md)."""

    enabled: bool = Field(
        default=True,
        description=(
            "Check the site for changes every incremental interval between full captures (on by default). "
            "A window in which nothing changed creates no Snapshot: it only sets status.lastCheckedTime of "
            "the JiraTenant."
        ),
    )
    interval: str = Field(
        default=DEFAULT_INCREMENTAL_INTERVAL,
        max_length=32,
        pattern=DURATION_PATTERN,
        description=(
            "How often to check for changes, as a duration such as 2m or 15m. At least 1m. The default (2m) "
            "reports a change within 5 minutes (p95; docs/incremental.md)."
        ),
    )


INCREMENTAL_RULES = [
    cel(
        "self.interval != '' && duration(self.interval) >= duration('1m')",
        "spec.schedule.incremental.interval must be a duration of at least 1m, such as 5m",
        field_path=".interval",
        reason="FieldValueInvalid",
    )
]


class Schedule(Resource):
    interval: str = Field(
        default=DEFAULT_FULL_INTERVAL,
        max_length=32,
        pattern=DURATION_PATTERN,
        description=(
            "How often to take a full capture (every object of every type), the safety net, as a duration such "
            "as 24h (the default) or 6h. At least 5m. Incremental windows (incremental) find changes in between."
        ),
    )
    incremental: IncrementalSchedule = Field(
        default_factory=IncrementalSchedule,
        description=(
            "Incremental windows between full captures (on by default, every 2m): what changed is captured "
            "within minutes."
        ),
        # the API server stores the defaults (kubectl get -o yaml shows them), as pydantic applies them
        json_schema_extra={
            **validations(INCREMENTAL_RULES),
            "default": IncrementalSchedule().model_dump(by_alias=True),
        },
    )


SCHEDULE_RULES = [
    cel(
        "self.interval != '' && duration(self.interval) >= duration('5m')",
        "spec.schedule.interval must be a duration of at least 5m, such as 6h or 24h",
        field_path=".interval",
        reason="FieldValueInvalid",
    )
]


class Retention(Resource):
    keep_last: int = Field(default=30, ge=1, le=1000, description="Completed Snapshots to keep per snapshot type.")
    max_bytes: int = Field(
        default=50 * 1024 * 1024,
        ge=1024 * 1024,
        le=10 * 1024 * 1024 * 1024,
        description="Byte budget for this tenant's stored payloads; oldest Snapshots are pruned first.",
    )


class CompareTo(StrEnum):
    PREVIOUS = "previous"
    BASELINE = "baseline"


# The CEL twin of jiradrift.model.ignore.rule_problem: after trimming whitespace, a key glob
# before the first ':' and, if there is a ':', a path glob after it.
IGNORE_RULE_MESSAGE = (
    '"ignore rule \'" + self + "\' is not KEY_GLOB or KEY_GLOB:PATH_GLOB '
    "(e.g. 'field/*:description' or 'workflow/*:transitions[*].description')\""
)
IGNORE_RULE_RULES = [
    cel(
        "self.trim() != '' && !self.trim().startsWith(':') && self.trim().indexOf(':') != size(self.trim()) - 1",
        "an ignore rule is not KEY_GLOB or KEY_GLOB:PATH_GLOB (e.g. 'field/*:description')",
        message_expression=IGNORE_RULE_MESSAGE,
        reason="FieldValueInvalid",
    )
]


class DriftSettings(Resource):
    compare_to: CompareTo = Field(
        default=CompareTo.PREVIOUS,
        description="Compare each Snapshot to the previous completed one, or to a named baseline.",
    )
    baseline_snapshot: str | None = Field(
        default=None,
        max_length=253,
        pattern=DNS_SUBDOMAIN_PATTERN,
        description="Name of the baseline Snapshot when compareTo is baseline.",
    )
    ignore: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="Changes to ignore, as '<kind>/<id>:<path>' glob patterns, e.g. 'field/*:description'.",
        json_schema_extra={
            "items": {"type": "string", "maxLength": 512, "minLength": 1, **validations(IGNORE_RULE_RULES)}
        },
    )

    @field_validator("ignore")
    @classmethod
    def _rules_parse(cls, rules: list[str]) -> list[str]:
        problems = [p for p in map(rule_problem, rules) if p]
        if problems:
            raise ValueError("; ".join(problems))
        return rules


DRIFT_RULES = [
    cel(
        "self.compareTo != 'baseline' || has(self.baselineSnapshot)",
        "spec.drift.baselineSnapshot is required when spec.drift.compareTo is baseline",
        field_path=".baselineSnapshot",
        reason="FieldValueRequired",
    )
]


class RateLimit(Resource):
    """How hard the operator may read this site. Each endpoint is also kept under Jira Cloud's
    burst limit (100 GET/s per endpoint) by a fixed 80/s per-endpoint cap."""

    max_concurrency: int = Field(
        default=int(SITE_CONCURRENCY.default),
        ge=SITE_CONCURRENCY.minimum,
        le=SITE_CONCURRENCY.maximum,
        description=SITE_CONCURRENCY.help,
    )
    requests_per_second: float = Field(
        default=SITE_REQUESTS_PER_SECOND.default,
        ge=SITE_REQUESTS_PER_SECOND.minimum,
        le=SITE_REQUESTS_PER_SECOND.maximum,
        description=SITE_REQUESTS_PER_SECOND.help,
    )


HISTORY_REPOSITORY_PATTERN = r"^(ssh://[^\s]+|https://[^\s@]+|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^\s]+)$"


class HistorySpec(Resource):
    """Configuration history in git: every completed Snapshot with changes becomes one commit.

    One file per object under ``<pathPrefix>/<type>/<kind>/<name>.yaml``, authored by the Jira user
    the audit log names. The branch belongs to the operator: it never rewrites commits it did not write.
    """

    repository: str = Field(
        max_length=2048,
        pattern=HISTORY_REPOSITORY_PATTERN,
        description=(
            "The git repository: ssh://git@host/org/repo.git, git@host:org/repo.git (deploy key) or "
            "https://host/org/repo.git (token). Its host must be on the operator's history host allowlist, "
            "set by the cluster admin (chart value history.allowedHosts; empty by default)."
        ),
    )
    branch: str = Field(
        default="main",
        min_length=1,
        max_length=255,
        pattern=r"^[A-Za-z0-9._/-]+$",
        description="The branch the operator writes (only the operator may write to it). Default: main.",
    )
    path_prefix: str = Field(
        default="",
        max_length=255,
        pattern=r"^([A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*)?$",
        description="A directory inside the repository for this tenant's files (default: the repository root).",
    )
    secret_ref: SecretReference = Field(
        description=(
            "Secret with the credentials; it must opt in to this tenant (annotation jiradrift.io/allowed-tenants). "
            "SSH: keys ssh-privatekey (the deploy key) and known_hosts (the server's host keys, pinned: never "
            "trusted on first use). HTTPS: key token, optional username (default x-access-token) and ca.crt."
        )
    )


class JiraTenantSpec(Resource):
    """What to watch: one Jira site and how to read it."""

    site: str = Field(
        max_length=2048,
        pattern=SITE_PATTERN,
        description=(
            "The site URL, e.g. https://acme.atlassian.net (http is accepted for loopback only). Its host must be "
            "on the operator's host allowlist, set by the cluster admin (default: *.atlassian.net)."
        ),
        json_schema_extra=validations(url_rules("spec.site")),
    )
    cloud_id: str | None = Field(
        default=None, max_length=64, description="Jira Cloud id; discovered from the site when empty."
    )
    deployment: Deployment = Field(default=Deployment.CLOUD, description="Cloud or DataCenter.")
    api_gateway: str = Field(
        default="https://api.atlassian.com",
        max_length=2048,
        pattern=SITE_PATTERN,
        description=(
            "Gateway for OAuth and service-account calls. Its host must be on the operator's host allowlist. "
            "Change only for testing."
        ),
        json_schema_extra=validations(url_rules("spec.apiGateway")),
    )
    auth: TenantAuth = Field(
        description="How the operator authenticates to Jira: exactly one of oauth, serviceAccount, apiToken, pat.",
        json_schema_extra=validations(TENANT_AUTH_RULES),
    )
    schedule: Schedule = Field(
        default_factory=Schedule,
        description=(
            "When Snapshots are taken: a full capture of each snapshot type every interval (default 24h), and "
            "incremental windows in between (default every 2m) that create a Snapshot only for a change."
        ),
        json_schema_extra={**validations(SCHEDULE_RULES), "default": Schedule().model_dump(by_alias=True)},
    )
    snapshot_types: list[SnapshotType] = Field(
        default_factory=lambda: list(SnapshotType),
        min_length=1,
        max_length=len(SnapshotType),
        description="Which configuration groups to snapshot (default: all).",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    retention: Retention = Field(
        default_factory=Retention, description="How many Snapshots and how many stored bytes this tenant keeps."
    )
    drift: DriftSettings = Field(
        default_factory=DriftSettings,
        description="What each Snapshot is compared with, and which changes are not drift.",
        json_schema_extra=validations(DRIFT_RULES),
    )
    rate_limit: RateLimit = Field(
        default_factory=RateLimit, description="How hard the operator may read this site (concurrency, requests/s)."
    )
    paused: bool = Field(default=False, description="Stop scheduling Snapshots; status is still kept current.")
    notifications: list[NotificationDestination] = Field(
        default_factory=list,
        max_length=MAX_NOTIFICATION_DESTINATIONS,
        description="Where to announce each Snapshot that drifted (one message per Snapshot and destination).",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    history: HistorySpec | None = Field(
        default=None, description="Write every completed Snapshot with changes to a git repository as one commit."
    )


class TokenStatus(Resource):
    """The OAuth access token the operator holds for this tenant (never the token itself)."""

    expires_at: datetime | None = Field(default=None, description="When the current access token expires.")
    last_refresh_time: datetime | None = Field(default=None, description="When the token was last refreshed.")
    scopes_read_only: bool | None = Field(default=None, description="False when a granted scope can write.")


class SiteInfo(Resource):
    """What the site says about itself (serverInfo), read at each health check."""

    cloud_id: str | None = Field(default=None, max_length=64, description="The site's Jira Cloud id.")
    title: str | None = Field(default=None, max_length=512, description="The site's title, as Jira shows it.")
    version: str | None = Field(default=None, max_length=64, description="The Jira version the site runs.")
    deployment_type: str | None = Field(
        default=None, max_length=64, description="Cloud or Server/DataCenter, as the site reports it."
    )


class TenantDriftSummary(Resource):
    """The newest drift between two consecutive Snapshots of this tenant, accepted or not."""

    last_detected: datetime | None = Field(default=None, description="When drift was last detected.")
    last_snapshot: str | None = Field(default=None, max_length=253, description="Snapshot that drifted.")
    added: int = Field(default=0, description="Items in that Snapshot that its baseline did not have.")
    removed: int = Field(default=0, description="Items of the baseline that Snapshot no longer has.")
    changed: int = Field(default=0, description="Items present in both whose content changed.")
    highest_severity: str | None = Field(
        default=None, max_length=16, description="The highest severity among those changes: high, medium or low."
    )
    summary: str = Field(default="", max_length=256, description="One line, e.g. '3 changes (high)'.")


class UnacceptedDrift(Resource):
    """Changes between each type's accepted snapshot and its newest complete one (``Drifted``)."""

    total: int = Field(default=0, ge=0, description="Unaccepted changes over all snapshot types.")
    high: int = Field(default=0, ge=0, description="Unaccepted changes of high severity.")
    medium: int = Field(default=0, ge=0, description="Unaccepted changes of medium severity.")
    low: int = Field(default=0, ge=0, description="Unaccepted changes of low severity.")
    highest_severity: str | None = Field(
        default=None, max_length=16, description="The highest severity among the unaccepted changes (empty: none)."
    )
    types: list[str] = Field(default_factory=list, max_length=16, description="Snapshot types with unaccepted changes.")
    since: datetime | None = Field(default=None, description="When the oldest unaccepted change was first captured.")
    unknown_items: int = Field(
        default=0, ge=0, description="Items that could not be compared (an Incomplete snapshot on either side)."
    )


class HistoryStatus(Resource):
    """The git history of this tenant (spec.history), as the operator last pushed it."""

    last_commit: str | None = Field(default=None, max_length=64, description="The branch's tip after the last push.")
    last_snapshot: str | None = Field(
        default=None, max_length=253, description="The newest Snapshot committed (its Jiradrift-Snapshot trailer)."
    )
    last_push_time: datetime | None = Field(
        default=None, description="When the operator last pushed (or found nothing to push)."
    )
    lag: int = Field(
        default=0, ge=0, description="Completed Snapshots with changes that are not on the branch yet (0: up to date)."
    )
    reason: str | None = Field(
        default=None,
        max_length=64,
        description=(
            "Why the last attempt failed (HostKeyMismatch, HostKeyUnknown, PermissionDenied, BranchProtected, "
            "BranchNotOurs, Unreachable, TLSVerifyFailed, RepositoryNotFound, InvalidSpec, SecretNotOptedIn ...); "
            "empty when it succeeded."
        ),
    )
    message: str | None = Field(
        default=None, max_length=1024, description="What failed and what to fix; empty when it succeeded."
    )
    last_failure_time: datetime | None = Field(default=None, description="When an attempt last failed.")


class JiraTenantStatus(Resource):
    """What the operator observed. Written only by the operator."""

    observed_generation: int | None = Field(
        default=None, ge=0, description="The .metadata.generation of the spec this status was written for."
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        max_length=16,
        description="Ready (the tenant is reachable and captures run), Drifted, and the other observed conditions.",
        json_schema_extra=CONDITIONS_SCHEMA_EXTRA,
    )
    last_snapshot_time: datetime | None = Field(
        default=None, description="When the newest Snapshot of this tenant finished (UTC)."
    )
    last_checked_time: datetime | None = Field(
        default=None,
        description=(
            "When the site was last checked for changes (a full capture or an incremental window), even when "
            "nothing changed and no Snapshot was created."
        ),
    )
    next_snapshot_time: datetime | None = Field(
        default=None, description="When the next scheduled Snapshots will be created (UTC); empty while paused."
    )
    token: TokenStatus | None = Field(
        default=None, description="The OAuth access token the operator holds (oauth and serviceAccount auth only)."
    )
    site: SiteInfo | None = Field(default=None, description="What the site reported about itself.")
    drift: TenantDriftSummary | None = Field(
        default=None, description="The newest drift between two consecutive Snapshots, accepted or not."
    )
    unaccepted: UnacceptedDrift | None = Field(
        default=None, description="Changes since the accepted Snapshots (what the Drifted condition counts)."
    )
    history: HistoryStatus | None = Field(
        default=None, description="The git history (spec.history): last push, lag, failure."
    )
    owner: str | None = Field(
        default=None,
        max_length=253,
        description=(
            "The operator replica that reconciles this tenant (its Pod name and a per-process suffix), "
            "when replicas share tenants (chart value replicas > 1)."
        ),
    )


class JiraTenant(Resource):
    """A Jira site whose configuration is snapshotted on a schedule and checked for drift."""

    api_version: Literal["jiradrift.io/v1alpha1"] = "jiradrift.io/v1alpha1"
    kind: Literal["JiraTenant"] = "JiraTenant"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: JiraTenantSpec
    status: JiraTenantStatus | None = None


# --- Snapshot -------------------------------------------------------------------------------


class SnapshotReason(StrEnum):
    SCHEDULED = "Scheduled"
    MANUAL = "Manual"
    INCREMENTAL = "Incremental"  # created by an incremental window that found a change, its manifest stored


class SnapshotPhase(StrEnum):
    PENDING = "Pending"
    CAPTURING = "Capturing"
    COMPLETED = "Completed"
    INCOMPLETE = "Incomplete"
    FAILED = "Failed"


class TenantReference(Resource):
    """The JiraTenant a Snapshot belongs to."""

    name: str = Field(
        min_length=1,
        max_length=253,
        pattern=DNS_SUBDOMAIN_PATTERN,
        description="JiraTenant in this namespace.",
    )


class SnapshotSpec(Resource):
    """Which capture this is. Immutable: create a new Snapshot instead of editing one."""

    tenant_ref: TenantReference = Field(description="The JiraTenant, in this namespace, whose site is captured.")
    type: SnapshotType = Field(description="The configuration group to capture.")
    window_start: datetime | None = Field(
        default=None, description="Start of the schedule window (UTC) for Scheduled snapshots."
    )
    reason: SnapshotReason = Field(
        default=SnapshotReason.MANUAL,
        description=(
            "Scheduled (a full capture window), Manual, or Incremental (an incremental window found a change "
            "of this type; created by the operator with its capture already stored)."
        ),
    )


SNAPSHOT_SPEC_RULES = [
    cel(
        "self == oldSelf",
        "Snapshot spec is immutable; create a new Snapshot instead",
        reason="FieldValueForbidden",
    ),
    cel(
        "self.reason != 'Scheduled' || has(self.windowStart)",
        "spec.windowStart is required when spec.reason is Scheduled",
        field_path=".windowStart",
        reason="FieldValueRequired",
    ),
]


class StorageRef(Resource):
    """Where the Snapshot's manifest is stored."""

    backend: str = Field(max_length=32, description="Secret, ConfigMap, Filesystem or S3.")
    location: str = Field(max_length=1024, description="Where the manifest lives in that backend.")


class ChangeAffects(Resource):
    """The blast radius of a change: the projects it reaches (from the captured mappings)."""

    count: int = Field(ge=0, description="How many projects the change reaches.")
    first: list[str] = Field(default_factory=list, max_length=5, description="The first of their project keys, sorted.")


class ChangeSummary(Resource):
    """One change of the drift: an item added, removed or changed at a path."""

    key: str = Field(max_length=512, description="The item, as <kind>/<id>, e.g. workflow/10001.")
    name: str | None = Field(default=None, max_length=256, description="The item's name in Jira.")
    changed_by: str | None = Field(
        default=None, max_length=256, description="The matching Jira audit-log entry: what, who and when."
    )
    op: str = Field(max_length=16, description="added, removed, modified or renamed.")
    path: str = Field(
        default="", max_length=512, description="Where in the item, e.g. transitions[id=3].name; empty: the whole item."
    )
    severity: str = Field(max_length=16, description="high, medium or low, from the item's kind.")
    affects: ChangeAffects | None = Field(
        default=None,
        description="The projects the change affects (absent when no projects snapshot was captured).",
    )


class SnapshotDrift(Resource):
    """How this Snapshot differs from its baseline."""

    baseline: str | None = Field(default=None, max_length=253, description="Snapshot compared against.")
    total: int = Field(default=0, description="added + removed + changed.")
    added: int = Field(default=0, description="Items this Snapshot has that the baseline did not.")
    removed: int = Field(default=0, description="Items of the baseline this Snapshot no longer has.")
    changed: int = Field(default=0, description="Items in both whose content changed.")
    highest_severity: str | None = Field(
        default=None, max_length=16, description="The highest severity among the changes: high, medium or low."
    )
    unknown_items: int = Field(
        default=0,
        ge=0,
        description="Items that could not be compared (unreadable on either side); not counted as changes.",
    )
    changes: list[ChangeSummary] = Field(
        default_factory=list,
        max_length=10,
        description="The first few changes; list all with jiradrift drift list.",
    )


class LockRecord(Resource):
    """The Lease that makes one operator replica at a time capture this Snapshot."""

    lease: str = Field(max_length=253, description="Name of the coordination.k8s.io Lease, in this namespace.")
    key: str = Field(max_length=1024, description="What the Lease guards: the tenant, type and window.")
    holder: str = Field(max_length=253, description="The operator replica that held the Lease.")
    transitions: int = Field(default=0, description="How often the Lease changed hands (a replica took over).")
    acquired_at: datetime | None = Field(default=None, description="When the holder acquired the Lease (UTC).")


class DeliveryState(StrEnum):
    PENDING = "Pending"  # waiting for its first or next attempt (nextAttemptTime)
    SENDING = "Sending"  # an operator claimed it and is sending now
    DELIVERED = "Delivered"
    FAILED = "Failed"  # gave up: a permanent error, or out of attempts


class NotificationDelivery(Resource):
    """How the announcement of this object's changes to one destination went.

    The changes are a Snapshot's drift or a SiteComparison's InSync change."""

    destination: str = Field(max_length=63, description="spec.notifications[].name of the JiraTenant.")
    type: NotificationType = Field(description="slack, teams or webhook, as in the destination.")
    state: DeliveryState = Field(
        default=DeliveryState.PENDING,
        description=(
            "Pending (waiting for its first or next attempt), Sending (an operator is sending it), Delivered, "
            "or Failed (a permanent error, or out of attempts)."
        ),
    )
    digest: str = Field(
        default="",
        max_length=80,
        description="Content digest of the message: a destination is never sent the same digest twice.",
    )
    attempts: int = Field(default=0, ge=0, description="Delivery attempts made so far.")
    last_error: str | None = Field(default=None, max_length=1024, description="Why the last attempt failed.")
    last_attempt_time: datetime | None = Field(default=None, description="When the last attempt was made (UTC).")
    next_attempt_time: datetime | None = Field(
        default=None, description="When the next attempt is due (UTC), while Pending after a failed attempt."
    )
    delivered_at: datetime | None = Field(default=None, description="When the destination accepted it (UTC).")
    holder: str | None = Field(default=None, max_length=253, description="The operator sending it (Sending).")


class CaptureStatus(Resource):
    """How a Snapshot was captured."""

    mode: str = Field(
        default="full",
        max_length=16,
        description="full (every object read) or incremental (what changed re-read, the rest carried over).",
    )
    reread: int | None = Field(default=None, ge=0, description="Objects read from Jira for this Snapshot.")
    reason: str = Field(
        default="", max_length=1024, description="Why a capture that could have been incremental was full."
    )
    missed_count: int | None = Field(
        default=None,
        ge=0,
        description=(
            "A full capture: changes it found that the incremental windows before it had missed "
            "(jiradrift_incremental_missed_total). Unset when not counted."
        ),
    )
    missed_kinds: str = Field(
        default="", max_length=1024, description="The missed changes per kind, such as field-configuration=2."
    )


class SnapshotStatus(Resource):
    """What the capture found. Written only by the operator."""

    observed_generation: int | None = Field(
        default=None, ge=0, description="The .metadata.generation of the spec this status was written for."
    )
    phase: SnapshotPhase = Field(
        default=SnapshotPhase.PENDING,
        description=(
            "Pending (waiting for a capture slot), Capturing, Completed (every item read), Incomplete (stored, "
            "but some reads failed: see message) or Failed (nothing stored)."
        ),
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        max_length=16,
        description="Ready and the other observed conditions of this Snapshot.",
        json_schema_extra=CONDITIONS_SCHEMA_EXTRA,
    )
    message: str = Field(
        default="", max_length=4096, description="What happened: the reason for Incomplete or Failed, and the fix."
    )
    start_time: datetime | None = Field(default=None, description="When the capture started (UTC).")
    completion_time: datetime | None = Field(default=None, description="When the capture ended (UTC).")
    captured_at: datetime | None = Field(
        default=None,
        description=(
            "When Jira was read (UTC, to the microsecond), as the store records it: orders a tenant's "
            "Snapshots of one type (newest, accepted), which creation times to the second cannot."
        ),
    )
    duration_seconds: float | None = Field(default=None, description="How long the capture took, in seconds.")
    item_count: int | None = Field(default=None, description="Configuration items captured.")
    request_count: int | None = Field(default=None, description="Requests the capture sent to Jira.")
    error_count: int | None = Field(
        default=None, description="Reads that failed; more than 0 makes the Snapshot Incomplete."
    )
    digest: str | None = Field(
        default=None,
        max_length=80,
        description="Content digest of the captured items (sha256): equal digests mean equal configuration.",
    )
    storage_ref: StorageRef | None = Field(default=None, description="Where the Snapshot's manifest is stored.")
    capture: CaptureStatus | None = Field(
        default=None, description="Whether the capture was full or incremental, and how many objects were re-read."
    )
    unchanged_from: str | None = Field(
        default=None,
        max_length=253,
        description="The earlier Snapshot with the same content, whose stored manifest this one shares.",
    )
    drift: SnapshotDrift | None = Field(default=None, description="How this Snapshot differs from its baseline.")
    lock: LockRecord | None = Field(
        default=None, description="The Lease that let one operator replica capture this Snapshot."
    )
    attempts: int = Field(default=0, description="Capture attempts so far (a failed attempt is retried with backoff).")
    notifications: list[NotificationDelivery] | None = Field(
        default=None,
        max_length=MAX_NOTIFICATION_DESTINATIONS,
        description=(
            "Delivery of this object's changes (a Snapshot's drift, a SiteComparison's InSync change) "
            "to the tenant's notification destinations."
        ),
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["destination"]},
    )


class Snapshot(Resource):
    """One capture of one configuration group of a JiraTenant, with its drift from the baseline."""

    api_version: Literal["jiradrift.io/v1alpha1"] = "jiradrift.io/v1alpha1"
    kind: Literal["Snapshot"] = "Snapshot"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: SnapshotSpec = Field(json_schema_extra=validations(SNAPSHOT_SPEC_RULES))
    status: SnapshotStatus | None = None


# --- SiteComparison -------------------------------------------------------------------------

MAX_COMPARISON_DIFFERENCES = 10
VALUE_MAPPING_PATTERN = r"^(url|email-domain|group|account):[^=]+=.*$"
PIN_PATTERN = r"^[a-z-]+/[^=]+=.+$"

COMPARISON_SPEC_RULES = [
    cel(
        "self.left.name != self.right.name",
        "spec.right.name names the same JiraTenant as spec.left.name; name two different tenants "
        "(e.g. left: acme-prod, right: acme-sandbox)",
        field_path=".right.name",
    ),
    cel(
        "!has(self.mappings) || self.mappings.all(m, m.matches('" + VALUE_MAPPING_PATTERN + "'))",
        "spec.mappings: every entry is KIND:LEFT=RIGHT with KIND one of url, email-domain, group, account "
        "(e.g. 'group:jira-administrators=sandbox-administrators')",
        field_path=".mappings",
    ),
    cel(
        "!has(self.pins) || self.pins.all(p, p.matches('" + PIN_PATTERN + "'))",
        "spec.pins: every entry is KIND/LEFT NAME=RIGHT NAME (e.g. 'workflow/Bug Flow=Bug Workflow')",
        field_path=".pins",
    ),
]


class SiteComparisonSpec(Resource):
    """Which two tenants to compare and which differences are expected."""

    left: TenantReference = Field(
        description="The reference JiraTenant in this namespace (e.g. production): a name, never another namespace."
    )
    right: TenantReference = Field(description="The JiraTenant compared with it in this namespace (e.g. its sandbox).")
    types: list[SnapshotType] | None = Field(
        default=None,
        max_length=32,
        description="Snapshot types compared (default: every type both tenants captured).",
    )
    ignore: list[str] | None = Field(
        default=None,
        max_length=100,
        description="Ignore rules on natural keys, as in jiradrift compare --ignore (e.g. 'workflow/*:description').",
        json_schema_extra={"items": {"type": "string", "maxLength": 512}},
    )
    mappings: list[str] | None = Field(
        default=None,
        max_length=100,
        description="Expected value differences KIND:LEFT=RIGHT (KIND: url, email-domain, group, account), "
        "as in jiradrift compare --map.",
        json_schema_extra={"items": {"type": "string", "maxLength": 512}},
    )
    pins: list[str] | None = Field(
        default=None,
        max_length=100,
        description="Objects matched by hand, KIND/LEFT NAME=RIGHT NAME, as in jiradrift compare --pin.",
        json_schema_extra={"items": {"type": "string", "maxLength": 512}},
    )
    reach_high: int = Field(
        default=10,
        ge=0,
        le=100000,
        description="A medium difference affecting this many projects counts as high (0: off).",
    )
    notify: bool = Field(
        default=True,
        description="Send the left JiraTenant's spec.notifications destinations a message when InSync changes "
        "(in sync to different and back), with the counts, the first differences and the projects they affect; "
        "false: no messages.",
    )


class ComparisonDifference(Resource):
    """One difference between the two sites."""

    key: str = Field(max_length=512, description="KIND/natural key of the item (its name on both sites).")
    op: str = Field(max_length=16, description="added (right only), removed (left only), modified or renamed.")
    path: str = Field(default="", max_length=512, description="Where in the item; empty for the whole item.")
    severity: str = Field(max_length=16, description="low, medium or high (raised by reach).")
    affects: ChangeAffects | None = Field(default=None, description="The projects the difference affects.")


class ComparisonCounts(Resource):
    """How many differences, by severity."""

    total: int = Field(default=0, ge=0, description="Every difference.")
    high: int = Field(default=0, ge=0, description="High-severity differences.")
    medium: int = Field(default=0, ge=0, description="Medium-severity differences.")
    low: int = Field(default=0, ge=0, description="Low-severity differences.")


class ComparisonReport(Resource):
    """Where the full comparison report is kept (what jiradrift compare -o json gives)."""

    store: str = Field(max_length=1024, description="The left tenant's store that keeps it.")
    key: str = Field(max_length=253, description="Its key in that store (read it with jiradrift comparison-report).")
    digest: str = Field(max_length=80, description="sha256:<hex> of the report's JSON.")
    bytes: int = Field(ge=0, description="Size of the report's JSON in bytes (compressed in the store).")


class SiteComparisonStatus(Resource):
    """What the last comparison found."""

    observed_generation: int | None = Field(default=None, description="The spec generation last compared.")
    conditions: list[Condition] | None = Field(
        default=None,
        max_length=8,
        description="InSync: True when the two sites' configurations match.",
        json_schema_extra=CONDITIONS_SCHEMA_EXTRA,
    )
    last_compared: datetime | None = Field(default=None, description="When the sites were last compared (UTC).")
    left_snapshots: list[str] | None = Field(
        default=None, max_length=32, description="The left tenant's snapshots compared (newest complete per type)."
    )
    right_snapshots: list[str] | None = Field(
        default=None, max_length=32, description="The right tenant's snapshots compared."
    )
    differences: ComparisonCounts | None = Field(default=None, description="Differences by severity.")
    equal: int | None = Field(default=None, ge=0, description="Items equal on both sites.")
    first: list[ComparisonDifference] | None = Field(
        default=None,
        max_length=MAX_COMPARISON_DIFFERENCES,
        description="The first differences; all of them with jiradrift compare NS/LEFT NS/RIGHT.",
    )
    message: str | None = Field(default=None, max_length=4096, description="One line: the result or what went wrong.")
    report: ComparisonReport | None = Field(
        default=None, description="The full report of the last comparison, in the left tenant's store."
    )
    notifications: list[NotificationDelivery] | None = Field(
        default=None,
        max_length=MAX_NOTIFICATION_DESTINATIONS,
        description="Delivery of the last InSync change to each of the left tenant's destinations.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["destination"]},
    )


class SiteComparison(Resource):
    """Does one JiraTenant's configuration match another's (sandbox against production), kept up to date."""

    api_version: Literal["jiradrift.io/v1alpha1"] = "jiradrift.io/v1alpha1"
    kind: Literal["SiteComparison"] = "SiteComparison"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: SiteComparisonSpec = Field(json_schema_extra=validations(COMPARISON_SPEC_RULES))
    status: SiteComparisonStatus | None = None
