"""``carbonshift agent status|cap|release`` through the real CLI against a served agent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from plugins.agent.leases import FileLeaseJournal
from plugins.agent.node import NodeAgent
from plugins.agent.server import SOCKET_NAME, UnixSocketAgentServer
from plugins.power.curves import shipped_curve
from plugins.power.simulated import SimulatedPowerBackend
from scheduler.cli.agent import parse_duration_s
from scheduler.cli.main import app
from scheduler.clock import FakeClock


@pytest.fixture
def state_dir(tmp_path_factory: pytest.TempPathFactory, clock: FakeClock) -> Iterator[Path]:
    """A served agent over 2 simulated A40 GPUs (socket paths must stay short)."""
    directory = Path(tmp_path_factory.mktemp("cli"))
    backend = SimulatedPowerBackend(
        state_file=directory / "gpus.json",
        gpus=2,
        curve=shipped_curve("A40", "imagenet/resnet50"),
        clock=clock,
    )
    agent = NodeAgent(backend=backend, journal=FileLeaseJournal(directory / "j.json"), clock=clock)
    server = UnixSocketAgentServer(agent, directory / SOCKET_NAME, tick_s=3600)
    server.start()
    yield directory
    server.stop()


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["agent", *args])
    return result.exit_code, result.stdout + result.stderr


def test_status_json_has_the_documented_shape(state_dir: Path) -> None:
    """`agent status --json` lists GPUs with limits in watts, and live leases."""
    code, out = _run("status", "--json", "--state-dir", str(state_dir))
    assert code == 0
    document = json.loads(out)
    assert set(document) == {"gpus", "leases"}
    first = document["gpus"][0]
    keys = {"index", "uuid", "limit_w", "default_limit_w", "min_w", "max_w"}
    assert keys <= set(first)
    assert (first["limit_w"], first["default_limit_w"]) == (first["max_w"], first["max_w"])


def test_cap_then_release(state_dir: Path) -> None:
    """`agent cap` caps the GPU for the job; `agent release` restores it."""
    code, out = _run(
        "cap", "--gpu", "1", "--limit-w", "200", "--ttl", "10m", "--job", "J",
        "--state-dir", str(state_dir),
    )  # fmt: skip
    assert code == 0, out
    assert "GPU 1: 200 W for J" in out
    status = json.loads(_run("status", "--json", "--state-dir", str(state_dir))[1])
    assert [(lease["gpu"], lease["job_id"]) for lease in status["leases"]] == [(1, "J")]
    assert status["gpus"][1]["limit_w"] == 200
    code, out = _run("release", "--job", "J", "--state-dir", str(state_dir))
    assert (code, out.strip().splitlines()[-1]) == (0, "released J: restored GPUs [1]")


def test_a_limit_out_of_range_exits_2_naming_the_range(state_dir: Path) -> None:
    """A bad limit is a usage error that names the GPU's range."""
    code, out = _run(
        "cap", "--gpu", "0", "--limit-w", "20", "--job", "J", "--state-dir", str(state_dir)
    )
    assert code == 2
    assert "constraints" in out


def test_no_agent_is_a_clear_fault(tmp_path: Path) -> None:
    """Without a running agent the client says how to start one."""
    code, out = _run("status", "--state-dir", str(tmp_path))
    assert code == 1
    assert "carbonshift agent run" in out


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("90s", 90), ("10m", 600), ("2h", 7200)])
def test_durations(text: str, seconds: float) -> None:
    """TTLs accept seconds, minutes and hours."""
    assert parse_duration_s(text) == seconds


def test_bad_duration_names_the_format() -> None:
    """A malformed TTL says how to write one."""
    with pytest.raises(typer.BadParameter, match="10m"):
        parse_duration_s("ten minutes")
