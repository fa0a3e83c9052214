"""``carbonshift report --html``: one self-contained page (inline SVG and CSS, no scripts).

Sections: totals and the chain's head; the balance sheet per model version; emissions against
the counterfactual over time; the distribution of deferral hours; intensity per zone with the
jobs placed on it; savings by team. Every chart has its numbers in a table beside it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from statistics import median

from scheduler.accounting import effective_entries
from scheduler.model import IntensityTrace, LedgerEntry
from scheduler.reports.svg import Span, bar_chart, histogram, line_chart, pack_lanes
from scheduler.savings import SavingsRow, summarize, total

IntensitySeries = Sequence[tuple[datetime, float]]

CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1200px;color:#212121}
h1{margin-bottom:0}.sub{color:#616161}section{margin:2rem 0}
.pair{display:flex;gap:1.5rem;align-items:flex-start;flex-wrap:wrap}
table{border-collapse:collapse;font-size:13px}td,th{padding:3px 8px;border-bottom:1px solid #eee}
td.n{text-align:right;font-variant-numeric:tabular-nums}.ok{color:#2e7d32}.bad{color:#c62828}
.kpi{display:inline-block;margin-right:2rem}.kpi b{display:block;font-size:1.6rem}
"""


@dataclass(frozen=True, kw_only=True)
class ReportInput:
    """What the page is drawn from."""

    entries: Sequence[LedgerEntry]
    generated_at: datetime
    head: str
    verification: str
    verified: bool
    intensity: Mapping[str, IntensitySeries] = field(default_factory=dict)


def series_from_trace(
    trace: IntensityTrace, start: datetime, end: datetime
) -> list[tuple[datetime, float]]:
    """The steps of ``trace`` that overlap ``[start, end)`` as (time, g/kWh) points."""
    points = []
    for t, value in zip(trace.start_s.tolist(), trace.g_per_kwh.tolist(), strict=True):
        moment = datetime.fromtimestamp(int(t), tz=UTC)
        if moment < end:
            points.append((max(moment, start), float(value)))
    kept = [p for i, p in enumerate(points) if i + 1 == len(points) or points[i + 1][0] > start]
    return [*kept, (min(end, trace.end), kept[-1][1])] if kept else []


def _num(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def savings_table(rows: Sequence[SavingsRow], key: str) -> str:
    """An HTML table of savings rows with a total line."""
    head = (
        f"<tr><th>{escape(key)}</th><th>jobs</th><th>kWh</th><th>emissions kg</th>"
        "<th>counterfactual kg</th><th>saved kg</th><th>saved %</th><th>mean deferral h</th>"
        "<th>deadline misses</th></tr>"
    )
    body = []
    for row in [*rows, total(rows)] if rows else []:
        body.append(
            f'<tr data-key="{escape(row.key)}"><td>{escape(row.key)}</td>'
            f'<td class="n">{row.jobs}</td><td class="n">{_num(row.energy_kwh, 2)}</td>'
            f'<td class="n">{_num(row.emissions_kg)}</td>'
            f'<td class="n">{_num(row.counterfactual_kg)}</td>'
            f'<td class="n saved">{_num(row.saved_kg)}</td>'
            f'<td class="n">{_num(row.saved_pct, 1)}</td>'
            f'<td class="n">{_num(row.mean_deferral_h, 1)}</td>'
            f'<td class="n">{row.deadline_misses}</td></tr>'
        )
    return f'<table class="savings">{head}{"".join(body)}</table>'


def _kpis(data: ReportInput, entries: Sequence[LedgerEntry]) -> str:
    rows = summarize(entries, by="team")
    overall = total(rows)
    status = "ok" if data.verified else "bad"
    items = [
        ("jobs", str(overall.jobs)),
        ("energy kWh", _num(overall.energy_kwh, 1)),
        ("emissions kg CO2e", _num(overall.emissions_kg)),
        ("counterfactual kg", _num(overall.counterfactual_kg)),
        ("saved kg", _num(overall.saved_kg)),
        ("saved %", _num(overall.saved_pct, 1)),
    ]
    cells = "".join(f'<span class="kpi">{k}<b>{v}</b></span>' for k, v in items)
    return (
        f'<section id="totals">{cells}<p class="{status}" id="verification">'
        f"{escape(data.verification)}</p><p>ledger head <code>{escape(data.head)}</code></p>"
        "</section>"
    )


def _balance_sheet(entries: Sequence[LedgerEntry]) -> str:
    rows = summarize(entries, by="model_version")
    chart = bar_chart(
        [r.key for r in rows],
        {
            "emissions kg": [r.emissions_kg for r in rows],
            "counterfactual kg": [r.counterfactual_kg for r in rows],
        },
        title="Emissions vs counterfactual per model version",
        y_label="kg CO2e",
    )
    return (
        '<section id="balance"><h2>Balance sheet per model version</h2>'
        f'<div class="pair">{chart}{savings_table(rows, "model version")}</div></section>'
    )


def _over_time(entries: Sequence[LedgerEntry]) -> str:
    ordered = sorted(entries, key=lambda e: e.ended_at)
    actual, shadow, emitted, counterfactual = [], [], 0.0, 0.0
    for e in ordered:
        emitted += e.emissions_g / 1000.0
        counterfactual += e.counterfactual_emissions_g / 1000.0
        actual.append((e.ended_at, emitted))
        shadow.append((e.ended_at, counterfactual))
    chart = line_chart(
        {"emissions kg": actual, "counterfactual kg": shadow},
        title="Cumulative emissions vs counterfactual",
        y_label="kg CO2e",
        step=True,
    )
    numbers = (
        f"<table><tr><td>emitted</td><td class='n'>{_num(emitted)} kg</td></tr>"
        f"<tr><td>counterfactual</td><td class='n'>{_num(counterfactual)} kg</td></tr>"
        f"<tr><td>saved</td><td class='n'>{_num(counterfactual - emitted)} kg</td></tr></table>"
    )
    return (
        '<section id="over-time"><h2>Emissions vs counterfactual over time</h2>'
        f'<div class="pair">{chart}{numbers}</div></section>'
    )


def _deferrals(entries: Sequence[LedgerEntry]) -> str:
    first: dict[str, LedgerEntry] = {}
    for e in entries:
        if e.job_id not in first or e.started_at < first[e.job_id].started_at:
            first[e.job_id] = e
    hours = [e.deferral_s / 3600.0 for e in first.values()]
    chart = histogram(hours, bins=12, title="Deferral (submission → start)", x_label="hours")
    numbers = [
        ("jobs", f"{len(hours)}"),
        ("mean h", _num(sum(hours) / len(hours) if hours else None, 1)),
        ("median h", _num(median(hours) if hours else None, 1)),
        ("max h", _num(max(hours) if hours else None, 1)),
    ]
    cells = "".join(f"<tr><td>{k}</td><td class='n'>{v}</td></tr>" for k, v in numbers)
    stats = f"<table>{cells}</table>"
    return (
        '<section id="deferrals"><h2>Distribution of deferral hours</h2>'
        f'<div class="pair">{chart}{stats}</div></section>'
    )


def _zone_series(zone: str, data: ReportInput, entries: Sequence[LedgerEntry]) -> IntensitySeries:
    """The zone's series as given, else each run's realised mean intensity as a step."""
    if zone in data.intensity:
        return data.intensity[zone]
    points: list[tuple[datetime, float]] = []
    for e in sorted(entries, key=lambda e: e.started_at):
        points += [(e.started_at, e.intensity_g_per_kwh), (e.ended_at, e.intensity_g_per_kwh)]
    return points


def _zones(data: ReportInput, entries: Sequence[LedgerEntry]) -> str:
    charts = []
    for zone in sorted({e.zone for e in entries} | set(data.intensity)):
        placed = sorted((e for e in entries if e.zone == zone), key=lambda e: e.started_at)
        lanes = pack_lanes([(e.started_at, e.ended_at) for e in placed])
        spans = [
            Span(
                start=e.started_at,
                end=e.ended_at,
                lane=min(lanes[i], 11),
                label=f"{e.job_id} ({e.team}, {e.region}): {e.intensity_g_per_kwh:.0f} g/kWh, "
                f"saved {e.savings_g:.0f} g; {e.decision_explanation}",
            )
            for i, e in enumerate(placed)
        ]
        series = _zone_series(zone, data, placed)
        charts.append(
            line_chart(
                {f"{zone} g/kWh": series},
                title=f"Intensity in {zone} with {len(placed)} job runs",
                y_label="g CO2e / kWh",
                spans=spans,
                step=True,
            )
        )
    return (
        '<section id="zones"><h2>Intensity per zone with job placements</h2>'
        + "".join(charts)
        + "</section>"
    )


def render_report(data: ReportInput) -> str:
    """The whole page as HTML text."""
    entries = effective_entries(list(data.entries))
    teams = savings_table(summarize(entries, by="team"), "team")
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>carbonshift savings report</title><style>{CSS}</style></head><body>"
        "<h1>carbonshift savings report</h1>"
        f'<p class="sub">generated {data.generated_at:%Y-%m-%d %H:%M} UTC from '
        f"{len(data.entries)} ledger entries ({len(entries)} after corrections)</p>"
        + _kpis(data, entries)
        + _balance_sheet(entries)
        + _over_time(entries)
        + _deferrals(entries)
        + _zones(data, entries)
        + f'<section id="teams"><h2>Savings by team</h2>{teams}</section></body></html>'
    )
