"""``carbonshift ledger``: list, verify, anchor and export the local ledger.

These commands read the ledger directly from the store's database (settings and data
directory), so an auditor can run them beside the server without a token.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.table import Table

from scheduler.cli.state import EXIT_USAGE, fail, fail_on, state
from scheduler.cli.timespan import parse_instant
from scheduler.cli.units import UnitError
from scheduler.clock import SystemClock
from scheduler.errors import CarbonshiftError, ConfigError, LedgerIntegrityError
from scheduler.ledger_export import export_csv, export_json, export_parquet
from scheduler.model import LedgerEntry
from scheduler.protocols import Ledger
from scheduler.wiring import build_ledger

app = typer.Typer(
    help="The append-only carbon ledger: list, verify, head, export.",
    invoke_without_command=True,
)

SinceOption = Annotated[
    str | None,
    typer.Option("--since", help="Only entries that ended after this: 7d, 2026-11-01, …"),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def open_ledger(ctx: typer.Context) -> Ledger:
    """The ledger of the configured store; exits with the fault's message if it cannot open."""
    try:
        return build_ledger(state(ctx).settings())
    except CarbonshiftError as exc:
        fail_on(exc)


def since_option(text: str | None, option: str = "--since") -> datetime | None:
    """``--since``/``--until`` as an instant; exit 2 with an accepted form if unreadable."""
    if text is None:
        return None
    try:
        return parse_instant(text, now=SystemClock().now(), option=option)
    except UnitError as exc:
        fail(str(exc), code=EXIT_USAGE)


def _table(entries: list[LedgerEntry]) -> Table:
    table = Table("seq", "job", "try", "team", "model", "region", "started (UTC)", "kWh",
                  "CO2e g", "saved g", "saved %", "basis", "hash")  # fmt: skip
    for e in entries:
        pct = "" if e.savings_pct is None else f"{e.savings_pct:.1f}"
        basis = e.intensity_basis + (f" (fixes {e.corrects_entry})" if e.corrects_entry else "")
        table.add_row(
            str(e.sequence), e.job_id, str(e.attempt), e.team, e.model_version, e.region,
            e.started_at.strftime("%Y-%m-%d %H:%M"), f"{e.energy_mj / 3.6e9:.3f}",
            f"{e.emissions_g:.1f}", f"{e.savings_g:.1f}", pct, basis, (e.entry_hash or "")[:12],
        )  # fmt: skip
    return table


@app.callback()
def list_entries(
    ctx: typer.Context, since: SinceOption = None, as_json: JsonOption = False
) -> None:
    """List ledger entries in append order (run a subcommand for more)."""
    if ctx.invoked_subcommand is not None:
        return
    entries = list(open_ledger(ctx).entries(since=since_option(since)))
    if as_json:
        typer.echo(json.dumps([e.model_dump(mode="json") for e in entries], indent=2))
        return
    Console().print(_table(entries))


@app.command("verify")
def verify(
    ctx: typer.Context,
    head: Annotated[
        str | None, typer.Option("--head", help="Also check against a head anchored earlier.")
    ] = None,
) -> None:
    """Walk the hash chain; exit 1 naming the first entry changed, removed or reordered."""
    ledger = open_ledger(ctx)
    try:
        count = ledger.verify(expected_head=head)
    except LedgerIntegrityError as exc:
        fail(f"ledger verification FAILED: {exc}")
    except CarbonshiftError as exc:
        fail_on(exc)
    typer.echo(f"ledger verified: {count} entries, head {ledger.head()}")


@app.command("head")
def head(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Print the SHA-256 of the newest entry, to anchor outside the database."""
    value = open_ledger(ctx).head()
    typer.echo(json.dumps({"head": value}) if as_json else value)


@app.command("export")
def export(
    ctx: typer.Context,
    fmt: Annotated[
        Literal["csv", "json", "parquet"], typer.Option("--format", help="csv, json or parquet")
    ] = "csv",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
    since: SinceOption = None,
) -> None:
    """Export every entry (corrections included, with their hashes)."""
    entries = list(open_ledger(ctx).entries(since=since_option(since)))
    try:
        if fmt == "parquet":
            if output is None:
                fail("--format parquet needs --output FILE (it is binary)", code=EXIT_USAGE)
            export_parquet(entries, output)
        else:
            text = export_csv(entries) if fmt == "csv" else export_json(entries)
            if output is None:
                typer.echo(text, nl=False)
            else:
                output.write_text(text, encoding="utf-8")
    except ConfigError as exc:
        fail(str(exc), code=EXIT_USAGE)
    except CarbonshiftError as exc:
        fail_on(exc)
    if output is not None:
        Console(stderr=True).print(f"wrote {len(entries)} entries to {output}", highlight=False)
