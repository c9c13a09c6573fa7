"""``jiradrift accept``: accept the newest complete snapshot(s) of a tenant as its baseline.

The convenient form of ``kubectl label snapshot NAME jiradrift.io/accepted=true``: it labels the
chosen Snapshot and removes the label from the type's previously accepted one, with your
kubeconfig's identity, so Kubernetes RBAC decides who may accept (``patch`` on ``snapshots``) and
the API server's audit log records who did. The tenant's ``Drifted`` condition follows within one
reconcile.
"""

from __future__ import annotations

import asyncio
import getpass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from jiradrift.api.baseline import UNACCEPT_PATCH, SnapshotEntry, accept_patch, baselines
from jiradrift.api.resources import GROUP, LABEL_TENANT, VERSION
from jiradrift.cmd.cluster import CONTEXT, KUBECONFIG, NAMESPACE, tenant_ref
from jiradrift.kube.client import Kube, KubeError, resource_path
from jiradrift.kube.names import label_value


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def accept_command(
    tenant_arg: Annotated[str | None, typer.Argument(metavar="TENANT", help="The JiraTenant's name.")] = None,
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="The JiraTenant's name (same as the argument).")
    ] = None,
    namespace: str | None = NAMESPACE,
    types: Annotated[
        list[str] | None, typer.Option("--type", help="Only these snapshot types (repeatable; default: all).")
    ] = None,
    snapshot: Annotated[
        str | None, typer.Option("--snapshot", help="Accept this Snapshot (by name) instead of the newest.")
    ] = None,
    by: Annotated[
        str | None, typer.Option("--by", help="Who accepts, recorded in an annotation (default: your user name).")
    ] = None,
    kubeconfig: Path | None = KUBECONFIG,
    context: str | None = CONTEXT,
) -> None:
    """Accept snapshots as the tenant's baseline: its Drifted condition then compares against them.

    \b
    jiradrift accept acme -n jira                  the newest complete snapshot of every type
    jiradrift accept acme -n jira --type workflows
    """
    given = tenant_arg or tenant
    if not given:
        raise _fail("name the JiraTenant: jiradrift accept NAME -n NAMESPACE")
    try:
        ref = tenant_ref(given, namespace, kubeconfig, context)
    except typer.BadParameter as exc:
        raise _fail(str(exc)) from None
    try:
        lines = asyncio.run(
            _accept(ref.namespace, ref.name, types or [], snapshot, by or getpass.getuser(), kubeconfig, context)
        )
    except KubeError as exc:
        if exc.status is None:
            raise  # the API server cannot be reached: the CLI's error boundary says so, exit 1
        raise _fail(f"{exc}") from None
    for line in lines:
        typer.echo(line)


async def _accept(
    namespace: str,
    name: str,
    types: list[str],
    snapshot: str | None,
    by: str,
    kubeconfig: Path | None,
    context: str | None = None,
) -> list[str]:
    async with await Kube.connect(kubeconfig, context) as kube:
        try:
            await kube.get(resource_path(GROUP, VERSION, "jiratenants", namespace, name))
        except KubeError as exc:
            if exc.not_found:
                raise _fail(f"JiraTenant {namespace}/{name} not found (check the namespace and your context)") from None
            raise
        path = resource_path(GROUP, VERSION, "snapshots", namespace)
        objects = await kube.list_all(path, labelSelector=f"{LABEL_TENANT}={label_value(name)}")
        entries = [SnapshotEntry.from_object(o) for o in objects]
        bases = baselines(entries)
        if snapshot is not None:
            chosen = next((e for e in entries if e.name == snapshot), None)
            if chosen is None:
                raise _fail(f"Snapshot {namespace}/{snapshot} is not a snapshot of JiraTenant {namespace}/{name}")
            if not chosen.complete:
                raise _fail(
                    f"Snapshot {namespace}/{snapshot} is {chosen.phase}; only a Completed snapshot can be accepted"
                )
            targets = [chosen]
        else:
            unknown = sorted(set(types) - set(bases))
            if unknown:
                has = ", ".join(bases) or "none"
                raise _fail(f"--type {', '.join(unknown)}: tenant has no snapshots of that type (has: {has})")
            targets = [b.newest for t, b in bases.items() if b.newest is not None and (not types or t in types)]
            if not targets:
                raise _fail(f"JiraTenant {namespace}/{name} has no Completed snapshot to accept yet")
        now = datetime.now(UTC)
        lines = []
        for target in targets:
            current = bases[target.type].accepted
            if current is not None and current.name == target.name:
                lines.append(f"{target.type}: {target.name} is already accepted")
                continue
            # Label the new one first: a failure in between leaves two accepted, and the newer wins.
            await kube.merge_patch(f"{path}/{target.name}", accept_patch(by, now))
            for old in entries:
                if old.type == target.type and old.accepted and old.name != target.name:
                    await kube.merge_patch(f"{path}/{old.name}", UNACCEPT_PATCH)
            was = f" (was {current.name})" if current is not None else ""
            lines.append(f"{target.type}: accepted {target.name}{was}")
        return lines
