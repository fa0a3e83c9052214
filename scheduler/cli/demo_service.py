"""The demo's service step: its jobs really run on a local Ray head, in accelerated time.

The scheduler service (the one ``carbonshift serve`` runs) plans on a fake clock that jumps
from tick to tick: to the next submission or the next planned start (at most
``max_step_h`` hours); each job is submitted at its submission time and dispatched to a
local Ray head with logical GPUs when the planner starts it. A short command
(``python -c pass``) stands in for training, so hours of plan take seconds.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from scheduler.clock import FakeClock
from scheduler.model import JobSpec, JobState, MeasuredEnergy
from scheduler.service.loop import SchedulerService
from scheduler.simulation.demo import DemoOptions
from scheduler.simulation.scenario import Scenario, SimJob
from scheduler.wiring import demo_service

#: Real seconds to wait, after the plan's end, for the last Ray jobs to finish.
DRAIN_TIMEOUT_S = 60.0
#: Real seconds to wait, before the fake clock jumps, for dispatched Ray jobs to finish.
SETTLE_TIMEOUT_S = 20.0
STAND_IN = ("python", "-c", "pass")
#: The first demo jobs carry caps and run under the per-job power runner on simulated GPUs
#: (power follow-up, issue 7): (power cap W, energy cap kWh, policy, real seconds they run).
#: The last one's budget is about 1 s of its GPUs at full power: the runner stops it (CAPPED).
CAPPED_JOBS = (
    (200.0, None, "stop", 1),
    (150.0, None, "stop", 1),
    (None, 2 * 220 * 1.0 / 3.6e6, "stop", 6),
)


def _spec(job: SimJob, index: int) -> JobSpec:
    caps: dict[str, Any] = {}
    entrypoint = STAND_IN
    if index < len(CAPPED_JOBS):
        power_w, energy_kwh, policy, seconds = CAPPED_JOBS[index]
        caps = {"power_cap_w": power_w, "energy_cap_kwh": energy_kwh, "energy_cap_policy": policy}
        entrypoint = ("python", "-c", f"import time; time.sleep({seconds})")
    return JobSpec(
        **caps,
        name=job.id,
        entrypoint=entrypoint,
        gpus=job.gpus,
        estimated_duration_s=job.estimated_duration_s,
        deadline=datetime.fromtimestamp(job.deadline_s, tz=UTC),
        zones=job.zones or (job.home_zone,),
        interruptible=job.interruptible,
        team="demo",
        project="demo",
    )


def _waiting(svc: SchedulerService) -> bool:
    return bool(svc.store.list(states=[JobState.PENDING, JobState.DEFERRED], limit=1))


def _settle(svc: SchedulerService) -> int:
    """Let dispatched Ray jobs finish before simulated time jumps ahead; return extra ticks.

    The stand-ins run for a second of real time, but a jump of the fake clock takes hours: a
    job still running on Ray when the clock jumps would hold its GPUs long after its planned
    end, crowding out jobs with close deadlines. Waiting here keeps Ray's GPUs in step with
    the plan (bounded by ``SETTLE_TIMEOUT_S``; I/O, not scheduling).
    """
    running = [JobState.DISPATCHED, JobState.RUNNING]
    give_up, ticks = time.monotonic() + SETTLE_TIMEOUT_S, 0
    while svc.store.list(states=running, limit=1) and time.monotonic() < give_up:
        time.sleep(0.2)
        svc.tick()
        ticks += 1
    return ticks


def demo_service_step(
    scenario: Scenario, options: DemoOptions, *, max_step_h: float = 6.0, head: Any = None
) -> list[str]:
    """Run the scenario's jobs through the service onto a local Ray; return lines to print.

    ``head``: a running ``LocalRayHead`` to use (tests share one); by default one is started.

    Raises:
        ClusterUnavailable: the local Ray head did not start.
    """
    clock = FakeClock(options.start)
    queue = sorted(scenario.jobs, key=lambda job: job.submit_s)
    began, ticks, submitted = time.monotonic(), 0, 0
    power_dir = Path(tempfile.mkdtemp(prefix="cs-demo-"))  # short: a Unix socket lives there
    with demo_service(
        scenario.regions, clock, seed=options.seed, slot_s=scenario.slot_s, power_dir=power_dir
    ) as svc:
        while queue or _waiting(svc):
            while queue and queue[0].submit_s <= clock.now().timestamp():
                svc.store.submit(_spec(queue.pop(0), submitted), now=clock.now())
                submitted += 1
            report = svc.tick()
            ticks += 1
            ticks += _settle(svc)
            wake = [clock.now() + timedelta(hours=max_step_h)]
            wake += [datetime.fromtimestamp(queue[0].submit_s, tz=UTC)] if queue else []
            wake += [report.next_start] if report.next_start else []
            clock.set(max(clock.now() + timedelta(seconds=1), min(wake)))
        give_up = time.monotonic() + DRAIN_TIMEOUT_S
        while any(not job.state.terminal for job in svc.store.list()):
            if time.monotonic() > give_up:
                break
            time.sleep(0.5)  # the last Ray jobs run in real time (I/O, not scheduling)
            svc.tick()
        states = Counter(str(job.state) for job in svc.store.list())
        attempts = sum(len(svc.store.attempts(job.id)) for job in svc.store.list())
        metered = _metered_lines(svc)
    shutil.rmtree(power_dir, ignore_errors=True)
    summary = ", ".join(f"{count} {state}" for state, count in sorted(states.items()))
    return [
        f"service on Ray: {len(scenario.jobs)} jobs through `carbonshift serve`'s scheduler onto "
        f"a local Ray head ({sum(r.gpus for r in scenario.regions)} logical GPUs), {ticks} "
        f"ticks in {time.monotonic() - began:.0f} s: {summary}; "
        f"{attempts} Ray jobs",
        *metered,
    ]


def _metered_lines(svc: SchedulerService) -> list[str]:
    """One line per capped job: its caps, measured energy and source, cap outcome, state."""
    lines = []
    for job in svc.store.list():
        spec = job.spec
        if spec.power_cap_w is None and spec.energy_cap_kwh is None:
            continue
        measured = None
        for record in svc.store.attempts(job.id):
            measured = MeasuredEnergy.from_logs(
                svc.clusters[record.region].logs(record.submission_id)
            )
        caps = " + ".join(
            text
            for text in (
                f"{spec.power_cap_w:g} W/GPU" if spec.power_cap_w else "",
                f"{spec.energy_cap_kwh * 1000:.3f} Wh ({spec.energy_cap_policy})"
                if spec.energy_cap_kwh
                else "",
            )
            if text
        )
        energy = (
            "no report"
            if measured is None
            else f"{measured.energy_mj / 3.6e6:.3f} Wh {measured.energy_source}, "
            f"cap outcome {measured.energy_cap_outcome}"
        )
        lines.append(f"  {job.id} ({spec.name}) capped {caps}: {energy} → {job.state}")
    return lines
