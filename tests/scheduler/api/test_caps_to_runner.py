"""``PATCH /v1/jobs/{id}/caps`` on a running job reaches its per-job runner: the wiring's
``on_caps_changed`` writes the attempt's caps file, which the runner re-reads every sample."""

from __future__ import annotations

from pathlib import Path

from plugins.power.runner import JobCaps, caps_from_file
from scheduler.api.collaborators import ClusterJobControl
from scheduler.clock import FakeClock
from scheduler.model import ApiRole, AttemptRecord, JobState
from scheduler.settings import Settings
from scheduler.wiring import caps_publisher, runner_dispatch
from tests.scheduler.api.conftest import AppFactory, ClientFor, Stores, bearer, job_body


def test_new_caps_of_a_running_job_reach_its_runner_and_a_pending_jobs_do_not(
    memory_stores: Stores,
    make_app: AppFactory,
    client_for: ClientFor,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    """After PATCH the running attempt's runner reads the new caps; a pending job (no runner
    yet) gets no caps file: it is dispatched with the caps stored on the job."""
    settings = Settings(data_dir=tmp_path)
    dispatch = runner_dispatch(settings)
    assert dispatch is not None
    control = ClusterJobControl(memory_stores.jobs, {}, on_caps_changed=caps_publisher(settings))
    client = client_for(make_app(memory_stores, control=control))
    headers = bearer(memory_stores, "a", ApiRole.SUBMITTER)
    running = client.post("/v1/jobs", json=job_body(), headers=headers).json()["id"]
    pending = client.post("/v1/jobs", json=job_body(name="p"), headers=headers).json()["id"]
    job = memory_stores.jobs.get(running)
    intent = AttemptRecord(
        job_id=running,
        attempt=1,
        region="de-1",
        submission_id=f"{running}-1",
        intent_at=clock.now(),
    )
    memory_stores.jobs.transition(
        running, job.state, job.transition(JobState.DISPATCHED, at=clock.now(), attempt=1),
        attempt=intent,
    )  # fmt: skip
    dispatched = JobCaps(power_cap_w=250, energy_cap_kwh=40, policy="stop")
    read = caps_from_file(dispatch.caps_file(running, 1), dispatched)
    assert read() == dispatched

    for job_id in (running, pending):
        answer = client.patch(
            f"/v1/jobs/{job_id}/caps",
            json={"power_cap_w": 150, "energy_cap_kwh": None},
            headers=headers,
        )
        assert answer.status_code == 200, answer.text

    assert read() == JobCaps(power_cap_w=150, energy_cap_kwh=None, policy="stop")
    assert not dispatch.caps_file(pending, 0).exists()
    assert not dispatch.caps_file(pending, 1).exists()
