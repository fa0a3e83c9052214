"""The wiring of the per-job runner: which argv a cluster runs, where the agent lives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from plugins.agent.client import AgentClient
from plugins.agent.embedded import EmbeddedAgent
from scheduler.clock import FakeClock
from scheduler.model import Job, JobSpec
from scheduler.settings import Settings
from scheduler.wiring import CLI_PROGRAM, WiringContext, agent_state_dir, capped_entrypoint

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _job(**caps: float) -> Job:
    spec = JobSpec(
        name="t",
        entrypoint=("python", "train.py"),
        gpus=1,
        estimated_duration_s=60,
        deadline=NOW + timedelta(hours=1),
        **caps,
    )
    return Job(id="job-1", spec=spec, submitted_at=NOW, updated_at=NOW)


def test_capped_jobs_are_wrapped_with_this_installation_and_the_data_dirs_agent(
    tmp_path: Path,
) -> None:
    """On defaults a capped job runs ``carbonshift agent wrap`` with this interpreter (the
    ``carbonshift`` on the node's PATH on an existing cluster) and the agent in
    ``data_dir/agent``; an uncapped one runs as submitted. The first capped job starts the
    embedded simulated agent (as many GPUs as the embedded Ray), which stops with the graph."""
    ctx = WiringContext(settings=Settings(data_dir=tmp_path), clock=FakeClock(NOW))
    remote = capped_entrypoint(ctx, embedded_agent_gpus=None)
    assert remote is not None
    assert list(remote(_job(power_cap_w=200), 1))[:3] == ["carbonshift", "agent", "wrap"]
    entrypoint = capped_entrypoint(ctx, embedded_agent_gpus=8)
    assert entrypoint is not None
    assert list(entrypoint(_job(), 1)) == ["python", "train.py"]
    assert not EmbeddedAgent(program=CLI_PROGRAM, state_dir=tmp_path / "agent", gpus=8).answers()
    with ctx.resources:  # stops the agent the first capped job started
        wrapped = list(entrypoint(_job(power_cap_w=200), 1))
        client = AgentClient.find(state_dir=tmp_path / "agent")
        assert len(client.status()["gpus"]) == 8
    assert wrapped[: len(CLI_PROGRAM) + 2] == [*CLI_PROGRAM, "agent", "wrap"]
    assert wrapped[wrapped.index("--state-dir") + 1] == str(tmp_path / "agent")
    assert wrapped[wrapped.index("--backend") + 1] == "simulated"


def test_metering_can_be_switched_off_and_the_state_dir_configured(tmp_path: Path) -> None:
    """``service.meter_jobs: false`` runs every job as submitted; ``power.state_dir`` moves
    the agent."""
    off = Settings(data_dir=tmp_path, service={"meter_jobs": False})
    ctx = WiringContext(settings=off, clock=FakeClock(NOW))
    assert capped_entrypoint(ctx, embedded_agent_gpus=8) is None
    moved = Settings(data_dir=tmp_path, power={"kind": "simulated", "state_dir": "/run/cs"})
    assert agent_state_dir(moved) == Path("/run/cs")
