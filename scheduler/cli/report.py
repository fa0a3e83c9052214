"""``carbonshift report --html FILE``: a self-contained savings report from the local ledger."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from scheduler.accounting import effective_entries
from scheduler.cli.ledger import open_ledger, since_option
from scheduler.cli.state import EXIT_USAGE, fail, state
from scheduler.clock import SystemClock
from scheduler.errors import CarbonshiftError, ForecastError, LedgerIntegrityError
from scheduler.model import LedgerEntry
from scheduler.protocols import IntensityHistory, Ledger
from scheduler.reports.html import IntensitySeries, ReportInput, render_report
from scheduler.savings import in_window
from scheduler.wiring import build_history


def verification(ledger: Ledger) -> tuple[bool, str]:
    """Whether the chain verifies, and a line saying so."""
    try:
        count = ledger.verify()
    except LedgerIntegrityError as exc:
        return False, f"ledger verification FAILED: {exc}"
    return True, f"ledger verified: {count} entries, hash chain intact"


def zone_history(
    history: IntensityHistory, entries: Sequence[LedgerEntry]
) -> dict[str, IntensitySeries]:
    """Each zone's realised series over the span of its runs; zones without history are left
    out (the report then draws the runs' own mean intensities)."""
    spans: dict[str, tuple[datetime, datetime]] = {}
    for e in entries:
        start, end = spans.get(e.zone, (e.started_at, e.ended_at))
        spans[e.zone] = (min(start, e.started_at), max(end, e.ended_at))
    series: dict[str, IntensitySeries] = {}
    for zone, (start, end) in spans.items():
        try:
            observed = history.observed(zone, start, end)
        except ForecastError:
            continue
        points = [(p.start, p.g_per_kwh) for p in observed.points]
        if points and observed.end is not None:
            series[zone] = [*points, (observed.end, points[-1][1])]
    return series


def write_report(
    ledger: Ledger,
    path: Path,
    *,
    since_text: str | None = None,
    intensity: Mapping[str, IntensitySeries] | None = None,
    history: IntensityHistory | None = None,
) -> int:
    """Write the report of ``ledger`` to ``path``; return how many entries it covers.

    ``intensity`` (zone → points), or else ``history``, draws the zones' real series under
    the job runs; without either each run's realised mean intensity is drawn.
    """
    since = since_option(since_text)
    entries = [e for e in ledger.entries(since=since) if in_window(e, since, None)]
    if intensity is None and history is not None:
        intensity = zone_history(history, effective_entries(entries))
    ok, line = verification(ledger)
    page = render_report(
        ReportInput(
            entries=entries,
            generated_at=SystemClock().now(),
            head=ledger.head(),
            verification=line,
            verified=ok,
            intensity=intensity or {},
        )
    )
    path.write_text(page, encoding="utf-8")
    return len(entries)


def report(
    ctx: typer.Context,
    html: Annotated[Path | None, typer.Option("--html", help="Write the HTML report here.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only entries that ended from: 30d, 2026-11-01")
    ] = None,
    with_history: Annotated[
        bool,
        typer.Option(
            "--history/--no-history",
            help="Draw each zone's realised intensity from the configured providers.",
        ),
    ] = True,
) -> None:
    """Write a self-contained HTML report: balance sheet, charts, deferrals, zones."""
    if html is None:
        fail("give the file to write with --html FILE, e.g. --html report.html", code=EXIT_USAGE)
    history = None
    if with_history:
        try:
            history = build_history(state(ctx).settings(), SystemClock())
        except CarbonshiftError:
            history = None  # the report still draws each run's own mean intensity
    count = write_report(open_ledger(ctx), html, since_text=since, history=history)
    Console(stderr=True).print(f"wrote report of {count} ledger entries to {html}", highlight=False)
