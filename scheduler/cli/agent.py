"""``carbonshift agent``: run the GPU node agent, and ask it for status, caps and releases.

The client commands find the agent through ``--state-dir`` (the socket in it) or
``--agent unix:///path/agent.sock``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from scheduler.cli.state import EXIT_USAGE, LogJson, fail, fail_on, state
from scheduler.clock import SystemClock
from scheduler.errors import CarbonshiftError
from scheduler.service.logs import configure_logging
from scheduler.wiring import (
    build_power_backend,
    node_agent_client,
    serve_node_agent,
    wrap_job_with_power,
)

app = typer.Typer(
    help="The GPU node agent: power-cap leases on this node's GPUs.", no_args_is_help=True
)

StateDir = Annotated[
    Path | None,
    typer.Option("--state-dir", help="The agent's state directory (journal, socket, sim GPUs)."),
]
AgentAddress = Annotated[
    str | None, typer.Option("--agent", help="Agent address, unix:///path/agent.sock.")
]
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*$")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600}


def parse_duration_s(text: str) -> float:
    """``90``, ``90s``, ``10m`` or ``2h`` in seconds; ``typer.BadParameter`` otherwise."""
    match = _DURATION.match(text)
    if match is None or float(match.group(1)) <= 0:
        raise typer.BadParameter(f"{text!r} is not a duration; write e.g. 90s, 10m or 2h")
    return float(match.group(1)) * _UNIT_S[match.group(2)]


def _client(state_dir: Path | None, address: str | None) -> Any:
    try:
        return node_agent_client(state_dir=state_dir, address=address)
    except ValueError as exc:
        fail(str(exc), code=EXIT_USAGE)


@app.command("run")
def run(
    ctx: typer.Context,
    state_dir: Annotated[Path, typer.Option("--state-dir", help="Journal, socket, sim GPUs.")],
    backend: Annotated[
        str | None,
        typer.Option("--backend", help="nvml or simulated (default: settings power.kind)"),
    ] = None,
    gpus: Annotated[int | None, typer.Option("--gpus", min=1, help="Simulated GPUs.")] = None,
    log_json: LogJson = None,
) -> None:
    """Run the node agent until SIGTERM; restore every limit it changed when it stops."""
    settings = state(ctx).settings()
    configure_logging(settings.log_level, json=log_json)
    clock = SystemClock()
    try:
        power = build_power_backend(settings, clock, kind=backend, gpus=gpus, state_dir=state_dir)
        serve_node_agent(power, state_dir, clock)
    except ValueError as exc:
        fail(str(exc), code=EXIT_USAGE)
    except CarbonshiftError as exc:
        fail_on(exc)


@app.command("status")
def status(
    state_dir: StateDir = None,
    agent: AgentAddress = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """GPUs with their current, default and allowed limits, and the live leases."""
    try:
        document = _client(state_dir, agent).status()
    except CarbonshiftError as exc:
        fail_on(exc)
    if as_json:
        typer.echo(json.dumps(document, indent=2))
        return
    _print_status(document)


def _print_status(document: dict[str, Any]) -> None:
    leases = {lease["gpu"]: lease for lease in document["leases"]}
    table = Table("GPU", "uuid", "limit W", "default W", "range W", "lease")
    for gpu in document["gpus"]:
        lease = leases.get(gpu["index"])
        held = "—"
        if lease:
            held = f"{lease['job_id']}#{lease['attempt']} until {lease['expires_at']}"
            if lease.get("drifted_mw"):
                held += f" (drifted to {lease['drifted_mw'] / 1000:g} W)"
        table.add_row(
            str(gpu["index"]),
            gpu["uuid"],
            f"{gpu['limit_w']:g}",
            f"{gpu['default_limit_w']:g}",
            f"{gpu['min_w']:g}–{gpu['max_w']:g}",
            held,
        )
    Console().print(table)


@app.command("cap")
def cap(  # noqa: PLR0917  (a Typer command takes one parameter per option)
    gpu: Annotated[list[int], typer.Option("--gpu", help="GPU index; repeat for several.")],
    limit_w: Annotated[float, typer.Option("--limit-w", help="Power limit per GPU, watts.")],
    job: Annotated[str, typer.Option("--job", help="Job id holding the lease.")],
    ttl: Annotated[str, typer.Option("--ttl", help="Lease duration, e.g. 10m.")] = "10m",
    attempt: Annotated[int, typer.Option("--attempt", min=0)] = 0,
    whole_gpu: Annotated[
        bool, typer.Option("--whole-gpu", help="The job owns every MIG instance.")
    ] = False,
    state_dir: StateDir = None,
    agent: AgentAddress = None,
) -> None:
    """Cap GPUs for a job until the lease expires or is released (all GPUs or none)."""
    ttl_s = parse_duration_s(ttl)
    try:
        leases = _client(state_dir, agent).cap(
            gpus=gpu,
            limit_mw=round(limit_w * 1000),
            job_id=job,
            attempt=attempt,
            ttl_s=ttl_s,
            whole_gpu=whole_gpu,
        )
    except ValueError as exc:
        fail(str(exc), code=EXIT_USAGE)
    except CarbonshiftError as exc:
        fail_on(exc)
    for lease in leases:
        typer.echo(
            f"GPU {lease.gpu}: {lease.limit_mw / 1000:g} W for {lease.job_id} "
            f"until {lease.expires_at.isoformat()}"
        )


@app.command("release")
def release(
    job: Annotated[str, typer.Option("--job", help="Job whose leases end.")],
    state_dir: StateDir = None,
    agent: AgentAddress = None,
) -> None:
    """End a job's leases and restore its GPUs' original limits."""
    try:
        restored = _client(state_dir, agent).release(job)
    except CarbonshiftError as exc:
        fail_on(exc)
    typer.echo(f"released {job}: restored GPUs {restored}")


@app.command(
    "wrap",
    context_settings={"allow_interspersed_args": False},
)
def wrap(  # noqa: PLR0917  (a Typer command takes one parameter per option)
    ctx: typer.Context,
    argv: Annotated[list[str], typer.Argument(help="The job's command, after --.")],
    job: Annotated[str, typer.Option("--job", help="Job id (the lease holder).")],
    attempt: Annotated[int, typer.Option("--attempt", min=0)] = 0,
    power_cap_w: Annotated[float | None, typer.Option("--power-cap-w", help="Per-GPU W.")] = None,
    energy_cap_kwh: Annotated[
        float | None, typer.Option("--energy-cap-kwh", help="Energy budget of the job.")
    ] = None,
    policy: Annotated[
        str, typer.Option("--policy", help="At the energy cap: stop, throttle or notify.")
    ] = "stop",
    estimated_duration_s: Annotated[
        float | None, typer.Option("--estimated-duration-s", help="For throttle.")
    ] = None,
    sample_s: Annotated[float, typer.Option("--sample-s", min=0.1, help="Sampling period.")] = 5,
    report: Annotated[Path | None, typer.Option("--report", help="Write the JSON here.")] = None,
    caps_file: Annotated[
        Path | None, typer.Option("--caps-file", help="JSON caps, re-read every sample.")
    ] = None,
    visible_devices: Annotated[
        str, typer.Option("--gpus", envvar="CUDA_VISIBLE_DEVICES", help="The job's GPUs.")
    ] = "",
    backend: Annotated[str | None, typer.Option("--backend", help="nvml or simulated.")] = None,
    state_dir: StateDir = None,
    agent: AgentAddress = None,
) -> None:
    """Run a job metered (and capped); print its energy report as the last line.

    Example: carbonshift agent wrap --job J --power-cap-w 200 --state-dir D -- python train.py
    """
    if policy not in ("stop", "throttle", "notify"):
        fail(f"--policy {policy!r} is not one of stop, throttle, notify", code=EXIT_USAGE)
    caps = {"power_cap_w": power_cap_w, "energy_cap_kwh": energy_cap_kwh, "policy": policy}
    try:
        code = wrap_job_with_power(
            state(ctx).settings(),
            SystemClock(),
            argv=argv,
            job_id=job,
            attempt=attempt,
            caps=caps,
            caps_file=caps_file,
            visible_devices=visible_devices,
            estimated_duration_s=estimated_duration_s,
            sample_s=sample_s,
            report_path=report,
            backend=backend,
            state_dir=state_dir,
            address=agent,
        )
    except ValueError as exc:
        fail(str(exc), code=EXIT_USAGE)
    except CarbonshiftError as exc:
        fail_on(exc)
    raise typer.Exit(code)
