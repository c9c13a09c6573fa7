"""Generate structural CustomResourceDefinitions from the pydantic models in ``resources.py``.

pydantic emits JSON Schema with ``$ref``/``$defs`` and ``anyOf [X, null]`` for optional fields;
Kubernetes wants a structural OpenAPI v3 schema: every node typed, no refs, no anyOf-null. This
module does that translation and adds what only Kubernetes knows about (printer columns, short
names, the status subresource, CEL rules carried in ``json_schema_extra``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from jiradrift.api import resources as r

_DROP = {"title", "examples"}


def _structural(node: Any, defs: dict[str, Any]) -> Any:
    """Inline refs, collapse optional unions, and drop keys Kubernetes rejects."""
    if isinstance(node, list):
        return [_structural(n, defs) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = defs[node["$ref"].split("/")[-1]]
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return _structural(merged, defs)
    if "anyOf" in node:
        options = [o for o in node["anyOf"] if o.get("type") != "null"]
        if len(options) != 1:
            raise ValueError(f"cannot express union {node['anyOf']} structurally")
        rest = {k: v for k, v in node.items() if k != "anyOf"}
        if rest.get("default", ...) is None:
            rest.pop("default")
        return _structural({**options[0], **rest}, defs)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP:
            continue
        if key == "const":  # apiVersion/kind literals: the API server owns these
            continue
        if key == "properties":
            out[key] = {name: _structural(v, defs) for name, v in value.items()}
        elif key == "additionalProperties" and value is False:
            continue  # structural schemas prune unknown fields; false is not allowed here
        else:
            out[key] = _structural(value, defs)
    if out.get("format") == "date-time" and out.get("type") == "string":
        pass
    if out.get("type") == "number" and isinstance(out.get("default"), float) and out["default"].is_integer():
        out["default"] = int(out["default"])
    if "enum" in out and "type" not in out:
        out["type"] = "string"
    return out


def openapi_schema(model: type[BaseModel]) -> dict[str, Any]:
    raw = model.model_json_schema(by_alias=True, mode="serialization")
    defs = raw.pop("$defs", {})
    schema: dict[str, Any] = _structural(raw, defs)
    props = schema["properties"]
    # Kubernetes supplies these; the CRD only declares their type (and what kubectl explain says).
    props["apiVersion"] = {"type": "string", "description": f"The API version of this object: {r.API_VERSION}."}
    props["kind"] = {"type": "string", "description": f"The kind of this object: {model.__name__}."}
    # metadata: the type only. The API server refuses anything more (even a description: "must not
    # specify anything other than name and generateName"); kubectl explain shows ObjectMeta's own docs.
    props["metadata"] = {"type": "object"}
    schema["required"] = [n for n in schema.get("required", []) if n not in {"apiVersion", "kind", "metadata"}]
    schema.pop("description", None)
    schema["description"] = (model.__doc__ or "").strip().splitlines()[0]
    return schema


def undescribed(schema: dict[str, Any], path: str = "") -> list[str]:
    """Every property path under ``schema`` without a description (``kubectl explain`` would show
    nothing for it): ``spec.retention.keepLast``, ``status.conditions[].reason``, ``...{}`` for map values."""
    missing: list[str] = []
    for name, prop in (schema.get("properties") or {}).items():
        if not path and name == "metadata":
            continue  # ObjectMeta: described by Kubernetes itself, and a CRD may not describe it
        where = f"{path}.{name}" if path else name
        if not str(prop.get("description") or "").strip():
            missing.append(where)
        missing += undescribed(prop, where)
    if isinstance(schema.get("items"), dict):
        missing += undescribed(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        missing += undescribed(schema["additionalProperties"], f"{path}{{}}")
    return missing


class UndescribedFields(ValueError):
    """A CRD field without a description; the message names every such path."""


def check_described(crds: dict[str, dict[str, Any]]) -> None:
    """Raise :class:`UndescribedFields` naming each field of ``crds`` that ``kubectl explain`` would
    show without a description."""
    problems = []
    for crd in crds.values():
        kind = crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            problems += [f"{kind}.{p}" for p in undescribed(version["schema"]["openAPIV3Schema"])]
    if problems:
        raise UndescribedFields(
            f"{len(problems)} CRD field(s) have no description, so kubectl explain shows nothing for them: "
            + ", ".join(problems)
            + ". Add description=... to each Field in operator/jiradrift/api/resources.py (what it means to a "
            "cluster admin, its unit, when it is set), then run jiradrift crds."
        )


def _column(name: str, path: str, type_: str = "string", priority: int = 0, desc: str = "") -> dict[str, Any]:
    col: dict[str, Any] = {"name": name, "type": type_, "jsonPath": path}
    if priority:
        col["priority"] = priority
    if desc:
        col["description"] = desc
    return col


def _crd(model: type[BaseModel], kind: str, plural: str, short: str, columns: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{plural}.{r.GROUP}",
            "labels": {
                "app.kubernetes.io/name": "jira-drift-operator",
                "app.kubernetes.io/part-of": "jiradrift",
            },
        },
        "spec": {
            "group": r.GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": [short],
                "categories": [r.CATEGORY],
            },
            "versions": [
                {
                    "name": r.VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                    "schema": {"openAPIV3Schema": openapi_schema(model)},
                }
            ],
        },
    }


READY = '.status.conditions[?(@.type=="Ready")]'


def build_crds() -> dict[str, dict[str, Any]]:
    """File name -> CRD object, for ``crds/`` and the chart."""
    tenant = _crd(
        r.JiraTenant,
        "JiraTenant",
        "jiratenants",
        "jt",
        [
            _column("Site", ".spec.site"),
            _column("Ready", f"{READY}.status"),
            _column("Last Snapshot", ".status.lastSnapshotTime", "date"),
            _column(
                "Unaccepted",
                ".status.unaccepted.total",
                "integer",
                desc="Changes since the accepted snapshots (what Drifted counts); accept with jiradrift accept.",
            ),
            _column("Severity", ".status.unaccepted.highestSeverity", desc="The unaccepted changes' highest severity."),
            _column(
                "Last Change",
                ".status.drift.summary",
                desc="The newest drift between two consecutive snapshots, accepted or not.",
            ),
            # A string, not a date: kubectl prints a date in the future as <invalid>.
            _column("Token Expires", ".status.token.expiresAt", desc="When the access token expires (UTC)."),
            _column("Owner", ".status.owner", desc="The operator replica that reconciles this tenant."),
            _column("Status", f"{READY}.message", priority=1),
            _column("Age", ".metadata.creationTimestamp", "date"),
        ],
    )
    snapshot = _crd(
        r.Snapshot,
        "Snapshot",
        "snapshots",
        "snap",
        [
            _column("Tenant", ".spec.tenantRef.name"),
            _column("Type", ".spec.type"),
            _column("Window", ".spec.windowStart"),
            _column("Phase", ".status.phase"),
            _column("Items", ".status.itemCount", "integer"),
            _column(
                "Changes", ".status.drift.total", "integer", desc="Items changed since the type's previous snapshot."
            ),
            _column(
                "Accepted",
                ".metadata.labels.jiradrift\\.io/accepted",
                desc="true on the accepted baseline of its tenant and type (jiradrift accept).",
            ),
            _column("Message", ".status.message", priority=1),
            _column("Age", ".metadata.creationTimestamp", "date"),
        ],
    )
    comparison = _crd(
        r.SiteComparison,
        "SiteComparison",
        "sitecomparisons",
        "sitecmp",
        [
            _column("InSync", '.status.conditions[?(@.type=="InSync")].status'),
            _column("Differences", ".status.differences.total", "integer", desc="Differences between the two sites."),
            _column("High", ".status.differences.high", "integer", desc="High-severity differences."),
            _column("Left", ".spec.left.name"),
            _column("Right", ".spec.right.name"),
            _column("Message", ".status.message", priority=1),
            _column("Age", ".metadata.creationTimestamp", "date"),
        ],
    )
    crds = {
        "jiradrift.io_jiratenants.yaml": tenant,
        "jiradrift.io_snapshots.yaml": snapshot,
        "jiradrift.io_sitecomparisons.yaml": comparison,
    }
    check_described(crds)  # so `jiradrift crds` and `jiradrift crds --check` (CI) fail on a field without one
    return crds


HEADER = "# Generated by `jiradrift crds` from operator/jiradrift/api/resources.py. Do not edit.\n"


def render(crd: dict[str, Any]) -> str:
    return HEADER + yaml.safe_dump(crd, sort_keys=False, width=120, allow_unicode=True)


def write_crds(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, crd in build_crds().items():
        path = directory / name
        path.write_text(render(crd), encoding="utf-8")
        written.append(path)
    return written


def stale_crds(directory: Path) -> list[str]:
    """File names under ``directory`` whose content differs from what the models generate."""
    stale = []
    for name, crd in build_crds().items():
        path = directory / name
        if not path.exists() or path.read_text(encoding="utf-8") != render(crd):
            stale.append(name)
    return stale
