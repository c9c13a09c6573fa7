"""Deterministic YAML for one object: sorted keys, lists in the order the capture stored them.

Capture already normalised every body (volatile fields dropped, unordered lists sorted), so the
order of a list is the snapshot's; only mapping keys are sorted here. The same body always renders
to the same bytes, so an unchanged object never shows in ``git diff``, and a change shows as the
lines the drift report names.
"""

from __future__ import annotations

from typing import Any

import yaml

try:  # libyaml's emitter: ~10x faster, same output
    from yaml import CSafeDumper as _Dumper
except ImportError:  # pragma: no cover - PyYAML without libyaml
    from yaml import SafeDumper as _Dumper  # type: ignore[assignment]


def render_yaml(body: Any) -> bytes:
    """``body`` as YAML bytes (UTF-8, block style, keys sorted, no line folding, LF endings)."""
    text = yaml.dump(
        body,
        Dumper=_Dumper,
        sort_keys=True,
        allow_unicode=True,
        default_flow_style=False,
        width=1_000_000,  # never fold a long value: a fold moves with unrelated edits
        indent=2,
    )
    return text.encode()
