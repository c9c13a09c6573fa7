"""The flags of commands that read a cluster, as kubectl spells them.

    jiradrift accept acme -n jira --context prod
    jiradrift drift list --tenant acme -n jira --unaccepted

``-n/--namespace`` (default: the kubeconfig context's namespace, else ``default``), ``--kubeconfig``
and ``--context``. A tenant is named by ``--tenant NAME``; the older ``--tenant NAMESPACE/NAME``
still works, with a one-line deprecation note on stderr.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import typer

from jiradrift.cmd.output import deprecated
from jiradrift.kube.client import Kube
from jiradrift.kube.kubeconfig import context_namespace
from jiradrift.store.configmap import ConfigMapStore, SecretStore

NAMESPACE = typer.Option(
    None, "--namespace", "-n", help="Namespace of the JiraTenant (default: the kubeconfig context's, else default)."
)
KUBECONFIG = typer.Option(None, "--kubeconfig", help="Kubeconfig file (default: $KUBECONFIG, ~/.kube/config).")
CONTEXT = typer.Option(None, "--context", help="Kubeconfig context to use (default: the current one).")
ALL_NAMESPACES = typer.Option(
    False, "--all-namespaces", "-A", help="Every JiraTenant in every namespace (as kubectl get -A)."
)

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@dataclass(frozen=True)
class TenantRef:
    namespace: str
    name: str
    kubeconfig: Path | None
    context: str | None

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"

    def flags(self) -> str:
        """How to name this tenant again on a command line (for the hints commands print)."""
        return f"--tenant {self.name} -n {self.namespace}{f' --context {self.context}' if self.context else ''}"


def tenant_ref(
    tenant: str, namespace: str | None, kubeconfig: Path | None, context: str | None, flag: str = "--tenant"
) -> TenantRef:
    """``NAME`` with ``-n``, or the deprecated ``NAMESPACE/NAME``; refused with the fix when neither."""
    if "/" in tenant:
        ns, _, name = tenant.partition("/")
        if namespace is not None and namespace != ns:
            raise typer.BadParameter(f"{flag} {tenant!r} names namespace {ns!r} but -n says {namespace!r}")
        deprecated(f"{flag} NAMESPACE/NAME", f"{flag} {name or 'NAME'} -n {ns or 'NAMESPACE'}")
    else:
        ns, name = namespace or context_namespace(kubeconfig, context), tenant
    if not _NAMESPACE.match(ns) or not _NAME.match(name):
        raise typer.BadParameter(f"{flag} {tenant!r}: expected a JiraTenant name, e.g. {flag} acme -n jira")
    return TenantRef(ns, name, kubeconfig, context)


async def cluster_store(kube: Kube, namespace: str, tenant: str) -> ConfigMapStore:
    """The store the operator wrote tenant ``tenant``'s snapshots to in ``namespace``.

    Secrets are the operator's default store; an operator run with ``--store=configmap`` used
    ConfigMaps. The Secret store is the answer when it holds a manifest of the tenant.
    """
    store: ConfigMapStore = SecretStore(kube, namespace, tenant)
    if await store.list_manifests(tenant):
        return store
    return ConfigMapStore(kube, namespace, tenant)
