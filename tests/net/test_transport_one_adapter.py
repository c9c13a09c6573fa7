"""Every outbound HTTP client goes through the one adapter (``jiradrift.net.transport``): no module builds
its own connection layer, so the egress policy (resolved-address check, proxy check, TLS context) cannot
be left out of a new client. Read from the source, as the import contracts are."""

from __future__ import annotations

import ast
from pathlib import Path

import jiradrift

PACKAGE = Path(jiradrift.__file__).parent
ADAPTER = "net/transport.py"
# The connection to the Kubernetes API server (in-cluster, from the kubeconfig or the ServiceAccount),
# not to a host a tenant or an admin names: the egress policy is for the latter.
KUBERNETES_API = {"kube/client.py", "handlers/runtime/kopf_setup.py"}
CONNECTION_LAYERS = {
    ("aiohttp", "ClientSession"),
    ("aiohttp", "TCPConnector"),
    ("httpx", "AsyncHTTPTransport"),
    ("httpx", "HTTPTransport"),
    ("httpx", "Client"),
}


def _production_modules() -> list[tuple[str, ast.Module]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith(("sim/", "dev/", "generate/")):
            continue  # the emulator, the developer tooling and the build tools are not production
        out.append((rel, ast.parse(path.read_text(), rel)))
    return out


def _calls(tree: ast.Module) -> list[tuple[str, str, ast.Call]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if isinstance(owner, ast.Name):
                found.append((owner.id, node.func.attr, node))
    return found


def test_only_the_adapter_builds_a_connection_layer() -> None:
    offenders = []
    for rel, tree in _production_modules():
        if rel == ADAPTER or rel in KUBERNETES_API:
            continue
        offenders += [f"{rel}:{call.lineno} {a}.{b}" for a, b, call in _calls(tree) if (a, b) in CONNECTION_LAYERS]
        offenders += [f"{rel} imports httpcore" for node in ast.walk(tree) if _imports(node, "httpcore")]
    assert not offenders, (
        f"build clients with jiradrift.net.transport (outbound_client / AiohttpTransport): {offenders}"
    )


def test_every_httpx_client_is_given_a_transport() -> None:
    """An ``httpx.AsyncClient()`` without ``transport=`` would open connections through httpcore, unchecked."""
    bare = [
        f"{rel}:{call.lineno}"
        for rel, tree in _production_modules()
        for a, b, call in _calls(tree)
        if (a, b) == ("httpx", "AsyncClient") and not any(k.arg in ("transport", None) for k in call.keywords)
    ]
    assert not bare, bare


def _imports(node: ast.AST, module: str) -> bool:
    if isinstance(node, ast.Import):
        return any(alias.name.split(".")[0] == module for alias in node.names)
    return isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == module
