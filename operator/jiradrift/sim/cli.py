"""``jiradrift sim``: run the emulator in the foreground and print how to reach it."""

from __future__ import annotations

import threading
import time
from typing import Annotated

import typer
from rich.console import Console

from jiradrift.sim.clock import Clock, ManualClock, SystemClock
from jiradrift.sim.emulator import Emulator
from jiradrift.sim.spec import SIZES


def sim_command(
    size: Annotated[str, typer.Option(help=f"Site size: {', '.join(SIZES)}.")] = "small",
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 = any free port).")] = 8080,
    seed: Annotated[int, typer.Option(help="Seed of the generated site; same seed and size, same site.")] = 1,
    latency_ms: Annotated[float, typer.Option("--latency-ms", help="Added to every API response.")] = 0,
    access_token_ttl: Annotated[int, typer.Option(help="OAuth access token lifetime in seconds.")] = 3600,
    manual_clock: Annotated[bool, typer.Option(help="Freeze time; move it with POST /_sim/clock/advance.")] = False,
    run_for: Annotated[float, typer.Option(help="Stop after this many seconds (0 = until Ctrl-C).")] = 0,
    audit_delay_seconds: Annotated[
        float, typer.Option(help="Audit records become visible this many seconds after the change.")
    ] = 0,
    cost_points: Annotated[
        int, typer.Option(help="Points quota per window (1 per request + 1 per object returned); 0 = none.")
    ] = 0,
    cost_window_seconds: Annotated[float, typer.Option(help="Length of a points-quota window.")] = 3600,
    variant: Annotated[
        str, typer.Option(help="production, or sandbox: the same site with other ids and known differences.")
    ] = "production",
) -> None:
    """Serve an emulated Jira Cloud site on 127.0.0.1 for tests, benchmarks and the demo.

    Prints the site URL, the OAuth gateway URL and every credential. Admin mutations, faults and
    the request log are under /_sim/ (e.g. POST /_sim/admin/rename_status {"status_id": "10000",
    "name": "Neu"}).
    """
    console = Console(soft_wrap=True, highlight=False)
    clock: Clock = ManualClock() if manual_clock else SystemClock()
    try:
        emulator = Emulator(
            size=size,
            seed=seed,
            latency_ms=latency_ms,
            access_token_ttl=access_token_ttl,
            clock=clock,
            port=port,
            audit_delay_seconds=audit_delay_seconds,
            variant=variant,
        )
        if audit_delay_seconds < 0 or cost_points < 0 or cost_window_seconds <= 0:
            raise ValueError("--audit-delay-seconds and --cost-points must be >= 0, --cost-window-seconds > 0")
    except ValueError as err:
        raise typer.BadParameter(str(err)) from None
    started = time.perf_counter()
    with emulator.running() as sim:
        sim.set_cost_budget(cost_points or None, window_seconds=cost_window_seconds)
        c = sim.credentials
        took = time.perf_counter() - started
        console.print(f"[bold]Jira emulator[/] size={size} seed={seed} variant={variant} started in {took:.2f}s")
        console.print(f"site URL        {sim.base_url}   (API {sim.api_url})")
        console.print(f"gateway API     {sim.gateway_api_url}")
        console.print(f"cloud id        {sim.cloud_id}")
        console.print(f"token URL       {sim.token_url}")
        console.print(f"basic auth      email={c.email} api_token={c.api_token}")
        console.print(f"OAuth 3LO       client_id={c.client_id} client_secret={c.client_secret}")
        console.print(f"                refresh_token={c.refresh_token}")
        console.print(f"service account client_id={c.sa_client_id} client_secret={c.sa_client_secret}")
        console.print(f"DC PAT          {c.pat}")
        console.print(f"control         {sim.base_url}/_sim/info, /_sim/admin/<mutation>, /_sim/faults/<fault>")
        console.print(
            f"audit log       records visible after {audit_delay_seconds:g} s; "
            f"quota {f'{cost_points} points per {cost_window_seconds:g} s' if cost_points else 'off'} "
            "(change with POST /_sim/audit, /_sim/cost)"
        )
        stop = threading.Event()
        try:
            stop.wait(run_for if run_for > 0 else None)
        except KeyboardInterrupt:
            pass
        console.print(f"stopped after {len(sim.requests)} requests")
