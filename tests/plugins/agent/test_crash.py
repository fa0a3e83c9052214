"""The agent process, for real: SIGKILL it while 4 simulated GPUs are capped, restart it, and
every limit is back to its original within 5 s. Also SIGTERM restores everything."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from plugins.agent.client import AgentClient
from plugins.power.curves import shipped_curve
from plugins.power.simulated import SimulatedPowerBackend
from scheduler.clock import SystemClock
from scheduler.errors import PowerError

pytestmark = pytest.mark.slow

GPUS = 4
DEFAULT_MW = 250_000  # V100 curve, the simulated default
CLI = "from scheduler.cli.main import main; main()"


def _start_agent(state_dir: Path, log: Path | None = None) -> subprocess.Popen[bytes]:
    """``carbonshift agent run`` on simulated GPUs; with ``log``, its JSON log goes there."""
    env = {**os.environ, "CARBONSHIFT_DATA_DIR": str(state_dir / "data")}
    argv = [sys.executable, "-c", CLI, "agent", "run", "--backend", "simulated"]
    argv += ["--gpus", str(GPUS), "--state-dir", str(state_dir)]
    if log is None:
        return subprocess.Popen(argv, env=env, cwd=state_dir, stdout=subprocess.DEVNULL)
    with log.open("wb") as out:  # stdout carries only the "agent ready" notice
        return subprocess.Popen(
            [*argv, "--log-json"], env=env, cwd=state_dir, stdout=subprocess.DEVNULL, stderr=out
        )


def _poll(condition: Callable[[], bool], timeout_s: float) -> bool:
    """True as soon as ``condition`` holds, False if it never did within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _answers(client: AgentClient) -> bool:
    try:
        client.status()
    except PowerError:
        return False
    return True


@pytest.fixture
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short path: Unix socket paths are limited to about 100 bytes."""
    return Path(tmp_path_factory.mktemp("agent"))


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Agent processes started by a test; each is SIGTERMed and reaped afterwards."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=10)


def _devices(state_dir: Path) -> SimulatedPowerBackend:
    """The simulated GPUs as the node sees them (the device state file)."""
    return SimulatedPowerBackend(
        state_file=state_dir / "simulated-gpus.json",
        gpus=GPUS,
        curve=shipped_curve("V100", "imagenet/resnet50"),
        clock=SystemClock(),
    )


def _limits(state_dir: Path) -> list[int]:
    devices = _devices(state_dir)
    return [devices.get_power_limit_mw(i) for i in range(GPUS)]


def test_sigkilled_agent_restores_every_limit_on_restart(
    state_dir: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    """Caps outlive a SIGKILLed agent (like a real GPU); the restarted agent undoes them <5 s."""
    client = AgentClient.find(state_dir=state_dir)
    processes.append(_start_agent(state_dir))
    assert _poll(lambda: _answers(client), 30), "the agent did not start within 30 s"
    client.cap(gpus=[0, 1, 2, 3], limit_mw=120_000, job_id="job-1", attempt=1, ttl_s=600)
    assert _limits(state_dir) == [120_000] * GPUS

    processes[0].kill()
    processes[0].wait()
    assert _limits(state_dir) == [120_000] * GPUS  # nobody restored them: the agent is dead

    restarted_at = time.monotonic()
    processes.append(_start_agent(state_dir))
    assert _poll(lambda: _limits(state_dir) == [DEFAULT_MW] * GPUS, 5.0), _limits(state_dir)
    assert time.monotonic() - restarted_at < 5.0
    assert _poll(lambda: _answers(client), 30)
    assert client.status()["leases"] == []


def test_sigterm_restores_every_limit(
    state_dir: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    """A stopped agent (SIGTERM) ends its leases and restores the limits before exiting; its
    ``--log-json`` log says so, one JSON object per line."""
    client, log = AgentClient.find(state_dir=state_dir), state_dir / "agent.log"
    processes.append(_start_agent(state_dir, log))
    assert _poll(lambda: _answers(client), 30)
    client.cap(gpus=[1, 3], limit_mw=150_000, job_id="job-2", ttl_s=600)
    processes[0].send_signal(signal.SIGTERM)
    assert processes[0].wait(timeout=10) == 0
    assert _limits(state_dir) == [DEFAULT_MW] * GPUS
    lines = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    ours = [
        (line["event"], line.get("gpu")) for line in lines if line["logger"] == "carbonshift.agent"
    ]
    assert ("lease granted", None) in ours
    assert {gpu for event, gpu in ours if event == "limit restored"} == {1, 3}


def test_job_sigkilled_while_capped_gets_its_gpus_restored(
    state_dir: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    """`agent wrap` holds a cap for its job; SIGKILL the wrapper and the agent restores the GPUs
    (the lease's holder pid is gone) long before the lease would expire."""
    client = AgentClient.find(state_dir=state_dir)
    processes.append(_start_agent(state_dir))
    assert _poll(lambda: _answers(client), 30)
    pid_file = state_dir / "job.pid"
    job = f"echo $$ > {pid_file}; exec sleep 120"
    wrap = [sys.executable, "-c", CLI, "agent", "wrap", "--job", "job-3", "--power-cap-w", "150"]
    wrap += ["--backend", "simulated", "--state-dir", str(state_dir), "--gpus", "2,3"]
    wrapper = subprocess.Popen([*wrap, "--sample-s", "60", "--", "sh", "-c", job], cwd=state_dir)
    try:
        assert _poll(lambda: _limits(state_dir) == [DEFAULT_MW, DEFAULT_MW, 150_000, 150_000], 30)
        wrapper.kill()
        wrapper.wait()
        assert _poll(lambda: _limits(state_dir) == [DEFAULT_MW] * GPUS, 10), _limits(state_dir)
        assert client.status()["leases"] == []
    finally:
        if wrapper.poll() is None:
            wrapper.kill()
            wrapper.wait()
        if pid_file.exists():
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
