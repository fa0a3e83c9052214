"""The demo's service step: its jobs really run on a local Ray head, in accelerated time.

The scheduler service (the one ``carbonshift serve`` runs) plans on a fake clock that jumps
from tick to tick: to the next submission or the next planned start (at most
``max_step_h`` hours); each job is submitted at its submission time and dispatched to a
local Ray head with logical GPUs when the planner starts it. A short command
(``python -c pass``) stands in for training, so hours of plan take seconds.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from scheduler.clock import FakeClock
from scheduler.model import JobSpec, JobState
from scheduler.service.loop import SchedulerService
from scheduler.simulation.demo import DemoOptions
from scheduler.simulation.scenario import Scenario, SimJob
from scheduler.wiring import demo_service

#: Real seconds to wait, after the plan's end, for the last Ray jobs to finish.
DRAIN_TIMEOUT_S = 60.0
STAND_IN = ("python", "-c", "pass")


def _spec(job: SimJob) -> JobSpec:
    return JobSpec(
        name=job.id,
        entrypoint=STAND_IN,
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
    began, ticks = time.monotonic(), 0
    with demo_service(scenario.regions, clock, seed=options.seed, slot_s=scenario.slot_s) as svc:
        while queue or _waiting(svc):
            while queue and queue[0].submit_s <= clock.now().timestamp():
                svc.store.submit(_spec(queue.pop(0)), now=clock.now())
            report = svc.tick()
            ticks += 1
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
    summary = ", ".join(f"{count} {state}" for state, count in sorted(states.items()))
    return [
        f"service on Ray: {len(scenario.jobs)} jobs through `carbonshift serve`'s scheduler onto "
        f"a local Ray head ({sum(r.gpus for r in scenario.regions)} logical GPUs), {ticks} "
        f"ticks in {time.monotonic() - began:.0f} s: {summary}; "
        f"{attempts} Ray jobs"
    ]
