"""``TraceReplayProvider``: replays recorded intensity files as forecasts and history.

A real implementation of ``ForecastProvider`` and ``IntensityHistory`` for simulations, demos
and tests: at clock time ``now`` the forecast is the recorded truth up to ``now + horizon_h``
(a perfect forecast), and the history is the recorded truth of every step that ended by
``now``. Files are read with :mod:`forecasts.traces` (both CSV formats).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from pydantic import Field

from forecasts.traces import Signal, load_carbon_traces
from scheduler.errors import ForecastError
from scheduler.model import Forecast, ForecastProvenance, IntensityPoint, IntensityTrace, ensure_utc
from scheduler.protocols import Clock
from scheduler.registry import PluginOptions


class TraceReplayOptions(PluginOptions):
    """Options of the ``trace`` provider."""

    files: list[Path] = Field(min_length=1, description="carbon CSV files (either format)")
    signal: Signal = Field(default="lca", description="Electricity Maps column: lca or direct")
    horizon_h: float = Field(default=48.0, gt=0, description="how far past now forecasts reach")


class TraceReplayProvider:
    """Perfect forecasts and history from recorded traces, relative to an injected clock."""

    name = "trace"

    def __init__(
        self, traces: Mapping[str, IntensityTrace], *, clock: Clock, horizon_h: float = 48.0
    ) -> None:
        if horizon_h <= 0:
            raise ValueError(f"horizon_h must be > 0 hours (got {horizon_h})")
        self._traces = dict(traces)
        self._clock = clock
        self._horizon = timedelta(hours=horizon_h)

    @classmethod
    def from_files(
        cls, files: list[Path], *, clock: Clock, signal: Signal = "lca", horizon_h: float = 48.0
    ) -> TraceReplayProvider:
        """Load ``files`` (raises ``ScenarioError`` on bad files) and replay them."""
        return cls(load_carbon_traces(files, signal=signal), clock=clock, horizon_h=horizon_h)

    def forecast(self, zone: str, start: datetime, end: datetime) -> Forecast:
        """The recorded values over ``[start, min(end, now + horizon_h))``."""
        now = self._clock.now()
        return self._series(zone, start, min(ensure_utc(end, "end"), now + self._horizon), now)

    def observed(self, zone: str, start: datetime, end: datetime) -> Forecast:
        """The recorded values of the steps inside ``[start, min(end, now))``."""
        now = self._clock.now()
        return self._series(zone, start, min(ensure_utc(end, "end"), now), now, whole=True)

    def _series(
        self, zone: str, start: datetime, end: datetime, now: datetime, *, whole: bool = False
    ) -> Forecast:
        trace = self._trace(zone)
        step_s = _step_s(trace)
        first = int(trace.start_s[0])
        begin_s = max(first, int(ensure_utc(start, "start").timestamp()))
        begin_s = first + (begin_s - first) // step_s * step_s
        stop_s = min(int(end.timestamp()), trace.end_s)
        if whole:
            stop_s -= step_s - 1  # only steps that ended by ``end``
        times = np.arange(begin_s, max(begin_s, stop_s), step_s, dtype=np.int64)
        if len(times) == 0:
            raise ForecastError(
                f"trace for {zone} covers {trace.start.isoformat()} to {trace.end.isoformat()}; "
                f"nothing between {start.isoformat()} and {end.isoformat()} (now "
                f"{now.isoformat()}); replay a file that covers that time"
            )
        index = np.searchsorted(trace.start_s, times, side="right") - 1
        points = tuple(
            IntensityPoint(start=datetime.fromtimestamp(int(t), tz=UTC), g_per_kwh=float(v))
            for t, v in zip(times, trace.g_per_kwh[index], strict=True)
        )
        reach_s = int(times[-1]) + step_s - int(now.timestamp())
        provenance = ForecastProvenance(
            provider=self.name,
            zone=zone,
            generated_at=now,
            fetched_at=now,
            horizon_s=max(0, reach_s),
        )
        return Forecast(zone=zone, step_s=step_s, points=points, provenance=provenance)

    def _trace(self, zone: str) -> IntensityTrace:
        try:
            return self._traces[zone]
        except KeyError:
            raise ForecastError(
                f"trace provider has no data for zone {zone!r}; its files hold "
                f"{sorted(self._traces)}: add a file with that zone"
            ) from None


def _step_s(trace: IntensityTrace) -> int:
    """The finest step of the trace (the grid its values are replayed on)."""
    if len(trace.start_s) < 2:
        return trace.end_s - int(trace.start_s[0])
    return int(np.diff(trace.start_s).min())
