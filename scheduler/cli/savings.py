"""``carbonshift savings``: the balance sheet of deferrals, grouped, from the local ledger."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from scheduler.cli.ledger import JsonOption, open_ledger, since_option
from scheduler.savings import GROUP_BY_CHOICES, GroupBy, SavingsRow, summarize, total


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def _table(by: str, rows: list[SavingsRow]) -> Table:
    table = Table(by, "jobs", "energy kWh", "emissions kg", "counterfactual kg", "saved kg",
                  "saved %", "mean deferral h", "deadline misses")  # fmt: skip
    for row in [*rows, total(rows)] if rows else []:
        table.add_row(
            row.key, str(row.jobs), f"{row.energy_kwh:.2f}", f"{row.emissions_kg:.3f}",
            f"{row.counterfactual_kg:.3f}", f"{row.saved_kg:.3f}", _pct(row.saved_pct),
            f"{row.mean_deferral_h:.1f}", str(row.deadline_misses),
            style="bold" if row.key == "total" else None,
        )  # fmt: skip
    return table


def savings(
    ctx: typer.Context,
    by: Annotated[
        GroupBy, typer.Option("--by", help=f"Group by: {', '.join(GROUP_BY_CHOICES)}.")
    ] = "team",
    since: Annotated[
        str | None, typer.Option("--since", help="Entries that ended from: 30d, 2026-11-01, …")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="… and before: 2026-12-01, 1d, …")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Jobs, energy, emissions, counterfactual, savings, deferral and deadline misses."""
    start, end = since_option(since), since_option(until, "--until")
    rows = summarize(open_ledger(ctx).entries(since=start), by=by, since=start, until=end)
    if as_json:
        payload: dict[str, Any] = {"group_by": by, "rows": [r.model_dump() for r in rows]}
        payload["total"] = total(rows).model_dump() if rows else None
        typer.echo(json.dumps(payload, indent=2))
        return
    if not rows:
        Console().print("no ledger entries in that window", highlight=False)
        return
    Console().print(_table(by, rows))
