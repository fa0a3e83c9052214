"""``RunnerDispatch``: capped jobs run under ``carbonshift agent wrap``; others run as given."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from plugins.power.dispatch import RunnerDispatch
from plugins.power.runner import JobCaps, caps_from_file
from scheduler.model import Job, JobSpec

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
PROGRAM = ("/venv/bin/python", "-c", "from scheduler.cli.main import main; main()")
HOSTILE = ("python", "train.py", "--name", "x; rm -rf / $(id) 'q'")


def _job(**changes: Any) -> Job:
    fields: dict[str, Any] = {
        "name": "train",
        "entrypoint": HOSTILE,
        "gpus": 2,
        "estimated_duration_s": 600,
        "deadline": NOW + timedelta(hours=2),
    }
    fields.update(changes)
    return Job(id="job-7", spec=JobSpec(**fields), submitted_at=NOW, updated_at=NOW, attempt=3)


def _dispatch(tmp_path: Path) -> RunnerDispatch:
    return RunnerDispatch(program=PROGRAM, state_dir=tmp_path / "agent", sample_s=0.5)


def _option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_an_uncapped_job_runs_its_own_argv(tmp_path: Path) -> None:
    """Without caps nothing is wrapped: the job's argv is its entrypoint."""
    assert list(_dispatch(tmp_path).argv(_job(), 3)) == list(HOSTILE)


def test_a_capped_job_is_wrapped_and_survives_the_shell_untouched(tmp_path: Path) -> None:
    """The wrapped argv names the job, attempt, agent state dir, caps and policy, and the
    job's own argv after ``--`` comes back unchanged from ``shlex.join`` → a shell."""
    dispatch = _dispatch(tmp_path)
    job = _job(power_cap_w=200, energy_cap_kwh=1.5, energy_cap_policy="throttle")
    argv = shlex.split(shlex.join(dispatch.argv(job, 3)))
    assert argv[: len(PROGRAM) + 2] == [*PROGRAM, "agent", "wrap"]
    assert (_option(argv, "--job"), _option(argv, "--attempt")) == ("job-7", "3")
    assert _option(argv, "--state-dir") == str(tmp_path / "agent")
    assert (_option(argv, "--power-cap-w"), _option(argv, "--energy-cap-kwh")) == ("200", "1.5")
    assert (_option(argv, "--policy"), _option(argv, "--estimated-duration-s")) == (
        "throttle",
        "600",
    )
    assert _option(argv, "--caps-file") == str(dispatch.caps_file("job-7", 3))
    assert argv[argv.index("--") + 1 :] == list(HOSTILE)


def test_a_power_capped_job_passes_no_energy_options(tmp_path: Path) -> None:
    """Only the caps the job has are passed (the runner's defaults stand for the rest)."""
    argv = list(_dispatch(tmp_path).argv(_job(power_cap_w=180), 1))
    assert "--power-cap-w" in argv
    assert "--energy-cap-kwh" not in argv
    assert "--policy" not in argv


def test_written_caps_are_what_the_runner_reads(tmp_path: Path) -> None:
    """``write_caps`` (a cap changed through the API) is read back by the runner's caps
    source as the job's new caps; removing a cap (None) removes it."""
    dispatch = _dispatch(tmp_path)
    before = JobCaps(power_cap_w=200, energy_cap_kwh=1.5, policy="stop")
    job = _job(power_cap_w=150, energy_cap_kwh=None, energy_cap_policy="notify")
    read = caps_from_file(dispatch.caps_file(job.id, job.attempt), before)
    assert read() == before
    dispatch.write_caps(job)
    assert read() == JobCaps(power_cap_w=150, energy_cap_kwh=None, policy="notify")
