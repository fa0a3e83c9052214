"""``JobPowerRunner`` on simulated GPUs through a served node agent, driven by a fake clock.

The job is a real child process (``sleep``); the runner's sampling is driven by advancing the
clock and calling ``sample`` — no sleeping.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from plugins.agent.client import AgentClient
from plugins.agent.leases import FileLeaseJournal
from plugins.agent.node import NodeAgent
from plugins.agent.server import SOCKET_NAME, UnixSocketAgentServer
from plugins.power.curves import shipped_curve
from plugins.power.runner import (
    MJ_PER_KWH,
    JobCaps,
    JobPowerRunner,
    caps_from_file,
    resolve_gpus,
)
from plugins.power.simulated import SimulatedPowerBackend
from scheduler.clock import FakeClock

CURVE = shipped_curve("V100", "imagenet/resnet50")
FULL_W = CURVE.power_w(250)
SAMPLE_S = 60.0


@dataclass
class Node:
    """Two simulated GPUs, their served agent, and the job under test."""

    devices: SimulatedPowerBackend
    agent: NodeAgent
    client: AgentClient
    clock: FakeClock
    caps: list[JobCaps] = field(default_factory=lambda: [JobCaps()])
    job: subprocess.Popen[bytes] = field(default_factory=lambda: subprocess.Popen(["sleep", "600"]))

    def runner(self, estimated_s: float | None = None) -> JobPowerRunner:
        end = None if estimated_s is None else self.clock.now() + timedelta(seconds=estimated_s)
        return JobPowerRunner(
            job_id="job-1",
            attempt=2,
            gpus=[0, 1],
            meter=self.devices,
            agent=self.client,
            clock=self.clock,
            caps=lambda: self.caps[0],
            estimated_end=end,
            sample_s=SAMPLE_S,
        )

    def run_for(self, runner: JobPowerRunner, seconds: float) -> None:
        for _ in range(int(seconds // SAMPLE_S)):
            self.clock.advance(SAMPLE_S)
            runner.sample(self.job)
            if runner.stopped:  # the fake clock stands still while the job exits
                self.job.wait(timeout=10)
                return

    def limits_w(self) -> list[float]:
        return [self.devices.get_power_limit_mw(i) / 1000 for i in range(2)]


@pytest.fixture
def node(tmp_path_factory: pytest.TempPathFactory, clock: FakeClock) -> Iterator[Node]:
    """A node with a served agent; the job process is killed afterwards."""
    directory = Path(tmp_path_factory.mktemp("run"))
    devices = SimulatedPowerBackend(
        state_file=directory / "gpus.json", gpus=2, curve=CURVE, clock=clock
    )
    agent = NodeAgent(backend=devices, journal=FileLeaseJournal(directory / "j.json"), clock=clock)
    server = UnixSocketAgentServer(agent, directory / SOCKET_NAME, tick_s=3600)
    server.start()
    test_node = Node(
        devices=devices, agent=agent, client=AgentClient.find(state_dir=directory), clock=clock
    )
    yield test_node
    test_node.job.kill()
    test_node.job.wait()
    server.stop()


def test_energy_is_the_sum_of_counter_increases(node: Node) -> None:
    """Two GPUs at full power for an hour: energy = 2 × measured draw × 3600 s."""
    runner = node.runner()
    node.run_for(runner, 3600)
    report = runner.finish(0)
    assert report.energy_mj == pytest.approx(2 * FULL_W * 3600 * 1000, rel=1e-6)
    assert (report.final_state, report.energy_cap_outcome, report.energy_source) == (
        "SUCCEEDED",
        "none",
        "simulated",
    )


def test_power_cap_is_leased_and_released(node: Node) -> None:
    """A power cap becomes a lease on the job's GPUs; finishing restores the limits."""
    node.caps[0] = JobCaps(power_cap_w=150)
    runner = node.runner()
    runner.prepare()
    assert node.limits_w() == [150, 150]
    assert {(lease.job_id, lease.attempt) for lease in node.agent.leases()} == {("job-1", 2)}
    runner.finish(0)
    assert node.limits_w() == [250, 250]


def test_a_changed_cap_applies_within_one_sample(node: Node) -> None:
    """The caps source is read every sample: a new power cap is in force one period later."""
    node.caps[0] = JobCaps(power_cap_w=200)
    runner = node.runner()
    runner.sample(node.job)
    node.caps[0] = JobCaps(power_cap_w=120)
    node.run_for(runner, SAMPLE_S)
    assert node.limits_w() == [120, 120]


def test_lease_is_taken_again_after_the_agent_lost_it(node: Node) -> None:
    """If the agent restored the GPUs (restart), the next renewal re-takes the lease."""
    node.caps[0] = JobCaps(power_cap_w=150)
    runner = node.runner()
    runner.sample(node.job)
    node.agent.shutdown()
    assert node.limits_w() == [250, 250]
    node.run_for(runner, SAMPLE_S)
    assert node.limits_w() == [150, 150]


def test_stop_policy_ends_the_job_capped_at_the_budget(node: Node) -> None:
    """`stop`: the job is terminated in the first sample at or over the budget; CAPPED."""
    budget_kwh = 0.2
    node.caps[0] = JobCaps(energy_cap_kwh=budget_kwh, policy="stop")
    runner = node.runner()
    node.run_for(runner, 3 * 3600)
    assert node.job.wait(timeout=10) != 0
    report = runner.finish(node.job.returncode)
    one_sample_mj = 2 * FULL_W * SAMPLE_S * 1000
    assert budget_kwh * MJ_PER_KWH <= report.energy_mj < budget_kwh * MJ_PER_KWH + one_sample_mj
    assert (report.final_state, report.energy_cap_outcome) == ("CAPPED", "stopped")


def test_throttle_lowers_the_limit_so_the_budget_lasts(node: Node) -> None:
    """`throttle`: a budget 20 % under full-power needs is met by lowering the limit stepwise."""
    budget_kwh = 0.8 * 2 * FULL_W * 3600 / 3.6e6
    node.caps[0] = JobCaps(energy_cap_kwh=budget_kwh, policy="throttle")
    runner = node.runner(estimated_s=3600)
    node.run_for(runner, 3600)
    report = runner.finish(0)
    assert node.job.poll() is None  # never stopped
    assert report.energy_mj <= budget_kwh * MJ_PER_KWH
    assert report.lowest_limit_w is not None
    assert report.lowest_limit_w < 250
    assert (report.final_state, report.energy_cap_outcome) == ("SUCCEEDED", "throttled")
    assert node.limits_w() == [250, 250]


def test_notify_policy_only_records(node: Node) -> None:
    """`notify`: the job runs on past its budget; the outcome says notified."""
    node.caps[0] = JobCaps(energy_cap_kwh=0.05, policy="notify")
    runner = node.runner()
    node.run_for(runner, 3600)
    assert node.job.poll() is None
    assert runner.finish(0).energy_cap_outcome == "notified"


def test_caps_file_overrides_and_survives_a_bad_write(tmp_path: Path) -> None:
    """The caps file wins over the defaults; a malformed rewrite keeps the last good caps."""
    path = tmp_path / "caps.json"
    read = caps_from_file(path, JobCaps(power_cap_w=200))
    assert read() == JobCaps(power_cap_w=200)
    path.write_text('{"power_cap_w": 150, "energy_cap_kwh": 1.5}')
    assert read() == JobCaps(power_cap_w=150, energy_cap_kwh=1.5)
    path.write_text('{"power_cap_w": ')
    assert read() == JobCaps(power_cap_w=150, energy_cap_kwh=1.5)


def test_gpus_come_from_cuda_visible_devices(node: Node) -> None:
    """Indices and GPU uuids resolve; a MIG instance id is refused with the reason."""
    gpus = node.devices.gpus()
    assert resolve_gpus(f"1,{gpus[0].uuid}", gpus) == [1, 0]
    with pytest.raises(ValueError, match="MIG instances cannot be metered"):
        resolve_gpus("MIG-4f2a", gpus)
