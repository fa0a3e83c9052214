"""The service's finished attempts reach the ledger: scheduler → accounting hook → ledger."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from plugins.ledgers.memory import MemoryLedger
from scheduler.clock import FakeClock
from scheduler.model import JobSpec, JobState
from scheduler.settings import Settings
from scheduler.wiring import attach_accounting, build_service


def test_finished_attempt_is_accounted_with_realised_intensity(
    tmp_path: Path, clock: FakeClock
) -> None:
    """A job run on the scripted cluster ends up as one verified ledger entry, priced with the
    static provider's history in the zone it ran in and at home (its first zone, DE)."""
    settings = Settings.model_validate(
        {
            "data_dir": tmp_path,
            "store": {"kind": "memory"},
            "regions": [
                {"name": "de-1", "zone": "DE", "cluster": {"kind": "scripted", "run_s": 3600}},
                {"name": "fr-1", "zone": "FR", "cluster": {"kind": "scripted", "run_s": 3600}},
            ],
            "forecasts": {"default": [{"kind": "static", "g_per_kwh": {"DE": 400, "FR": 50}}]},
        }
    )
    graph = build_service(settings, clock, lock=False)
    ledger = MemoryLedger()
    attach_accounting(graph, ledger)
    spec = JobSpec(
        name="train",
        entrypoint=("python", "train.py"),
        gpus=2,
        estimated_duration_s=3600,
        deadline=clock.now() + timedelta(hours=12),
        zones=("DE", "FR"),
        power_cap_w=200,
        team="nlp",
    )
    job = graph.store.submit(spec, now=clock.now())
    try:
        for _ in range(12 * 4 + 8):
            graph.service.tick(clock.now())
            if graph.store.get(job.id).state.terminal:
                break
            clock.advance(timedelta(minutes=15))
    finally:
        graph.close()
    assert graph.store.get(job.id).state == JobState.SUCCEEDED
    (entry,) = ledger.entries()
    assert ledger.verify() == 1
    assert (entry.job_id, entry.team, entry.home_zone) == (job.id, "nlp", "DE")
    assert entry.intensity_basis == "realised"
    assert entry.intensity_g_per_kwh == pytest.approx({"DE": 400, "FR": 50}[entry.zone])
    assert entry.counterfactual_intensity_g_per_kwh == pytest.approx(400)
    run_s = (entry.ended_at - entry.started_at).total_seconds()
    assert entry.energy_source == "estimated"
    assert entry.energy_mj == round(2 * 200 * run_s * 1000)
