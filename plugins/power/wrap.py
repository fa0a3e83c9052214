"""``wrap_job``: run a job's argv under a ``JobPowerRunner`` (``carbonshift agent wrap``).

The job runs as a child process; SIGTERM/SIGINT to the wrapper are forwarded to it. The wrapper
exits with the job's exit status (128 + signal number when the job was killed by a signal) and
its last stdout line is the energy report (see ``plugins.power.runner``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from types import FrameType

from plugins.agent.client import AgentClient
from plugins.power.runner import (
    JobCaps,
    JobPowerRunner,
    caps_from_file,
    publish,
    resolve_gpus,
    run_until_exit,
)
from scheduler.protocols import Clock, PowerBackend


def wrap_job(
    *,
    argv: Sequence[str],
    job_id: str,
    attempt: int,
    caps: JobCaps,
    caps_file: Path | None,
    visible_devices: str,
    estimated_duration_s: float | None,
    sample_s: float,
    report_path: Path | None,
    meter: PowerBackend,
    agent: Callable[[], AgentClient],
    clock: Clock,
    echo: Callable[[str], None] = print,
) -> int:
    """Run ``argv`` metered (and capped) to its end; return the exit status to use."""
    gpus = resolve_gpus(visible_devices, meter.gpus())
    source = caps_from_file(caps_file, caps)
    needs_agent = source().power_cap_w is not None or source().policy == "throttle"
    end = (
        None
        if estimated_duration_s is None
        else clock.now() + timedelta(seconds=estimated_duration_s)
    )
    runner = JobPowerRunner(
        job_id=job_id,
        attempt=attempt,
        gpus=gpus,
        meter=meter,
        agent=agent() if needs_agent or caps_file is not None else None,
        clock=clock,
        caps=source,
        estimated_end=end,
        sample_s=sample_s,
        holder_pid=os.getpid(),
    )
    runner.prepare()  # the job starts capped, never a moment before
    process = subprocess.Popen(list(argv))
    _forward_signals(process)
    report = run_until_exit(runner, process, sample_s=sample_s, sleep=time.sleep)
    publish(report, report_path, echo)
    code = report.exit_code or 0
    return code if code >= 0 else 128 - code


def _forward_signals(process: subprocess.Popen[bytes]) -> None:
    def forward(signum: int, _frame: FrameType | None) -> None:
        process.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
