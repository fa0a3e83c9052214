"""Joining forecast pieces from several sources into one series on one grid.

The failover chain covers a window with consecutive pieces (first provider, fill-ins, the
forecaster). ``combine`` puts them on the first piece's step: later pieces are sampled at each
grid step (their value holds until their next point). The single provenance names the first
piece's provider and notes which source covers which stretch; ``fallback`` and ``stale`` are
set when any piece has them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from forecasts.validation import clip
from scheduler.model import Forecast, ForecastProvenance, IntensityPoint


def end_of(forecast: Forecast) -> datetime:
    """End of a non-empty forecast's last step."""
    if forecast.end is None:
        raise ValueError(f"forecast for {forecast.zone} is empty; it has no end")
    return forecast.end


def piece_from(
    whole: Forecast, cursor: datetime, end: datetime, *, fallback: bool
) -> Forecast | str:
    """The part of ``whole`` over ``[cursor, end)``, or why it cannot continue at ``cursor``."""
    piece = clip(whole, cursor, end)
    if piece.start is None or piece.start > cursor:
        covered = (
            f"{whole.start.isoformat()} to {end_of(whole).isoformat()}"
            if whole.start
            else "nothing"
        )
        return (
            f"{whole.provenance.provider}: zone {whole.zone}: data cover {covered}, "
            f"not {cursor.isoformat()}"
        )
    if fallback and not piece.provenance.fallback:
        provenance = piece.provenance.model_copy(update={"fallback": True})
        piece = piece.model_copy(update={"provenance": provenance})
    return piece


def combine(zone: str, pieces: list[Forecast]) -> Forecast:
    """One series on the first piece's grid (see the module docstring)."""
    first = pieces[0]
    step = timedelta(seconds=first.step_s)
    points = list(first.points)
    for piece in pieces[1:]:
        t = points[-1].start + step
        while t < end_of(piece):
            points.append(_point_at(piece, t).model_copy(update={"start": t}))
            t += step
    prov = first.provenance
    notes = prov.notes
    if len(pieces) > 1:
        stretches = [f"from {_start(p)}: {_label(p)}" for p in pieces]
        notes = tuple(dict.fromkeys([*stretches, *(n for p in pieces for n in p.provenance.notes)]))
    end = points[-1].start + step
    provenance = ForecastProvenance(
        provider=prov.provider,
        zone=zone,
        signal=prov.signal,
        generated_at=prov.generated_at,
        fetched_at=prov.fetched_at,
        horizon_s=max(0, int((end - prov.generated_at).total_seconds())),
        fallback=any(p.provenance.fallback for p in pieces),
        stale=any(p.provenance.stale for p in pieces),
        notes=notes,
    )
    return Forecast(zone=zone, step_s=first.step_s, points=tuple(points), provenance=provenance)


def _start(piece: Forecast) -> str:
    return piece.start.isoformat() if piece.start else "?"


def _label(piece: Forecast) -> str:
    prov = piece.provenance
    flags = [flag for flag, on in (("fallback", prov.fallback), ("stale", prov.stale)) if on]
    return prov.provider + (f" ({', '.join(flags)})" if flags else "")


def _point_at(piece: Forecast, t: datetime) -> IntensityPoint:
    """The point of ``piece`` whose step holds ``t`` (its interval comes along)."""
    step = timedelta(seconds=piece.step_s)
    for point in piece.points:
        if point.start <= t < point.start + step:
            return point
    return piece.points[-1]
