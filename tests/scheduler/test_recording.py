"""``LedgerRecorder``: realised pricing when history covers a run, forecast pricing and a later
correction entry when it does not yet."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from forecasts.static import StaticProvider
from forecasts.trace_replay import TraceReplayProvider
from plugins.ledgers.memory import MemoryLedger
from scheduler.clock import FakeClock
from scheduler.model import AttemptRecord, AttemptState, IntensityTrace, Job, JobState, Region
from scheduler.recording import AccountingHook, EnergyMeter, LedgerRecorder
from scheduler.savings import summarize
from tests.scheduler.ledger_factories import HOUR, T0, job, outcome

HOURLY_DE = (400.0, 300.0, 200.0, 100.0, 100.0, 100.0)


def _history(clock: FakeClock) -> TraceReplayProvider:
    """Recorded hourly DE intensity from T0, visible only for hours that have ended."""
    start_s = int(T0.timestamp())
    trace = IntensityTrace(
        zone="DE",
        start_s=np.arange(start_s, start_s + 3600 * len(HOURLY_DE), 3600, dtype=np.int64),
        g_per_kwh=np.array(HOURLY_DE),
        end_s=start_s + 3600 * len(HOURLY_DE),
    )
    return TraceReplayProvider({"DE": trace}, clock=clock)


def _recorder(clock: FakeClock, ledger: MemoryLedger) -> LedgerRecorder:
    return LedgerRecorder(
        ledger=ledger,
        history=_history(clock),
        forecasts=StaticProvider({"DE": 250.0}, clock=clock),
        version="test",
    )


def test_run_covered_by_history_is_recorded_realised() -> None:
    """A run in hour 2 recorded after it ended is priced at 200 g/kWh against 400 at submit."""
    clock, ledger = FakeClock(T0 + 3 * HOUR), MemoryLedger()
    sequence = _recorder(clock, ledger).record(outcome(job(), start=T0 + 2 * HOUR))
    (entry,) = ledger.entries()
    assert (sequence, entry.intensity_basis) == (1, "realised")
    assert (entry.emissions_g, entry.counterfactual_emissions_g) == pytest.approx((200, 400))


def test_run_ahead_of_history_is_forecast_then_corrected() -> None:
    """A run ending mid-hour is priced with the forecast; once the hour ends, a correction
    entry references it with realised values, and reports use the correction."""
    clock, ledger = FakeClock(T0 + 2.5 * HOUR), MemoryLedger()
    recorder = _recorder(clock, ledger)
    recorder.record(outcome(job(), start=T0 + 1.5 * HOUR))
    assert recorder.correct_pending() == []  # hour 2 has not ended yet
    clock.advance(timedelta(minutes=30))
    assert recorder.correct_pending() == [2]
    original, fix = ledger.entries()
    assert (original.intensity_basis, original.emissions_g) == ("forecast", pytest.approx(250))
    assert (fix.corrects_entry, fix.intensity_basis) == (1, "realised")
    assert fix.emissions_g == pytest.approx(250)  # half an hour at 300, half at 200
    assert fix.counterfactual_emissions_g == pytest.approx(400)
    (row,) = summarize(ledger.entries(), by="team")
    assert (row.jobs, row.saved_kg) == (1, pytest.approx(0.15))
    assert recorder.correct_pending() == []
    assert ledger.verify() == 2


def _finished(*, power_cap_w: float | None = 250.0) -> tuple[Job, AttemptRecord]:
    the_job = job(job_id="j1").model_copy(update={"state": JobState.SUCCEEDED})
    record = AttemptRecord(
        job_id="j1",
        attempt=1,
        region="fr-1",
        submission_id="j1-1",
        submitted=True,
        state=AttemptState.SUCCEEDED,
        intent_at=T0 + HOUR,
        started_at=T0 + HOUR,
        ended_at=T0 + 3 * HOUR,
        power_cap_w=power_cap_w,
        explanation="deferred 1 h to FR",
    )
    return the_job, record


def _hook(
    ledger: MemoryLedger, clock: FakeClock, meter: EnergyMeter | None = None
) -> AccountingHook:
    static = StaticProvider({"DE": 400.0, "FR": 50.0}, clock=clock)
    recorder = LedgerRecorder(ledger=ledger, history=static, forecasts=static, version="t")
    regions = [
        Region(name="de-1", zone="DE", gpus=8),
        Region(name="fr-1", zone="FR", gpus=8, pue=1.2),
    ]
    return AccountingHook(recorder=recorder, regions=regions, default_zone="DE", meter=meter)


def test_service_hook_estimates_energy_from_the_power_cap() -> None:
    """Unmetered: 1 GPU × 250 W × 2 h = 0.5 kWh, in FR at 50 g/kWh × PUE 1.2 vs DE at 400."""
    clock, ledger = FakeClock(T0 + 4 * HOUR), MemoryLedger()
    _hook(ledger, clock)(*_finished())
    (entry,) = ledger.entries()
    assert (entry.energy_source, entry.energy_mj) == ("estimated", 500 * 3600 * 1000)
    assert (entry.zone, entry.home_zone, entry.final_state) == ("FR", "DE", JobState.SUCCEEDED)
    assert entry.emissions_g == pytest.approx(0.5 * 50 * 1.2)
    assert entry.counterfactual_emissions_g == pytest.approx(0.5 * 400)
    assert entry.decision_explanation == "deferred 1 h to FR"


def test_service_hook_uses_the_meter_and_skips_attempts_that_never_ran() -> None:
    """A metered reading wins over the estimate; an attempt without a start is not accounted."""
    clock, ledger = FakeClock(T0 + 4 * HOUR), MemoryLedger()
    hook = _hook(ledger, clock, meter=lambda _job, _rec: (7_200_000_000, "nvml_counter"))
    the_job, record = _finished()
    hook(the_job, record.model_copy(update={"started_at": None}))
    assert list(ledger.entries()) == []
    hook(the_job, record)
    (entry,) = ledger.entries()
    assert (entry.energy_source, entry.energy_mj) == ("nvml_counter", 7_200_000_000)
