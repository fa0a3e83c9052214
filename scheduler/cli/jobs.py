"""``carbonshift submit | status | list | cancel | cap``: the REST API's client commands.

The server is ``--url``, else ``$CARBONSHIFT_URL``, else ``api.url`` from the settings; the
token is ``--token``, else ``$CARBONSHIFT_TOKEN``, else ``api.token``. ``--json`` prints the
API's JSON (errors too, as ``{"error": {"code", "message"}}``, with a non-zero exit).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from typing import Annotated, Any, NoReturn, TypeVar, get_args

import typer
from rich.console import Console

from scheduler.cli import job_tables
from scheduler.cli.api_client import ApiClient, ApiClientError
from scheduler.cli.state import EXIT_FAULT, EXIT_USAGE, fail, state
from scheduler.cli.units import (
    UnitError,
    parse_deadline,
    parse_duration_s,
    parse_energy_kwh,
    parse_power_w,
    parse_zones,
)
from scheduler.clock import SystemClock
from scheduler.model import EnergyCapPolicy

T = TypeVar("T")
ENERGY_CAP_POLICIES = get_args(EnergyCapPolicy)

UrlOption = Annotated[
    str | None,
    typer.Option("--url", envvar="CARBONSHIFT_URL", help="Server URL (default: api.url)."),
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="CARBONSHIFT_TOKEN",
        help="Bearer token (default: api.token).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _client(ctx: typer.Context, url: str | None, token: str | None) -> ApiClient:
    api = state(ctx).settings().api
    secret = token or (api.token.get_secret_value() if api.token else None)
    return ApiClient(url or api.url, secret)


def _error_exit(exc: ApiClientError, as_json: bool) -> NoReturn:
    if as_json:
        typer.echo(json.dumps(exc.body()))
        raise typer.Exit(EXIT_FAULT)
    fail(f"{exc.message} [{exc.code}]")


def _call(action: Callable[[], T], as_json: bool) -> T:
    try:
        return action()
    except ApiClientError as exc:
        _error_exit(exc, as_json)


def _parse(parser: Callable[[str], T], text: str | None, option: str, as_json: bool) -> T | None:
    if text is None:
        return None
    try:
        return parser(text)
    except UnitError as exc:
        if as_json:
            body = {"error": {"code": "bad_argument", "message": f"{option}: {exc}"}}
            typer.echo(json.dumps(body))
            raise typer.Exit(EXIT_USAGE) from None
        fail(f"{option}: {exc}", code=EXIT_USAGE)


def _energy_cap_policy(text: str) -> str:
    policy = text.strip().lower()
    if policy not in ENERGY_CAP_POLICIES:
        raise UnitError(f"unknown policy {text!r}; use one of {', '.join(ENERGY_CAP_POLICIES)}")
    return policy


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2))


def submit(
    ctx: typer.Context,
    *,
    entrypoint: Annotated[list[str], typer.Argument(help="The command to run, after --.")],
    deadline: Annotated[str, typer.Option(help="+36h, or 2026-11-28T08:00Z.")],
    duration: Annotated[str, typer.Option(help="Estimated run time: 6h, 90m, 1h30m.")],
    gpus: Annotated[int, typer.Option(help="GPUs the job needs.")] = 1,
    zones: Annotated[str | None, typer.Option(help="Allowed zones: DE,FR,GB.")] = None,
    power_cap: Annotated[str | None, typer.Option(help="Per-GPU power cap: 250W.")] = None,
    energy_cap: Annotated[str | None, typer.Option(help="Energy budget: 40kWh.")] = None,
    energy_cap_policy: Annotated[
        str | None,
        typer.Option(help="At the energy cap: stop (default), throttle or notify."),
    ] = None,
    earliest_start: Annotated[str | None, typer.Option(help="Not before: +2h or a time.")] = None,
    team: Annotated[str | None, typer.Option(help="Default: the token's team.")] = None,
    project: Annotated[str | None, typer.Option()] = None,
    model_version: Annotated[str | None, typer.Option()] = None,
    name: Annotated[str | None, typer.Option(help="Default: the command line.")] = None,
    interruptible: Annotated[
        bool, typer.Option(help="The job checkpoints and may run in pieces.")
    ] = False,
    idempotency_key: Annotated[str | None, typer.Option(help="Repeat-safe key.")] = None,
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Submit a job; prints its first decision in one line."""
    now = SystemClock().now()
    spec: dict[str, Any] = {
        "name": name or shlex.join(entrypoint)[:200],
        "entrypoint": entrypoint,
        "gpus": gpus,
        "estimated_duration_s": _parse(parse_duration_s, duration, "--duration", as_json),
        "deadline": _parse(lambda t: parse_deadline(t, now=now), deadline, "--deadline", as_json),
        "interruptible": interruptible,
    }
    optional = {
        "zones": _parse(parse_zones, zones, "--zones", as_json),
        "power_cap_w": _parse(parse_power_w, power_cap, "--power-cap", as_json),
        "energy_cap_kwh": _parse(parse_energy_kwh, energy_cap, "--energy-cap", as_json),
        "energy_cap_policy": _parse(
            _energy_cap_policy, energy_cap_policy, "--energy-cap-policy", as_json
        ),
        "earliest_start": _parse(
            lambda t: parse_deadline(t, now=now), earliest_start, "--earliest-start", as_json
        ),
        "team": team,
        "project": project,
        "model_version": model_version,
    }
    spec.update({key: value for key, value in optional.items() if value is not None})
    body = json.loads(json.dumps(spec, default=lambda moment: moment.isoformat()))
    client = _client(ctx, url, token)
    job = _call(lambda: client.submit(body, idempotency_key=idempotency_key), as_json)
    if as_json:
        _print_json(job)
        return
    Console().print(job_tables.decision_line(job), highlight=False, soft_wrap=True)


def status(
    ctx: typer.Context,
    job_id: Annotated[str, typer.Argument(metavar="JOB", help="Job id.")],
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Everything about one job: state, decision, plan, attempts, realised savings."""
    client = _client(ctx, url, token)
    job = _call(lambda: client.job(job_id), as_json)
    if as_json:
        _print_json(job)
        return
    console = Console()
    console.print(job_tables.job_table(job))
    if job.get("attempts"):
        console.print(job_tables.attempts_table(job["attempts"]))


def list_jobs(
    ctx: typer.Context,
    *,
    states: Annotated[
        list[str] | None, typer.Option("--state", help="Repeat for several: PENDING, RUNNING…")
    ] = None,
    team: Annotated[str | None, typer.Option()] = None,
    project: Annotated[str | None, typer.Option()] = None,
    model_version: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Your jobs (an admin's: everyone's), oldest first."""
    client = _client(ctx, url, token)
    filters = {"team": team or "", "project": project or "", "model_version": model_version or ""}
    upper = [s.upper() for s in states or []]
    page = _call(lambda: client.jobs(states=upper, limit=limit, offset=offset, **filters), as_json)
    if as_json:
        _print_json(page["items"])
        return
    console = Console()
    if not page["items"]:
        console.print("no jobs", highlight=False)
        return
    console.print(job_tables.jobs_table(page["items"]))
    if page.get("next_offset") is not None:
        console.print(f"more: --offset {page['next_offset']}", highlight=False)


def cancel(
    ctx: typer.Context,
    job_id: Annotated[str, typer.Argument(metavar="JOB", help="Job id.")],
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Cancel a job (a running one is stopped on its cluster)."""
    client = _client(ctx, url, token)
    job = _call(lambda: client.cancel(job_id), as_json)
    if as_json:
        _print_json(job)
        return
    Console().print(f"{job['id']}: {job['state']}", highlight=False)


def cap(
    ctx: typer.Context,
    *,
    job_id: Annotated[str, typer.Argument(metavar="JOB", help="Job id.")],
    power: Annotated[str | None, typer.Option(help="Per-GPU power cap: 200W, or 'none'.")] = None,
    energy: Annotated[str | None, typer.Option(help="Energy budget: 30kWh, or 'none'.")] = None,
    url: UrlOption = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change the power and/or energy cap of a pending or running job."""
    caps: dict[str, float | None] = {}
    if power is not None:
        caps["power_cap_w"] = (
            None if power == "none" else _parse(parse_power_w, power, "--power", as_json)
        )
    if energy is not None:
        caps["energy_cap_kwh"] = (
            None if energy == "none" else _parse(parse_energy_kwh, energy, "--energy", as_json)
        )
    if not caps:
        fail("give --power 200W and/or --energy 30kWh", code=EXIT_USAGE)
    client = _client(ctx, url, token)
    job = _call(lambda: client.set_caps(job_id, caps), as_json)
    if as_json:
        _print_json(job)
        return
    Console().print(job_tables.caps_line(job), highlight=False)


def register(app: typer.Typer) -> None:
    """Add the client commands to the ``carbonshift`` app."""
    app.command("submit")(submit)
    app.command("status")(status)
    app.command("list")(list_jobs)
    app.command("cancel")(cancel)
    app.command("cap")(cap)
