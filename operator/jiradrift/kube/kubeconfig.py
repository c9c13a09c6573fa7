"""What a kubeconfig says about where commands act: the namespace of its context (``kubectl -n``'s default)."""

from __future__ import annotations

import os
from pathlib import Path

from kubernetes_asyncio.config import list_kube_config_contexts


def context_namespace(kubeconfig: Path | None, context: str | None) -> str:
    """The namespace of the kubeconfig context (``default`` when it names none or cannot be read)."""
    path = kubeconfig or (os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or None)
    try:
        contexts, current = list_kube_config_contexts(config_file=str(path) if path else None)
    except Exception:  # no kubeconfig yet: connecting will say so, naming the file
        return "default"
    chosen = next((c for c in contexts if c.get("name") == context), None) if context else current
    namespace = ((chosen or {}).get("context") or {}).get("namespace")
    return namespace if isinstance(namespace, str) and namespace else "default"
