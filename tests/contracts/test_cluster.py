"""The ``Cluster`` contract, run over the scripted fake and a real local Ray head.

Waiting for a Ray job to finish polls with a timeout (that is I/O); the scripted cluster
advances a fake clock instead.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from plugins.clusters.scripted import ScriptedCluster
from scheduler.clock import FakeClock
from scheduler.model import AttemptState, AttemptStatus, Job, JobSpec
from scheduler.protocols import Cluster

FINAL = (AttemptState.SUCCEEDED, AttemptState.FAILED, AttemptState.STOPPED)


@dataclass(frozen=True, kw_only=True)
class Harness:
    """A cluster plus how time passes for it and how to script a job's own failure."""

    cluster: Cluster
    total_gpus: int
    wait: Callable[[], None]
    expect_exit: Callable[[Job, int], None]
    timeout_s: float

    def until(self, submission_id: str, states: tuple[AttemptState, ...]) -> AttemptStatus:
        """Wait until the attempt reaches one of ``states``; fail after the timeout."""
        give_up = time.monotonic() + self.timeout_s
        while True:
            status = self.cluster.status(submission_id)
            if status is not None and status.state in states:
                return status
            if time.monotonic() > give_up:
                pytest.fail(f"{submission_id} did not reach {states}; last seen {status}")
            self.wait()


@pytest.fixture(params=["scripted", pytest.param("ray", marks=[pytest.mark.ray, pytest.mark.slow])])
def harness(request: pytest.FixtureRequest) -> Harness:
    """The backend under test."""
    if request.param == "scripted":
        clock = FakeClock(datetime(2026, 11, 26, 12, 0, tzinfo=UTC))
        scripted = ScriptedCluster(region="local", clock=clock, total_gpus=8)

        def scripted_exit(job: Job, code: int) -> None:
            scripted.script(job.id, outcome=AttemptState.FAILED, exit_code=code)

        return Harness(
            cluster=scripted,
            total_gpus=8,
            wait=lambda: clock.advance(30),
            expect_exit=scripted_exit,
            timeout_s=5,
        )
    ray: Any = request.getfixturevalue("ray_cluster")
    return Harness(
        cluster=ray,
        total_gpus=8,
        wait=lambda: time.sleep(0.5),
        expect_exit=lambda job, code: None,
        timeout_s=120,
    )


def job(*argv: str, gpus: int = 1) -> Job:
    """A job with a fresh id running ``argv``."""
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    spec = JobSpec(
        name="contract",
        entrypoint=argv,
        gpus=gpus,
        estimated_duration_s=60,
        deadline=now + timedelta(hours=1),
        team="infra",
        project="contract",
    )
    return Job(id=f"ct-{uuid.uuid4().hex[:10]}", spec=spec, submitted_at=now, updated_at=now)


def test_capacity_reports_the_clusters_gpus(harness: Harness) -> None:
    """Total GPUs are the cluster's; free GPUs never exceed them."""
    capacity = harness.cluster.capacity()
    assert capacity.total_gpus == harness.total_gpus
    assert 0 <= capacity.free_gpus <= capacity.total_gpus


def test_unknown_submission_has_no_status(harness: Harness) -> None:
    """A submission id the cluster never saw reads as None."""
    assert harness.cluster.status(f"never-{uuid.uuid4().hex}-1") is None


def test_lifecycle_success_failure_and_stuck(harness: Harness) -> None:
    """A job succeeds, a non-zero exit fails with its code, an unplaceable job pends and never
    runs, and a repeated submission is the same attempt."""
    ok, bad, huge = job("true"), job("sh", "-c", "exit 3"), job("true", gpus=64)
    harness.expect_exit(bad, 3)
    ids = [harness.cluster.submit(each, 1) for each in (ok, bad, huge)]
    assert ids == [f"{ok.id}-1", f"{bad.id}-1", f"{huge.id}-1"]
    assert harness.cluster.submit(ok, 1) == ids[0]

    succeeded = harness.until(ids[0], FINAL)
    failed = harness.until(ids[1], FINAL)
    assert succeeded.state == AttemptState.SUCCEEDED
    assert (failed.state, failed.exit_code, failed.infrastructure_failure) == (
        AttemptState.FAILED,
        3,
        False,
    )
    assert succeeded.started_at is not None
    assert succeeded.ended_at is not None

    stuck = harness.cluster.status(ids[2])
    assert stuck is not None
    assert stuck.state == AttemptState.PENDING
    harness.cluster.stop(ids[2])
    # Ray 2.60 cannot stop a job whose supervisor was never placed: it stays PENDING (the
    # service records its own stop as final). It must never run, though.
    harness.wait()
    after_stop = harness.cluster.status(ids[2])
    assert after_stop is not None
    assert after_stop.state in (AttemptState.STOPPED, AttemptState.PENDING)
    harness.cluster.stop(ids[0])  # stopping a finished attempt changes nothing
    assert harness.until(ids[0], FINAL).state == AttemptState.SUCCEEDED
    assert isinstance(harness.cluster.logs(ids[0]), str)
