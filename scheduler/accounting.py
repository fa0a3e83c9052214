"""Carbon accounting of finished attempts: pure functions, no I/O.

* **Realised emissions**: every energy segment of the attempt is priced with the zone's
  intensity step function over that segment, its energy spread evenly over its duration
  (constant power within a segment), times the region's PUE.
* **Counterfactual**: the same energy profile (the segments back to back, each with its
  energy) started at submission in the job's home zone, priced with the home zone's realised
  intensities and the home region's PUE: "what running it at once, at home, would have cost".
* **Forecast error**: the decision's forecast priced over the actual run, against realised.

1 kWh is 3.6e9 mJ. Emissions are grams CO2e; intensities grams per kWh.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from scheduler.errors import ForecastUnavailable
from scheduler.model import (
    EnergySegment,
    EnergySource,
    Forecast,
    Job,
    JobState,
    LedgerEntry,
)

MJ_PER_KWH = 3.6e9
EnergyCapOutcome = Literal["none", "within", "stopped", "throttled", "notified"]
Basis = Literal["realised", "forecast"]


@dataclass(frozen=True, kw_only=True)
class AttemptOutcome:
    """A finished attempt as the service knows it, before pricing."""

    job: Job
    attempt: int
    region: str
    zone: str
    cluster: str
    home_zone: str
    segments: tuple[EnergySegment, ...]
    final_state: JobState
    gpus: int
    power_cap_w: float | None
    energy_source: EnergySource
    planned_start: datetime | None = None
    decision_explanation: str = ""
    energy_cap_outcome: EnergyCapOutcome = "none"
    pue: float = 1.0
    home_pue: float = 1.0
    labels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.segments:
            raise ValueError(
                f"attempt {self.job.id}-{self.attempt} has no energy segments; give at least "
                "one EnergySegment(start, end, energy_mj)"
            )


@dataclass(frozen=True, kw_only=True)
class Pricing:
    """The intensity series an attempt is priced with."""

    intensity: Forecast
    home_intensity: Forecast
    basis: Basis = "realised"
    decision_forecast: Forecast | None = None


def intensity_at(series: Forecast, when: datetime) -> float:
    """The step value in force at ``when``.

    Raises:
        ForecastUnavailable: ``when`` lies outside the series.
    """
    start, end = series.start, series.end
    if start is None or end is None or not start <= when < end:
        raise ForecastUnavailable(
            f"intensity for {series.zone} covers {_span(series)}, not {when.isoformat()}; "
            "fetch a series that covers the whole run"
        )
    index = int((when - start).total_seconds() // series.step_s)
    return series.points[index].g_per_kwh


def _span(series: Forecast) -> str:
    if series.start is None or series.end is None:
        return "nothing (empty series)"
    return f"{series.start.isoformat()}..{series.end.isoformat()}"


def _covered(series: Forecast, start: datetime, end: datetime) -> None:
    if series.start is None or series.end is None or start < series.start or end > series.end:
        raise ForecastUnavailable(
            f"intensity for {series.zone} covers {_span(series)}, not the run "
            f"{start.isoformat()}..{end.isoformat()}; fetch a series that covers it"
        )


def segment_grams_per_kwh_weight(series: Forecast, segment: EnergySegment) -> float:
    """Time-weighted mean intensity of ``series`` over ``segment`` (g/kWh).

    A zero-length segment takes the value in force at its instant.
    """
    if segment.end == segment.start:
        return intensity_at(series, segment.start)
    _covered(series, segment.start, segment.end)
    assert series.start is not None
    step = timedelta(seconds=series.step_s)
    first = int((segment.start - series.start) / step)
    total = 0.0
    cursor = segment.start
    for point in series.points[first:]:
        stop = min(point.start + step, segment.end)
        total += (stop - cursor).total_seconds() * point.g_per_kwh
        cursor = stop
        if cursor >= segment.end:
            break
    return total / (segment.end - segment.start).total_seconds()


def price_g(series: Forecast, segments: Sequence[EnergySegment], pue: float = 1.0) -> float:
    """Grams CO2e of ``segments`` priced with ``series`` (each segment at constant power)."""
    return sum(
        seg.energy_mj / MJ_PER_KWH * pue * segment_grams_per_kwh_weight(series, seg)
        for seg in segments
    )


def weighted_intensity(series: Forecast, segments: Sequence[EnergySegment]) -> float:
    """Energy-weighted mean intensity over ``segments``; time-weighted if they drew nothing."""
    energy = sum(seg.energy_mj for seg in segments)
    if energy == 0:
        spans = [(seg.end - seg.start).total_seconds() for seg in segments]
        values = [segment_grams_per_kwh_weight(series, seg) for seg in segments]
        total_s = sum(spans)
        if total_s == 0:
            return sum(values) / len(values)
        return sum(v * s for v, s in zip(values, spans, strict=True)) / total_s
    return price_g(series, segments) * MJ_PER_KWH / energy


def counterfactual_segments(
    segments: Sequence[EnergySegment], submitted_at: datetime
) -> tuple[EnergySegment, ...]:
    """The same energy profile run back to back from ``submitted_at`` (no waits, no gaps)."""
    shifted: list[EnergySegment] = []
    cursor = submitted_at
    for seg in segments:
        end = cursor + (seg.end - seg.start)
        shifted.append(EnergySegment(start=cursor, end=end, energy_mj=seg.energy_mj))
        cursor = end
    return tuple(shifted)


def account(outcome: AttemptOutcome, pricing: Pricing, *, version: str) -> LedgerEntry:
    """The ledger entry of ``outcome`` (not yet sealed into the chain).

    Raises:
        ForecastUnavailable: a series does not cover the run or the counterfactual run.
    """
    job, segments = outcome.job, outcome.segments
    shadow = counterfactual_segments(segments, job.submitted_at)
    forecast_g_per_kwh = None
    if pricing.decision_forecast is not None:
        try:
            forecast_g_per_kwh = weighted_intensity(pricing.decision_forecast, segments)
        except ForecastUnavailable:
            forecast_g_per_kwh = None
    spec = job.spec
    return LedgerEntry(
        job_id=job.id,
        attempt=outcome.attempt,
        team=spec.team,
        project=spec.project,
        model_version=spec.model_version,
        labels=dict(outcome.labels or spec.labels),
        region=outcome.region,
        zone=outcome.zone,
        cluster=outcome.cluster,
        submitted_at=job.submitted_at,
        planned_start=outcome.planned_start,
        started_at=segments[0].start,
        ended_at=segments[-1].end,
        final_state=outcome.final_state,
        gpus=outcome.gpus,
        power_cap_w=outcome.power_cap_w,
        energy_mj=sum(seg.energy_mj for seg in segments),
        energy_source=outcome.energy_source,
        intensity_g_per_kwh=weighted_intensity(pricing.intensity, segments),
        intensity_provenance=pricing.intensity.provenance,
        emissions_g=price_g(pricing.intensity, segments, outcome.pue),
        counterfactual_emissions_g=price_g(pricing.home_intensity, shadow, outcome.home_pue),
        counterfactual_intensity_g_per_kwh=weighted_intensity(pricing.home_intensity, shadow),
        forecast_intensity_g_per_kwh=forecast_g_per_kwh,
        forecast_provenance=(
            pricing.decision_forecast.provenance if pricing.decision_forecast else None
        ),
        decision_explanation=outcome.decision_explanation,
        energy_cap_outcome=outcome.energy_cap_outcome,
        carbonshift_version=version,
        deadline=spec.deadline,
        home_zone=outcome.home_zone,
        intensity_basis=pricing.basis,
        segments=segments,
        pue=outcome.pue,
        home_pue=outcome.home_pue,
    )


def entry_segments(entry: LedgerEntry) -> tuple[EnergySegment, ...]:
    """The entry's energy segments (one covering the whole run when none were recorded)."""
    if entry.segments:
        return entry.segments
    return (EnergySegment(start=entry.started_at, end=entry.ended_at, energy_mj=entry.energy_mj),)


def correct(
    entry: LedgerEntry,
    *,
    intensity: Forecast,
    home_intensity: Forecast,
    pue: float | None = None,
    home_pue: float | None = None,
) -> LedgerEntry:
    """A correction of ``entry`` (already in the ledger) re-priced with realised history.

    The result references the original by its sequence; the original is never changed.

    Raises:
        ValueError: ``entry`` has no sequence (it was never appended).
        ForecastUnavailable: the history does not cover the run or the counterfactual.
    """
    if entry.sequence is None:
        raise ValueError(
            f"entry for {entry.job_id} attempt {entry.attempt} has no sequence; only an "
            "appended entry can be corrected"
        )
    segments = entry_segments(entry)
    shadow = counterfactual_segments(segments, entry.submitted_at)
    pue = entry.pue if pue is None else pue
    home_pue = entry.home_pue if home_pue is None else home_pue
    basis: Basis = "realised"
    return entry.model_copy(
        update={
            "intensity_g_per_kwh": weighted_intensity(intensity, segments),
            "intensity_provenance": intensity.provenance,
            "emissions_g": price_g(intensity, segments, pue),
            "counterfactual_emissions_g": price_g(home_intensity, shadow, home_pue),
            "counterfactual_intensity_g_per_kwh": weighted_intensity(home_intensity, shadow),
            "intensity_basis": basis,
            "corrects_entry": entry.sequence,
            "correction_reason": (
                f"realised history for {entry.zone} replaced the "
                f"{entry.intensity_basis} values of entry {entry.sequence}"
            ),
            "sequence": None,
            "prev_hash": None,
            "entry_hash": None,
        }
    )


def needs_correction(entries: Sequence[LedgerEntry]) -> list[LedgerEntry]:
    """Entries still priced with forecasts that no later entry corrects yet."""
    corrected = {e.corrects_entry for e in entries if e.corrects_entry is not None}
    effective = [e for e in entries if e.sequence not in corrected]
    return [e for e in effective if e.intensity_basis == "forecast"]


def effective_entries(entries: Sequence[LedgerEntry]) -> list[LedgerEntry]:
    """Entries with every corrected one replaced by its latest correction, in append order."""
    corrected = {e.corrects_entry for e in entries if e.corrects_entry is not None}
    return [e for e in entries if e.sequence is None or e.sequence not in corrected]
