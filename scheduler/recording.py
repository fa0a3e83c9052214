"""``LedgerRecorder``: the service's accounting hook, from a finished attempt to a ledger entry.

The service calls ``record(outcome)`` once per finished attempt, and ``correct_pending()``
now and then (each forecast refresh, say). Realised intensity comes from an
``IntensityHistory``; where it does not cover the run yet (history lags real time), the entry
is priced with the forecast and marked ``intensity_basis="forecast"``; ``correct_pending``
later appends a correction entry once the history covers it. Nothing is ever edited.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

from scheduler.accounting import (
    AttemptOutcome,
    EnergyCapOutcome,
    Pricing,
    account,
    correct,
    counterfactual_segments,
    entry_segments,
    needs_correction,
)
from scheduler.errors import ForecastError, ForecastUnavailable
from scheduler.model import (
    AttemptRecord,
    EnergySegment,
    EnergySource,
    Forecast,
    Job,
    LedgerEntry,
    Region,
)
from scheduler.protocols import ForecastProvider, IntensityHistory, Ledger

#: Asked beyond a run's end, so that a history of whole steps (hourly, say) covers its last one.
PADDING = timedelta(hours=1)


def _window(segments: tuple[EnergySegment, ...]) -> tuple[datetime, datetime]:
    return segments[0].start, segments[-1].end + PADDING


class LedgerRecorder:
    """Prices finished attempts and appends them (and later their corrections) to a ledger."""

    def __init__(
        self,
        *,
        ledger: Ledger,
        history: IntensityHistory | None,
        forecasts: ForecastProvider | None,
        version: str,
    ) -> None:
        self._ledger = ledger
        self._history = history
        self._forecasts = forecasts
        self._version = version

    def _realised(self, zone: str, segments: tuple[EnergySegment, ...]) -> Forecast | None:
        if self._history is None:
            return None
        start, end = _window(segments)
        try:
            return self._history.observed(zone, start, end)
        except ForecastError:
            return None

    def _forecast(self, zone: str, segments: tuple[EnergySegment, ...]) -> Forecast:
        if self._forecasts is None:
            raise ForecastUnavailable(
                f"no realised history or forecast for {zone}; configure a forecast provider"
            )
        start, end = _window(segments)
        return self._forecasts.forecast(zone, start, end)

    def _realised_entry(
        self, outcome: AttemptOutcome, decision_forecast: Forecast | None
    ) -> LedgerEntry | None:
        """The entry priced with history, or None while history does not cover both runs."""
        shadow = counterfactual_segments(outcome.segments, outcome.job.submitted_at)
        realised = self._realised(outcome.zone, outcome.segments)
        home = self._realised(outcome.home_zone, shadow)
        if realised is None or home is None:
            return None
        pricing = Pricing(
            intensity=realised, home_intensity=home, decision_forecast=decision_forecast
        )
        try:
            return account(outcome, pricing, version=self._version)
        except ForecastUnavailable:
            return None

    def _forecast_entry(
        self, outcome: AttemptOutcome, decision_forecast: Forecast | None
    ) -> LedgerEntry:
        shadow = counterfactual_segments(outcome.segments, outcome.job.submitted_at)
        pricing = Pricing(
            intensity=self._forecast(outcome.zone, outcome.segments),
            home_intensity=self._forecast(outcome.home_zone, shadow),
            basis="forecast",
            decision_forecast=decision_forecast,
        )
        return account(outcome, pricing, version=self._version)

    def record(self, outcome: AttemptOutcome, *, decision_forecast: Forecast | None = None) -> int:
        """Price ``outcome`` (realised if history covers it, else forecast) and append it.

        Returns the entry's sequence.

        Raises:
            ForecastError: neither history nor forecasts cover the run.
            LedgerError: the ledger refused the write.
        """
        entry = self._realised_entry(outcome, decision_forecast)
        if entry is None:
            entry = self._forecast_entry(outcome, decision_forecast)
        return self._ledger.append(entry)

    def correct_pending(self) -> list[int]:
        """Append a correction for every forecast-priced entry the history now covers.

        Returns the sequences of the corrections appended (empty when none was possible).
        """
        appended = []
        for entry in needs_correction(list(self._ledger.entries())):
            fixed = self._correction(entry)
            if fixed is not None:
                appended.append(self._ledger.append(fixed))
        return appended

    def _correction(self, entry: LedgerEntry) -> LedgerEntry | None:
        segments = entry_segments(entry)
        shadow = counterfactual_segments(segments, entry.submitted_at)
        realised = self._realised(entry.zone, segments)
        home = self._realised(entry.home_zone or entry.zone, shadow)
        if realised is None or home is None:
            return None
        try:
            return correct(entry, intensity=realised, home_intensity=home)
        except ForecastUnavailable:
            return None


#: Measured energy of an attempt and how it was measured, or None when nothing was metered.
EnergyMeter = Callable[[Job, AttemptRecord], tuple[int, EnergySource] | None]
#: The energy-cap outcome the per-job runner reported for an attempt, if any.
CapOutcomes = Callable[[Job, AttemptRecord], EnergyCapOutcome | None]
#: The forecast the attempt's decision was planned with, if the service kept it.
DecisionForecasts = Callable[[Job, AttemptRecord], Forecast | None]
#: Per-GPU draw assumed when an attempt was not metered (the planner's default too).
ESTIMATED_POWER_W = 300.0


class AccountingHook:
    """The service's finished-attempt hook: ``service.add_finished_hook(AccountingHook(…))``.

    An attempt that never started (no ``started_at``) is not accounted. Energy comes from
    ``meter`` (NVML counters, integrated samples, simulated GPUs); without a reading it is
    estimated as GPUs × power cap (or ``ESTIMATED_POWER_W``) × run time, marked "estimated".
    The home zone is the job's first allowed zone, else ``default_zone``. Every
    ``correction_interval`` (by attempt end times) it also appends corrections for entries
    priced with forecasts whose realised history has arrived since (None: never).
    """

    def __init__(
        self,
        *,
        recorder: LedgerRecorder,
        regions: Sequence[Region],
        default_zone: str,
        meter: EnergyMeter | None = None,
        decision_forecasts: DecisionForecasts | None = None,
        correction_interval: timedelta | None = timedelta(minutes=30),
        cap_outcome: CapOutcomes | None = None,
    ) -> None:
        self._recorder = recorder
        self._cap_outcome = cap_outcome
        self._correction_interval = correction_interval
        self._last_correction: datetime | None = None
        self._regions = {region.name: region for region in regions}
        self._default_zone = default_zone
        self._meter = meter
        self._decision_forecasts = decision_forecasts

    def _energy(self, job: Job, record: AttemptRecord, run_s: float) -> tuple[int, EnergySource]:
        reading = self._meter(job, record) if self._meter is not None else None
        if reading is not None:
            return reading
        watts = record.power_cap_w or job.spec.power_cap_w or ESTIMATED_POWER_W
        return round(job.spec.gpus * watts * run_s * 1000), "estimated"

    def outcome(self, job: Job, record: AttemptRecord) -> AttemptOutcome | None:
        """The attempt as accounting sees it, or None when it never ran."""
        if record.started_at is None or record.ended_at is None:
            return None
        end = max(record.ended_at, record.started_at)
        energy_mj, source = self._energy(job, record, (end - record.started_at).total_seconds())
        region = self._regions.get(record.region)
        zone = region.zone if region else record.region
        home_zone = job.spec.zones[0] if job.spec.zones else self._default_zone
        home = next((r for r in self._regions.values() if r.zone == home_zone), None)
        return AttemptOutcome(
            job=job,
            attempt=record.attempt,
            region=record.region,
            zone=zone,
            cluster=record.region,
            home_zone=home_zone,
            segments=(EnergySegment(start=record.started_at, end=end, energy_mj=energy_mj),),
            final_state=job.state,
            gpus=job.spec.gpus,
            power_cap_w=record.power_cap_w,
            energy_source=source,
            planned_start=record.intent_at,
            decision_explanation=record.explanation,
            pue=region.pue if region else 1.0,
            home_pue=home.pue if home else 1.0,
            energy_cap_outcome=self._outcome_of_cap(job, record),
        )

    def _outcome_of_cap(self, job: Job, record: AttemptRecord) -> EnergyCapOutcome:
        reported = self._cap_outcome(job, record) if self._cap_outcome is not None else None
        return "none" if reported is None else reported  # unmetered: nothing was enforced

    def __call__(self, job: Job, record: AttemptRecord) -> None:
        """Account ``record`` of ``job`` (after its transition) into the ledger."""
        outcome = self.outcome(job, record)
        if outcome is None:
            return
        forecast = self._decision_forecasts(job, record) if self._decision_forecasts else None
        self._recorder.record(outcome, decision_forecast=forecast)
        self._maybe_correct(record.ended_at or record.started_at)

    def _maybe_correct(self, now: datetime | None) -> None:
        """Append corrections at most once per ``correction_interval`` of attempt end times."""
        if now is None or self._correction_interval is None:
            return
        if (
            self._last_correction is None
            or now - self._last_correction >= self._correction_interval
        ):
            self._last_correction = now
            self._recorder.correct_pending()


class HistoryChain:
    """An ``IntensityHistory`` that asks a zone's history sources in order, first answer wins.

    Built by the composition root from the ``forecasts`` section (the providers that also
    serve history), like the forecast failover chain.
    """

    name = "history-chain"

    def __init__(
        self,
        default: Sequence[IntensityHistory],
        zones: Mapping[str, Sequence[IntensityHistory]] | None = None,
    ) -> None:
        self._default = tuple(default)
        self._zones = {zone: tuple(chain) for zone, chain in (zones or {}).items()}

    def observed(self, zone: str, start: datetime, end: datetime) -> Forecast:
        """The first source's observed series for ``zone``.

        Raises:
            ForecastUnavailable: no source is configured or every source failed (the message
                lists each failure).
        """
        problems = []
        for source in self._zones.get(zone, self._default):
            try:
                return source.observed(zone, start, end)
            except ForecastError as exc:
                problems.append(f"{source.name}: {exc}")
        raise ForecastUnavailable(
            f"no realised history for {zone}: "
            + ("; ".join(problems) or "no history source configured for it")
        )
