"""``NodeAgent``: leases restore the original limits; all or nothing; expiry; drift; recovery."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from plugins.agent.leases import CapRequest, FileLeaseJournal, RenewRequest
from plugins.agent.node import NodeAgent
from plugins.power.curves import shipped_curve
from plugins.power.nvml import NvmlPowerBackend
from plugins.power.simulated import SimulatedPowerBackend
from scheduler.clock import FakeClock
from scheduler.errors import LeaseConflictError, PowerNotSupportedError, PowerPermissionError
from scheduler.protocols import PowerBackend
from tests.plugins.power.stand_in_pynvml import StandInDevice, StandInNvml, sleeper

DEFAULT_MW = 250_000


def _simulated(
    tmp_path: Path, clock: FakeClock, mig: tuple[int, ...] = ()
) -> SimulatedPowerBackend:
    return SimulatedPowerBackend(
        state_file=tmp_path / "gpus.json",
        gpus=4,
        curve=shipped_curve("V100", "imagenet/resnet50"),
        clock=clock,
        mig_indices=mig,
    )


def _agent(tmp_path: Path, clock: FakeClock, backend: PowerBackend | None = None) -> NodeAgent:
    return NodeAgent(
        backend=backend or _simulated(tmp_path, clock),
        journal=FileLeaseJournal(tmp_path / "leases.json"),
        clock=clock,
    )


def _cap(gpus: tuple[int, ...], limit_mw: int = 150_000, job: str = "job-a", ttl_s: float = 60):
    return CapRequest(gpus=gpus, limit_mw=limit_mw, job_id=job, attempt=1, ttl_s=ttl_s)


def _limits(agent: NodeAgent) -> list[int]:
    return [agent.limit_mw(gpu.index) for gpu in agent.gpus()]


def test_cap_sets_limits_and_release_restores_them(tmp_path: Path, clock: FakeClock) -> None:
    """A lease caps its GPUs; releasing the job gives every GPU its original limit back."""
    agent = _agent(tmp_path, clock)
    leases = agent.cap(_cap((0, 2)))
    assert [lease.limit_mw for lease in leases] == [150_000, 150_000]
    assert _limits(agent) == [150_000, DEFAULT_MW, 150_000, DEFAULT_MW]
    assert agent.release("job-a") == [0, 2]
    assert _limits(agent) == [DEFAULT_MW] * 4
    assert agent.leases() == []


def test_original_is_journaled_durably_while_capped(tmp_path: Path, clock: FakeClock) -> None:
    """While capped, the journal file on disk holds each GPU's original limit and lease."""
    agent = _agent(tmp_path, clock)
    agent.cap(_cap((1,)))
    entries = FileLeaseJournal(tmp_path / "leases.json").load()
    assert entries[1].original_mw == DEFAULT_MW
    assert entries[1].lease is not None
    assert entries[1].lease.limit_mw == 150_000


def test_multi_gpu_cap_is_all_or_nothing(tmp_path: Path, clock: FakeClock) -> None:
    """If one GPU refuses the limit, the GPUs already changed go back and no lease exists."""
    devices = [StandInDevice(uuid=f"GPU-{i}") for i in range(3)]
    devices[2].read_only = True
    backend = NvmlPowerBackend(nvml=StandInNvml(devices, clock), clock=clock)
    agent = _agent(tmp_path, clock, backend)
    with pytest.raises(PowerPermissionError):
        agent.cap(_cap((0, 1, 2), limit_mw=200_000))
    assert [d.limit_mw for d in devices] == [300_000] * 3
    assert agent.leases() == []
    assert FileLeaseJournal(tmp_path / "leases.json").load() == {}


def test_a_lagging_enforced_limit_is_no_drift_and_every_limit_comes_back(
    tmp_path: Path, clock: FakeClock
) -> None:
    """Real H100 behaviour (scripts/gpu-check): the enforced limit follows a set with a delay.

    The lease records the limit set, no drift is seen, release restores the original, and
    after a crash start-up recovery restores it too.
    """
    devices = [StandInDevice(uuid=f"GPU-{i}", enforce_lag_reads=2) for i in range(2)]
    backend = NvmlPowerBackend(nvml=StandInNvml(devices, clock), clock=clock, sleep=sleeper(clock))
    agent = _agent(tmp_path, clock, backend)
    [lease] = agent.cap(_cap((0,), limit_mw=200_000))
    assert lease.limit_mw == 200_000
    with capture_logs() as logs:
        agent.tick()
        agent.release("job-a")
    assert [log["event"] for log in logs if log["event"].startswith("drift")] == []
    assert [d.limit_mw for d in devices] == [300_000, 300_000]
    agent.cap(_cap((1,), limit_mw=150_000, job="job-b"))
    restarted = _agent(tmp_path, clock, backend)
    assert restarted.recover() == [1]
    assert [d.limit_mw for d in devices] == [300_000, 300_000]


def test_a_gpu_leased_to_another_job_is_refused(tmp_path: Path, clock: FakeClock) -> None:
    """A second job cannot cap a GPU another job holds; its other GPUs are untouched."""
    agent = _agent(tmp_path, clock)
    agent.cap(_cap((1,)))
    with pytest.raises(LeaseConflictError, match="GPU 1 is capped for job job-a"):
        agent.cap(_cap((0, 1), limit_mw=120_000, job="job-b"))
    assert _limits(agent) == [DEFAULT_MW, 150_000, DEFAULT_MW, DEFAULT_MW]


def test_the_same_job_may_lower_its_cap_and_keeps_the_original(
    tmp_path: Path, clock: FakeClock
) -> None:
    """Re-capping (throttling) changes the limit; release still restores the true original."""
    agent = _agent(tmp_path, clock)
    agent.cap(_cap((0,)))
    agent.cap(_cap((0,), limit_mw=110_000))
    assert _limits(agent)[0] == 110_000
    agent.release("job-a")
    assert _limits(agent)[0] == DEFAULT_MW


def test_an_unrenewed_lease_expires(tmp_path: Path, clock: FakeClock) -> None:
    """A lease renewed in time stays; once its TTL passes without renewal the limit returns."""
    agent = _agent(tmp_path, clock)
    agent.cap(_cap((3,), ttl_s=30))
    clock.advance(20)
    assert len(agent.renew(RenewRequest(job_id="job-a", attempt=1, ttl_s=30))) == 1
    clock.advance(20)
    agent.tick()
    assert _limits(agent)[3] == 150_000
    clock.advance(11)
    agent.tick()
    assert _limits(agent)[3] == DEFAULT_MW
    assert agent.leases() == []


def test_renewing_a_lease_the_agent_does_not_hold_returns_none(
    tmp_path: Path, clock: FakeClock
) -> None:
    """An unknown lease is an expected outcome: renew answers no leases (take it again)."""
    agent = _agent(tmp_path, clock)
    assert agent.renew(RenewRequest(job_id="ghost", attempt=0, ttl_s=30)) == []


def test_start_up_restores_every_journaled_gpu(tmp_path: Path, clock: FakeClock) -> None:
    """A new agent on the same state (after a crash) restores every capped GPU."""
    _agent(tmp_path, clock).cap(_cap((0, 1, 2, 3), limit_mw=120_000))
    restarted = _agent(tmp_path, clock)
    assert restarted.recover() == [0, 1, 2, 3]
    assert _limits(restarted) == [DEFAULT_MW] * 4
    assert FileLeaseJournal(tmp_path / "leases.json").load() == {}


def test_drift_is_logged_once_and_not_fought(tmp_path: Path, clock: FakeClock) -> None:
    """Someone else changes a leased limit: the agent logs it, keeps it, and leaves it."""
    backend = _simulated(tmp_path, clock)
    agent = _agent(tmp_path, clock, backend)
    agent.cap(_cap((2,)))
    backend.set_power_limit_mw(2, 200_000)
    with capture_logs() as logs:
        agent.tick()
        agent.tick()
    drift = [log for log in logs if log["event"].startswith("drift")]
    assert [(d["gpu"], d["set_mw"], d["found_mw"]) for d in drift] == [(2, 150_000, 200_000)]
    assert agent.leases()[0].drifted_mw == 200_000
    agent.release("job-a")
    assert backend.get_power_limit_mw(2) == 200_000


def test_mig_gpu_needs_the_whole_gpu(tmp_path: Path, clock: FakeClock) -> None:
    """A MIG-partitioned GPU is capped only for a job that owns the whole physical GPU."""
    agent = _agent(tmp_path, clock, _simulated(tmp_path, clock, mig=(1,)))
    with pytest.raises(PowerNotSupportedError, match="MIG"):
        agent.cap(_cap((1,)))
    whole = CapRequest(gpus=(1,), limit_mw=150_000, job_id="j", ttl_s=60, whole_gpu=True)
    assert agent.cap(whole)[0].limit_mw == 150_000


@pytest.mark.parametrize(
    ("request_kwargs", "message"),
    [
        ({"gpus": (7,)}, "gpu 7 does not exist"),
        ({"gpus": (0,), "limit_mw": 400_000}, r"outside GPU 0's constraints \[100000, 250000\]"),
    ],
)
def test_bad_requests_name_the_bad_value(
    tmp_path: Path, clock: FakeClock, request_kwargs: dict[str, object], message: str
) -> None:
    """Unknown GPUs and out-of-range limits are refused before anything changes."""
    agent = _agent(tmp_path, clock)
    with pytest.raises(ValueError, match=message):
        agent.cap(_cap(**request_kwargs))  # type: ignore[arg-type]
    assert _limits(agent) == [DEFAULT_MW] * 4


def test_shutdown_restores_everything(tmp_path: Path, clock: FakeClock) -> None:
    """SIGTERM path: every lease ends and every GPU gets its original limit."""
    agent = _agent(tmp_path, clock)
    agent.cap(_cap((0, 1)))
    agent.cap(_cap((2,), job="job-b"))
    assert agent.shutdown() == [0, 1, 2]
    assert _limits(agent) == [DEFAULT_MW] * 4


def test_a_lease_ends_when_its_holder_is_killed(tmp_path: Path, clock: FakeClock) -> None:
    """A job process SIGKILLed while capped: the next tick restores its GPUs."""
    agent = _agent(tmp_path, clock)
    job = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    request = CapRequest(gpus=(0,), limit_mw=150_000, job_id="j", ttl_s=600, holder_pid=job.pid)
    agent.cap(request)
    agent.tick()
    assert _limits(agent)[0] == 150_000
    job.kill()
    job.wait()
    agent.tick()
    assert _limits(agent)[0] == DEFAULT_MW
