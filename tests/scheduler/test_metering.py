"""Measured energy reaches the ledger: the per-job runner's report, read from the attempt's
logs, replaces the estimate; a job the runner stopped at its energy cap ends CAPPED."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from plugins.ledgers.memory import MemoryLedger
from plugins.power.runner import EnergyReport, publish
from scheduler.clock import FakeClock
from scheduler.model import JobSpec, JobState, MeasuredEnergy
from scheduler.settings import Settings
from scheduler.wiring import attach_accounting, build_service


def _report_line(**changes: object) -> str:
    """The runner's own last line (``publish``), so this test follows its format."""
    fields: dict[str, object] = {
        "job_id": "job-1",
        "attempt": 1,
        "gpu_uuids": ("GPU-sim-0", "GPU-sim-1"),
        "energy_mj": 1_234_567_000,
        "energy_source": "simulated",
        "started_at": "2026-11-26T12:00:00Z",
        "ended_at": "2026-11-26T13:00:00Z",
        "exit_code": 143,
        "final_state": "CAPPED",
        "energy_cap_outcome": "stopped",
        "power_cap_w": 200.0,
    }
    fields.update(changes)
    lines: list[str] = []
    publish(EnergyReport.model_validate(fields), None, lines.append)
    return lines[0]


def test_the_last_runner_report_in_the_logs_is_read() -> None:
    """``MeasuredEnergy.from_logs`` reads the runner's report after the job's own output."""
    logs = f"epoch 1\n{_report_line(energy_mj=5)}\nray: job finished\n{_report_line()}\n"
    measured = MeasuredEnergy.from_logs(logs)
    assert measured is not None
    assert (measured.energy_mj, measured.energy_source) == (1_234_567_000, "simulated")
    assert (measured.final_state, measured.energy_cap_outcome) == ("CAPPED", "stopped")


def test_logs_without_a_report_or_with_a_garbled_one_give_none() -> None:
    """No report (an unmetered job) or a torn one means no measurement, never a crash."""
    assert MeasuredEnergy.from_logs("hello\nworld\n") is None
    assert MeasuredEnergy.from_logs("CARBONSHIFT_ENERGY {not json\n") is None


def _settings(tmp_path: Path) -> Settings:
    return Settings.model_validate(
        {
            "data_dir": tmp_path,
            "store": {"kind": "memory"},
            "regions": [
                {"name": "de-1", "zone": "DE", "cluster": {"kind": "scripted", "run_s": 3600}}
            ],
            "forecasts": {"default": [{"kind": "static", "g_per_kwh": {"DE": 400}}]},
        }
    )


def _run(
    settings: Settings, clock: FakeClock, spec: JobSpec, *, reported: bool, **script: object
) -> MemoryLedger:
    """Run ``spec`` on the scripted cluster; with ``reported`` its logs end with a report."""
    graph = build_service(settings, clock, lock=False)
    ledger = MemoryLedger()
    attach_accounting(graph, ledger)
    job = graph.store.submit(spec, now=clock.now())
    output = _report_line(job_id=job.id, attempt=1) + "\n" if reported else "no report\n"
    graph.clusters["de-1"].script(job.id, output=output, **script)  # type: ignore[attr-defined]
    try:
        for _ in range(60):
            graph.service.tick(clock.now())
            if graph.store.get(job.id).state.terminal:
                break
            clock.advance(timedelta(minutes=15))
    finally:
        graph.close()
    return ledger


def _spec(clock: FakeClock) -> JobSpec:
    return JobSpec(
        name="train",
        entrypoint=("python", "train.py"),
        gpus=2,
        estimated_duration_s=3600,
        deadline=clock.now() + timedelta(hours=1, minutes=30),
        zones=("DE",),
        power_cap_w=200,
        energy_cap_kwh=0.3,
    )


def test_a_job_stopped_at_its_energy_cap_is_capped_with_measured_energy(
    tmp_path: Path, clock: FakeClock
) -> None:
    """The ledger entry carries the runner's energy and source and the cap outcome, and the
    job ends CAPPED (not FAILED, although the runner's exit status is non-zero)."""
    ledger = _run(_settings(tmp_path), clock, _spec(clock), reported=True, energy_capped=True)
    (entry,) = ledger.entries()
    assert entry.final_state == JobState.CAPPED
    assert (entry.energy_mj, entry.energy_source) == (1_234_567_000, "simulated")
    assert entry.energy_cap_outcome == "stopped"


def test_an_attempt_without_a_report_keeps_the_estimate(tmp_path: Path, clock: FakeClock) -> None:
    """Without a runner report accounting estimates GPUs × cap × run time, as before."""
    ledger = _run(_settings(tmp_path), clock, _spec(clock), reported=False)
    (entry,) = ledger.entries()
    assert entry.final_state == JobState.SUCCEEDED
    assert entry.energy_source == "estimated"
    run_s = (entry.ended_at - entry.started_at).total_seconds()
    assert entry.energy_mj == round(2 * 200 * run_s * 1000)
    assert entry.energy_cap_outcome == "none"
