"""JSON merge patch (RFC 7386), the semantics of ``kubectl patch --type=merge`` and kopf's ``patch``.

:func:`changed_fields` keeps a status patch to what would actually change the stored object: a
``null`` in the desired value deletes a key, so a desired ``{"since": None}`` already equals a
stored object without ``since``. Comparing the raw values instead would send the same patch on
every reconciliation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def apply(target: Any, patch: Any) -> Any:
    """``target`` with ``patch`` applied (RFC 7386 section 2); neither argument is modified."""
    if not isinstance(patch, Mapping):
        return patch
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply(result.get(key), value)
    return result


def changed_fields(current: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    """The top-level fields of ``desired`` whose merge into ``current`` changes ``current``."""
    return {key: value for key, value in desired.items() if apply(current, {key: value}) != current}
