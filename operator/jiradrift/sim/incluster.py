"""The Jira emulator as its own pod: what the chart's ``emulator.enabled`` runs.

    python -m jiradrift.sim.incluster --tls-cert /tls/tls.crt --tls-key /tls/tls.key \\
        --public-url https://jira.emulator.test --email jira-drift@emulator.test   # token from $JIRA_EMULATOR_API_TOKEN

It serves every address of the pod (``jiradrift sim`` serves loopback only) over TLS, answering as
``--public-url``, with the API token the chart keeps in a Secret, so the tenant's Secret stays valid
across restarts. The site is generated from ``--size`` and ``--seed``: a restart brings back the
same site and forgets changes made through ``/_sim/admin``. Not part of the operator's image: the
chart runs it from the emulator image (``Dockerfile.emulator``).
"""

from __future__ import annotations

import contextlib
import signal
import ssl
import threading
from pathlib import Path
from typing import Annotated

import typer

from jiradrift.sim.emulator import Emulator
from jiradrift.sim.spec import SIZES

app = typer.Typer(add_completion=False)


@app.command()
def serve(
    tls_cert: Annotated[Path, typer.Option(help="PEM certificate (chain) for the public URL's host.")],
    tls_key: Annotated[Path, typer.Option(help="PEM private key of that certificate.")],
    public_url: Annotated[str, typer.Option(help="The https URL tenants name, e.g. https://jira.emulator.test.")],
    api_token: Annotated[str, typer.Option(envvar="JIRA_EMULATOR_API_TOKEN", help="The basic-auth API token.")],
    email: Annotated[str, typer.Option(help="The basic-auth user.")] = "jira-drift@emulator.test",
    size: Annotated[str, typer.Option(help=f"Site size: {', '.join(SIZES)}.")] = "small",
    seed: Annotated[int, typer.Option(help="Seed of the generated site.")] = 7,
    variant: Annotated[
        str,
        typer.Option(help="production, or sandbox: the site derived from it (other ids, known differences)."),
    ] = "production",
    host: Annotated[str, typer.Option(help="Address to bind: 0.0.0.0 or :: (every address of the pod).")] = "0.0.0.0",
    port: Annotated[int, typer.Option(help="Port to serve TLS on.")] = 8443,
) -> None:
    """Serve an emulated Jira Cloud site over TLS on every address of the pod, until SIGTERM."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(tls_cert, tls_key)
        emulator = Emulator(
            size=size,
            seed=seed,
            variant=variant,
            host=host,
            port=port,
            email=email,
            api_token=api_token,
            tls=context,
            public_url=public_url,
            expose=True,
        )
    except (OSError, ssl.SSLError, ValueError) as err:
        typer.secho(f"jira emulator: {err}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with contextlib.ExitStack() as stack:
        try:
            sim = stack.enter_context(emulator.running())
        except OSError as err:
            typer.secho(f"jira emulator: {err}", err=True, fg=typer.colors.RED)
            raise typer.Exit(2) from None
        # The API token stays out of the log: it is in the chart's Secret.
        served = f"serving {sim.base_url} on {host}:{port} as {email}"
        typer.echo(f"jira emulator size={size} seed={seed} variant={variant} {served}")
        stop.wait()
    typer.echo(f"jira emulator stopped after {len(sim.requests)} requests")


if __name__ == "__main__":
    app()
