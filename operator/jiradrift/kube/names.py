"""Names the API server accepts: label values made from tenant keys."""

from __future__ import annotations

import hashlib
import re

_LABEL_BAD = re.compile(r"[^A-Za-z0-9_.-]+")


def label_value(value: str) -> str:
    """``value`` made into a valid label value (<= 63 chars of ``[A-Za-z0-9_.-]``, alphanumeric ends).

    ``namespace/name`` becomes ``namespace.name``. Long or mangled values get a hash suffix so two
    different inputs do not end up with the same label. Label values are for selecting; keep the
    exact value in an annotation.
    """
    wanted = value.replace("/", ".")
    clean = _LABEL_BAD.sub("-", wanted).strip("-_.")
    if clean == wanted and len(clean) <= 63:
        return clean
    digest = hashlib.sha256(value.encode()).hexdigest()[:10]
    clean = clean[: 63 - len(digest) - 1].rstrip("-_.")
    return f"{clean}-{digest}" if clean else digest
