"""OAuth scopes per operation, taken from the spec's ``x-atlassian-oauth2-scopes``.

The table ships as ``data/scopes.json`` (the 2.4 MB spec does not ship with the operator); regenerate
it with ``python -m jiradrift.sim.scopes <jira-openapi-v3.json>``. A token passes an operation when it
holds every classic scope listed for it, or every granular ("Beta") scope listed for it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

HTTP_METHODS = ("get", "post", "put", "delete", "patch")


@dataclass(frozen=True)
class OperationScopes:
    classic: frozenset[str]
    granular: frozenset[str]

    def allows(self, held: frozenset[str]) -> bool:
        if not self.classic and not self.granular:
            return True
        return bool(self.classic and self.classic <= held) or bool(self.granular and self.granular <= held)

    def describe(self) -> str:
        parts = []
        if self.classic:
            parts.append("classic: " + " ".join(sorted(self.classic)))
        if self.granular:
            parts.append("granular: " + " ".join(sorted(self.granular)))
        return "; or ".join(parts)


def build_scope_table(spec: dict[str, Any]) -> dict[str, dict[str, list[str]]]:
    """``"GET /rest/api/3/field" -> {"classic": [...], "granular": [...]}`` for every operation."""
    table: dict[str, dict[str, list[str]]] = {}
    for path, item in spec["paths"].items():
        for method in HTTP_METHODS:
            op = item.get(method)
            if op is None:
                continue
            classic: list[str] = []
            granular: list[str] = []
            ext = op.get("x-atlassian-oauth2-scopes")
            if ext:
                for entry in ext:
                    (classic if entry.get("state") == "Current" else granular).extend(entry.get("scopes", []))
            else:
                # No extension (e.g. /priority/search): only the classic scope in `security` applies.
                for sec in op.get("security", []):
                    classic.extend(sec.get("OAuth2", []))
            table[f"{method.upper()} {path}"] = {
                "classic": sorted(set(classic)),
                "granular": sorted(set(granular)),
            }
    return table


@cache
def scope_table() -> dict[str, OperationScopes]:
    raw = orjson.loads(resources.files("jiradrift.sim").joinpath("data/scopes.json").read_bytes())
    return {k: OperationScopes(frozenset(v["classic"]), frozenset(v["granular"])) for k, v in raw.items()}


def scopes_for(method: str, spec_path: str) -> OperationScopes:
    """Scopes for ``GET /rest/api/3/...``; an operation missing from the table needs nothing."""
    return scope_table().get(f"{method} {spec_path}", OperationScopes(frozenset(), frozenset()))


def main(argv: list[str]) -> None:
    spec = orjson.loads(Path(argv[1]).read_bytes())
    out = Path(__file__).with_name("data") / "scopes.json"
    out.write_bytes(orjson.dumps(build_scope_table(spec), option=orjson.OPT_SORT_KEYS))
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv)
