"""Capped jobs dispatched by ``RayCluster`` run under the per-job runner, end to end: a real
local Ray head (logical GPUs), the embedded simulated node agent as ``carbonshift serve``
starts it, the runner's report read back from the Ray job's logs, and a cap changed while the
job runs reaching the GPUs within one sampling period."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from plugins.agent.client import AgentClient
from plugins.agent.embedded import EmbeddedAgent
from plugins.clusters.ray import RayCluster
from plugins.power.dispatch import RunnerDispatch
from scheduler.model import AttemptState, AttemptStatus, Job, JobSpec, MeasuredEnergy
from scheduler.wiring import CLI_PROGRAM

pytestmark = [pytest.mark.ray, pytest.mark.slow]

DONE = {AttemptState.SUCCEEDED, AttemptState.FAILED, AttemptState.STOPPED}
SAMPLE_S = 0.5


@pytest.fixture(scope="module")
def dispatch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunnerDispatch]:
    """The embedded agent on 8 simulated GPUs (as many as the head's logical GPUs)."""
    state_dir = Path(tmp_path_factory.mktemp("disp"))  # short: Unix socket paths are limited
    agent = EmbeddedAgent(program=CLI_PROGRAM, state_dir=state_dir, gpus=8)
    agent.ensure_started()
    yield RunnerDispatch(program=CLI_PROGRAM, state_dir=state_dir, sample_s=SAMPLE_S)
    agent.stop()
    assert not agent.answers()


@pytest.fixture(scope="module")
def cluster(ray_head: Any, dispatch: RunnerDispatch) -> RayCluster:
    """The head's cluster, wrapping capped jobs as the service's wiring does."""
    return RayCluster(
        region="local", address=ray_head.address, token=ray_head.token, entrypoint=dispatch.argv
    )


def _job(seconds: int, **caps: Any) -> Job:
    now = datetime.now(UTC)
    spec = JobSpec(
        name="capped",
        entrypoint=("sleep", str(seconds)),
        gpus=2,
        estimated_duration_s=seconds,
        deadline=now + timedelta(hours=1),
        **caps,
    )
    return Job(id=f"disp-{uuid.uuid4().hex[:8]}", spec=spec, submitted_at=now, updated_at=now)


def _until(condition: Callable[[], Any], timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.1)
    return condition()


def _ended(cluster: RayCluster, submission: str) -> AttemptStatus:
    def ended() -> AttemptStatus | None:
        status = cluster.status(submission)
        return status if status is not None and status.state in DONE else None

    status = _until(ended, 120)
    assert isinstance(status, AttemptStatus), f"{submission} did not end"
    return status


def test_a_job_stopped_at_its_energy_cap_reports_capped(cluster: RayCluster) -> None:
    """About 1 s of full power as the budget: the runner stops the job, Ray's status for the
    attempt says it was energy-capped, and its logs end with the measured energy."""
    budget_kwh = round(2 * 220 * 1.0 / 3.6e6, 8)
    job = _job(60, energy_cap_kwh=budget_kwh)
    status = _ended(cluster, cluster.submit(job, 1))
    assert status.energy_capped
    measured = MeasuredEnergy.from_logs(cluster.logs(f"{job.id}-1"))
    assert measured is not None
    assert (measured.job_id, measured.attempt, measured.final_state) == (job.id, 1, "CAPPED")
    assert measured.energy_source == "simulated"
    assert measured.energy_mj >= budget_kwh * 3.6e9


def test_a_cap_changed_while_running_reaches_the_gpus(
    cluster: RayCluster, dispatch: RunnerDispatch
) -> None:
    """The runner holds the job's 200 W lease; after ``write_caps`` with 150 W the GPUs are at
    150 W within a sampling period (plus slack for process start-up), and the job succeeds."""
    job = _job(8, power_cap_w=200)
    submission = cluster.submit(job, 1)
    agent = AgentClient.find(state_dir=dispatch.state_dir)

    def limits() -> set[int]:
        return {
            lease["limit_mw"] for lease in agent.status()["leases"] if lease["job_id"] == job.id
        }

    assert _until(lambda: limits() == {200_000}, 60), limits()
    changed_at = time.monotonic()
    dispatch.write_caps(
        job.model_copy(
            update={"spec": job.spec.model_copy(update={"power_cap_w": 150.0}), "attempt": 1}
        )
    )
    assert _until(lambda: limits() == {150_000}, 5 * SAMPLE_S), limits()
    assert time.monotonic() - changed_at <= 5 * SAMPLE_S
    status = _ended(cluster, submission)
    assert (status.state, status.energy_capped) == (AttemptState.SUCCEEDED, False)
    measured = MeasuredEnergy.from_logs(cluster.logs(submission))
    assert measured is not None
    assert measured.power_cap_w == 150.0
