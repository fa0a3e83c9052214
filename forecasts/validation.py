"""Validation of carbon-signal payloads: nothing reaches the planner unchecked.

Providers parse their payload into ``RawPoint`` values (timestamps already parsed with
``parse_utc``, values already converted with ``to_g_per_kwh``) and call ``validate_series``:

* the series is not empty; timestamps are aware UTC and advance by exactly the declared step
  (duplicates, gaps and reordering reject the payload);
* a point is *bad* when its value is missing (``null``), not finite, a sentinel (``-1``) or
  outside ``[min_g_per_kwh, max_g_per_kwh]``; when more than ``max_bad_fraction`` of the
  points are bad the whole payload is rejected, otherwise bad points are filled from their
  neighbours and the provenance notes how many;
* an all-identical series is flagged in the provenance notes;
* provenance is complete: provider, zone, signal, ``generated_at`` not after ``fetched_at``
  (beyond a small clock skew), horizon, fallback flag.

Every rejection is a ``ForecastRejected`` naming provider, zone, the bad value and the fix.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from scheduler.errors import ForecastRejected, ForecastUnavailable
from scheduler.model import Forecast, ForecastProvenance, IntensityPoint, SignalType

#: Conversion factors to grams CO2e per kWh, by the unit names providers use (lower case).
UNIT_TO_G_PER_KWH = {
    "g/kwh": 1.0,
    "gco2/kwh": 1.0,
    "gco2e/kwh": 1.0,
    "gco2eq/kwh": 1.0,
    "kg/mwh": 1.0,
    "kgco2/mwh": 1.0,
    "lbs_co2_per_mwh": 0.45359237,
    "lbs/mwh": 0.45359237,
    "kg/kwh": 1000.0,
    "t/mwh": 1000.0,
}


@dataclass(frozen=True, kw_only=True)
class ValidationRules:
    """What counts as a usable series."""

    min_g_per_kwh: float = 0.0
    max_g_per_kwh: float = 2500.0
    max_bad_fraction: float = 0.05
    sentinels: frozenset[float] = frozenset({-1.0})
    max_clock_skew_s: int = 300


@dataclass(frozen=True, kw_only=True)
class RawPoint:
    """One parsed point before validation; ``g_per_kwh`` None means the payload had null."""

    start: datetime
    g_per_kwh: float | None
    lower_g_per_kwh: float | None = None
    upper_g_per_kwh: float | None = None


@dataclass(frozen=True, kw_only=True)
class SeriesMeta:
    """What the provider knows about a payload besides its points."""

    provider: str
    zone: str
    step_s: int
    generated_at: datetime
    fetched_at: datetime
    signal: SignalType = "average"
    fallback: bool = False


def reject(meta_provider: str, zone: str, problem: str) -> ForecastRejected:
    """A ``ForecastRejected`` in the common wording."""
    return ForecastRejected(f"{meta_provider}: zone {zone}: payload rejected: {problem}")


def parse_utc(value: Any, *, provider: str, zone: str, field: str) -> datetime:
    """An aware UTC datetime from an ISO 8601 string; naive or malformed ones are rejected."""
    if not isinstance(value, str):
        raise reject(provider, zone, f"{field} must be an ISO 8601 string, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise reject(provider, zone, f"{field} {value!r} is not an ISO 8601 datetime") from exc
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise reject(
            provider,
            zone,
            f"{field} {value!r} has no timezone; carbonshift only accepts UTC offsets "
            "(e.g. 2026-11-28T08:00:00Z)",
        )
    return parsed.astimezone(UTC)


def to_g_per_kwh(value: Any, unit: str, *, provider: str, zone: str) -> float | None:
    """``value`` in ``unit`` converted to g/kWh; None stays None (a bad point later)."""
    factor = UNIT_TO_G_PER_KWH.get(unit.strip().lower())
    if factor is None:
        known = ", ".join(sorted(UNIT_TO_G_PER_KWH))
        raise reject(provider, zone, f"unknown unit {unit!r}; expected one of: {known}")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise reject(provider, zone, f"intensity must be a number, got {value!r}")
    return float(value) * factor


def validate_series(
    points: Sequence[RawPoint], *, meta: SeriesMeta, rules: ValidationRules
) -> Forecast:
    """The validated ``Forecast`` for ``points``, or ``ForecastRejected`` saying why."""
    if not points:
        raise reject(meta.provider, meta.zone, "no data points (empty series or HTTP 200 with {})")
    _check_timestamps(points, meta)
    values, notes = _repair_values([p.g_per_kwh for p in points], meta, rules)
    checked = tuple(
        _point(p, v, kept_bounds=v == p.g_per_kwh, notes=notes)
        for p, v in zip(points, values, strict=True)
    )
    try:
        return Forecast(
            zone=meta.zone,
            step_s=meta.step_s,
            points=checked,
            provenance=_provenance(points, meta, rules, notes),
        )
    except ValidationError as exc:  # defence in depth: the checks above should catch all
        raise reject(meta.provider, meta.zone, str(exc)) from exc


def validate_forecast(forecast: Forecast, rules: ValidationRules) -> Forecast:
    """Re-check an already built ``Forecast`` (from a plugin or the cache) against ``rules``."""
    prov = forecast.provenance
    meta = SeriesMeta(
        provider=prov.provider,
        zone=forecast.zone,
        step_s=forecast.step_s,
        generated_at=prov.generated_at,
        fetched_at=prov.fetched_at,
        signal=prov.signal,
        fallback=prov.fallback,
    )
    raw = [
        RawPoint(
            start=p.start,
            g_per_kwh=p.g_per_kwh,
            lower_g_per_kwh=p.lower_g_per_kwh,
            upper_g_per_kwh=p.upper_g_per_kwh,
        )
        for p in forecast.points
    ]
    checked = validate_series(raw, meta=meta, rules=rules)
    notes = tuple(dict.fromkeys((*prov.notes, *checked.provenance.notes)))
    provenance = checked.provenance.model_copy(update={"notes": notes, "stale": prov.stale})
    return checked.model_copy(update={"provenance": provenance})


def _point(raw: RawPoint, value: float, *, kept_bounds: bool, notes: list[str]) -> IntensityPoint:
    """The checked point; an interval survives only around an unrepaired value it contains."""
    low, high = raw.lower_g_per_kwh, raw.upper_g_per_kwh
    if low is None and high is None:
        return IntensityPoint(start=raw.start, g_per_kwh=value)
    bounds = [b for b in (low, high) if b is not None]
    sane = all(math.isfinite(b) and b >= 0 for b in bounds)
    ordered = (low is None or low <= value) and (high is None or value <= high)
    if kept_bounds and sane and ordered:
        return IntensityPoint(
            start=raw.start, g_per_kwh=value, lower_g_per_kwh=low, upper_g_per_kwh=high
        )
    note = "dropped prediction intervals that did not contain their value"
    if note not in notes:
        notes.append(note)
    return IntensityPoint(start=raw.start, g_per_kwh=value)


def _check_timestamps(points: Sequence[RawPoint], meta: SeriesMeta) -> None:
    if meta.step_s <= 0:
        raise reject(meta.provider, meta.zone, f"declared step {meta.step_s} s must be positive")
    step = timedelta(seconds=meta.step_s)
    for point in points:
        if point.start.tzinfo is None or point.start.utcoffset() != timedelta(0):
            raise reject(
                meta.provider, meta.zone, f"timestamp {point.start.isoformat()} is not UTC"
            )
    for before, after in itertools.pairwise(points):
        if after.start == before.start:
            problem = f"duplicate timestamp {after.start.isoformat()}"
        elif after.start < before.start:
            problem = f"{after.start.isoformat()} comes after {before.start.isoformat()}"
        elif after.start - before.start != step:
            problem = (
                f"gap or off-grid step: {before.start.isoformat()} is followed by "
                f"{after.start.isoformat()}, expected every {meta.step_s} s"
            )
        else:
            continue
        raise reject(meta.provider, meta.zone, problem)


def _is_bad(value: float | None, rules: ValidationRules) -> bool:
    if value is None or not math.isfinite(value) or value in rules.sentinels:
        return True
    return not rules.min_g_per_kwh <= value <= rules.max_g_per_kwh


def _repair_values(
    values: Sequence[float | None], meta: SeriesMeta, rules: ValidationRules
) -> tuple[list[float], list[str]]:
    bad = [i for i, value in enumerate(values) if _is_bad(value, rules)]
    notes: list[str] = []
    if len(bad) > rules.max_bad_fraction * len(values) or len(bad) == len(values):
        examples = ", ".join(repr(values[i]) for i in bad[:5])
        raise reject(
            meta.provider,
            meta.zone,
            f"{len(bad)} of {len(values)} points are missing, not finite, sentinels or outside "
            f"{rules.min_g_per_kwh:g}–{rules.max_g_per_kwh:g} g/kWh (e.g. {examples}); more "
            f"than max_bad_fraction {rules.max_bad_fraction:g}. Check the provider's units "
            "or raise max_g_per_kwh if the values are real",
        )
    good = [v for v in values if not _is_bad(v, rules)]
    filled = _fill(values, set(bad))
    if bad:
        notes.append(f"repaired {len(bad)} bad point(s) from neighbours")
    if len(good) > 1 and len(set(good)) == 1:
        notes.append(f"constant series ({good[0]:g} g/kWh at every step)")
    return filled, notes


def _fill(values: Sequence[float | None], bad: set[int]) -> list[float]:
    """Replace bad values by the mean of the nearest good neighbours on each side."""
    out: list[float] = []
    for i, value in enumerate(values):
        if i not in bad and value is not None:
            out.append(value)
            continue
        left = next((values[j] for j in range(i - 1, -1, -1) if j not in bad), None)
        right = next((values[j] for j in range(i + 1, len(values)) if j not in bad), None)
        neighbours = [v for v in (left, right) if v is not None]
        out.append(sum(neighbours) / len(neighbours))
    return out


def _provenance(
    points: Sequence[RawPoint], meta: SeriesMeta, rules: ValidationRules, notes: list[str]
) -> ForecastProvenance:
    if not meta.provider or not meta.zone:
        raise reject(meta.provider or "?", meta.zone or "?", "provider and zone must be named")
    skew = timedelta(seconds=rules.max_clock_skew_s)
    if meta.generated_at > meta.fetched_at + skew:
        raise reject(
            meta.provider,
            meta.zone,
            f"generated_at {meta.generated_at.isoformat()} is after fetched_at "
            f"{meta.fetched_at.isoformat()}; check the provider's clock or the payload",
        )
    end = points[-1].start + timedelta(seconds=meta.step_s)
    return ForecastProvenance(
        provider=meta.provider,
        zone=meta.zone,
        signal=meta.signal,
        generated_at=meta.generated_at,
        fetched_at=meta.fetched_at,
        horizon_s=max(0, int((end - meta.generated_at).total_seconds())),
        fallback=meta.fallback,
        notes=tuple(notes),
    )


def clip(forecast: Forecast, start: datetime, end: datetime) -> Forecast:
    """The points of ``forecast`` whose step overlaps ``[start, end)`` (may be empty)."""
    step = timedelta(seconds=forecast.step_s)
    kept = tuple(p for p in forecast.points if p.start + step > start and p.start < end)
    return forecast.model_copy(update={"points": kept})


def within(forecast: Forecast, start: datetime, end: datetime) -> Forecast:
    """``clip`` that raises ``ForecastUnavailable`` when nothing of the window is covered."""
    clipped = clip(forecast, start, end)
    if not clipped.points:
        covered = (
            f"{forecast.start.isoformat()} to {forecast.end.isoformat()}"
            if forecast.start and forecast.end
            else "nothing"
        )
        raise ForecastUnavailable(
            f"{forecast.provenance.provider}: zone {forecast.zone}: data covers {covered}, "
            f"nothing of {start.isoformat()} to {end.isoformat()}; the next provider fills in"
        )
    return clipped
