"""Energy caps end to end through Ray: a job whose entrypoint is ``carbonshift agent wrap`` runs on
a real local Ray head (logical GPUs → ``CUDA_VISIBLE_DEVICES``) against simulated GPUs and a
served node agent; its energy report is the last line of the Ray job's logs."""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from plugins.agent.leases import FileLeaseJournal
from plugins.agent.node import NodeAgent
from plugins.agent.server import SOCKET_NAME, UnixSocketAgentServer
from plugins.power.curves import shipped_curve
from plugins.power.runner import REPORT_PREFIX, EnergyReport
from plugins.power.simulated import SimulatedPowerBackend
from scheduler.clock import SystemClock
from scheduler.model import AttemptState, Job, JobSpec

pytestmark = [pytest.mark.ray, pytest.mark.slow]

CLI = "from scheduler.cli.main import main; main()"
DONE = {AttemptState.SUCCEEDED, AttemptState.FAILED, AttemptState.STOPPED}


@pytest.fixture
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, SimulatedPowerBackend]]:
    """8 simulated V100s (as many as the Ray head's logical GPUs) and a served, ticking agent."""
    directory = Path(tmp_path_factory.mktemp("ray"))
    devices = SimulatedPowerBackend(
        state_file=directory / "simulated-gpus.json",
        gpus=8,
        curve=shipped_curve("V100", "imagenet/resnet50"),
        clock=SystemClock(),
    )
    journal = FileLeaseJournal(directory / "leases.json")
    agent = NodeAgent(backend=devices, journal=journal, clock=SystemClock())
    server = UnixSocketAgentServer(agent, directory / SOCKET_NAME, tick_s=0.2)
    server.start()
    yield directory, devices
    server.stop()


def _job(state_dir: Path, *wrap_options: str, seconds: int) -> Job:
    now = datetime.now(UTC)
    job_id = f"energy-{uuid.uuid4().hex[:8]}"
    wrap = [sys.executable, "-c", CLI, "agent", "wrap", "--job", job_id, "--attempt", "1"]
    wrap += ["--backend", "simulated", "--state-dir", str(state_dir), "--sample-s", "0.5"]
    spec = JobSpec(
        name="energy-capped",
        entrypoint=(*wrap, *wrap_options, "--", "sleep", str(seconds)),
        gpus=2,
        estimated_duration_s=seconds,
        deadline=now + timedelta(hours=1),
    )
    return Job(id=job_id, spec=spec, submitted_at=now, updated_at=now)


def _run(ray_cluster: Any, job: Job) -> EnergyReport:
    """Submit through ``RayCluster``, wait for the end, parse the last log line."""
    submission = ray_cluster.submit(job, 1)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        status = ray_cluster.status(submission)
        if status is not None and status.state in DONE:
            break
        time.sleep(0.5)
    lines = [line for line in ray_cluster.logs(submission).splitlines() if line.strip()]
    assert lines, "the Ray job wrote no output"
    assert lines[-1].startswith(REPORT_PREFIX), lines[-5:]
    return EnergyReport.model_validate(json.loads(lines[-1].removeprefix(REPORT_PREFIX)))


def test_stop_policy_through_ray(
    ray_cluster: Any, node: tuple[Path, SimulatedPowerBackend]
) -> None:
    """A budget of ~1 s of full power: the job is stopped at the cap and reported CAPPED."""
    state_dir, _devices = node
    budget_kwh = 2 * 220 * 1.0 / 3.6e6
    report = _run(ray_cluster, _job(state_dir, "--energy-cap-kwh", f"{budget_kwh:.8f}", seconds=60))
    assert (report.final_state, report.energy_cap_outcome) == ("CAPPED", "stopped")
    assert report.energy_mj >= budget_kwh * 3.6e9
    assert report.ended_at - report.started_at < timedelta(seconds=30)
    assert len(report.gpu_uuids) == 2


def test_throttle_policy_through_ray(
    ray_cluster: Any, node: tuple[Path, SimulatedPowerBackend]
) -> None:
    """A budget below full power for the estimated duration: the limit goes down, then back."""
    state_dir, devices = node
    budget_kwh = 2 * 170 * 8 / 3.6e6  # 170 W per GPU for 8 s; full power draws ~220 W
    job = _job(
        state_dir, "--energy-cap-kwh", f"{budget_kwh:.8f}", "--policy", "throttle",
        "--estimated-duration-s", "8", seconds=6,
    )  # fmt: skip
    report = _run(ray_cluster, job)
    assert report.lowest_limit_w is not None
    assert report.lowest_limit_w < 250
    assert report.energy_cap_outcome in {"throttled", "stopped"}
    assert [devices.get_power_limit_mw(i) for i in range(8)] == [250_000] * 8
