"""Scheduler service benchmarks: tick time with 10,000 queued jobs, and dispatch overhead.

1. **Tick time.** 10,000 queued jobs (1–4 GPUs, 15 min–4 h, deadlines 4–48 h ahead,
   submitted over the past week) in a real SQLite store, two regions of 32 GPUs (scripted
   clusters, so no dispatch cost), the default planner, a flat carbon signal. The first tick
   moves every job to DEFERRED (10,000 writes); later ticks are the steady state. With the
   default ``planning.arrival_reserve`` each tick also plans with the last nine days' jobs
   (all 10,000 here: the first tick reads them, later ones only the newest, through
   ``service.history.RecentJobs``); the steady tick is timed also with the reserve off
   (``arrival_reserve`` 0, no history). The planner alone, ``store.list`` of the queue
   alone, and the full read of the nine days that every tick made before ``RecentJobs``
   are the baselines of the same run (the breakdown of a tick); so is reading what the
   open attempts hold with a ``store.get`` each, against the service's one listing.
2. **Dispatch overhead.** N jobs dispatched by one ``tick`` to a local Ray head against a
   plain loop of N ``JobSubmissionClient.submit_job`` calls on the same head (with the same
   arguments carbonshift sends: GPUs, metadata, runtime_env), alternating
   (baseline, service) ``--rounds`` times after a warm-up of each, waiting for the head to be
   idle before each run; medians compared, and the median of each round's tick over the
   plain loop just before it (the pair shares the machine's state of the moment). The
   service is one long-lived instance, as ``carbonshift serve`` runs it (the previous
   round's attempts are closed by untimed ticks), so it reads the cluster's capacity at most
   every ``--capacity-ttl`` s (default 30, as ``serve``; the rounds are further apart, so
   then every timed tick reads it: see the "timed ticks that read Ray capacity" line), not
   per tick. The JSON line lists every round's two times (``plain_rounds_s``,
   ``service_rounds_s``).
   Target: overhead under 10 % of the loop's time.

Run: ``.venv/bin/python benchmarks/service.py [--jobs 10000] [--dispatch 24] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from ray.job_submission import JobSubmissionClient

from forecasts.static import StaticProvider
from plugins.clusters.local_ray import LocalRayHead
from plugins.clusters.ray import RayCluster
from plugins.clusters.scripted import ScriptedCluster
from plugins.stores.database import open_database
from plugins.stores.sql import SqlJobStore
from scheduler.clock import FakeClock, SystemClock
from scheduler.model import ClusterCapacity, JobSpec, JobState, Region
from scheduler.planning.arrivals import HISTORY_S, RESERVE_SCALE
from scheduler.planning.carbonshift import CarbonshiftPolicy
from scheduler.protocols import Clock, Cluster, JobStore
from scheduler.service.loop import SchedulerService, ServiceConfig
from scheduler.service.planning import PlanningConfig, decide

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def make_service(
    store: JobStore,
    clusters: dict[str, Cluster],
    clock: Clock,
    capacity_ttl_s: float = 30.0,
    arrival_reserve: float = RESERVE_SCALE,
) -> SchedulerService:
    """The service with the default planner and a flat signal in zone DE."""
    return SchedulerService(
        store=store,
        clusters=clusters,
        regions=[Region(name=name, zone="DE", gpus=32) for name in clusters],
        forecasts=StaticProvider({"DE": 300.0}, clock=clock),
        policy=CarbonshiftPolicy(),
        clock=clock,
        config=ServiceConfig(
            planning=PlanningConfig(
                slot_s=900, horizon_s=48 * 3600, arrival_reserve=arrival_reserve
            ),
            capacity_ttl_s=capacity_ttl_s,
        ),
    )


def queued_spec(rng: random.Random, now: datetime) -> JobSpec:
    """A random queued job."""
    return JobSpec(
        name="bench",
        entrypoint=("true",),
        gpus=rng.choice((1, 1, 2, 4)),
        estimated_duration_s=rng.choice((900, 1800, 3600, 7200, 14400)),
        deadline=now + timedelta(hours=rng.uniform(4, 48)),
    )


def timed(action: object) -> float:
    """Seconds ``action()`` took."""
    start = time.perf_counter()
    action()  # type: ignore[operator]
    return time.perf_counter() - start


def bench_tick(jobs: int, folder: Path) -> dict[str, float]:
    """Tick times with ``jobs`` queued, and the planner / list baselines."""
    clock = FakeClock(NOW)
    store = SqlJobStore(open_database(f"sqlite:///{folder / 'tick.db'}"))
    rng, arrivals = random.Random(7), random.Random(8)
    for _ in range(jobs):  # a queue built up over the past week
        submitted = NOW - timedelta(seconds=arrivals.uniform(0, 7 * 86400))
        store.submit(queued_spec(rng, NOW), now=submitted)
    clusters: dict[str, Cluster] = {
        name: ScriptedCluster(region=name, clock=clock, total_gpus=32) for name in ("a", "b")
    }
    svc = make_service(store, clusters, clock)
    first = timed(svc.tick)
    steady = [timed(svc.tick) for _ in range(3)]
    # the same steady state without the arrival reserve: no tick reads the last nine days'
    # jobs (all of them here) to turn them into the reserve and the surge
    bare = make_service(store, clusters, clock, arrival_reserve=0.0)
    no_reserve = [timed(bare.tick) for _ in range(3)]
    waiting = store.list(states=[JobState.PENDING, JobState.DEFERRED])
    # what the running jobs hold: the service's one listing against a get per open attempt
    open_attempts = len(store.open_attempts())
    loads = statistics.median(timed(svc._running_loads) for _ in range(5))
    per_attempt = statistics.median(
        timed(lambda: [store.get(r.job_id) for r in store.open_attempts()]) for _ in range(5)
    )
    listing = timed(lambda: store.list(states=[JobState.PENDING, JobState.DEFERRED]))
    history = timed(lambda: store.list(submitted_after=NOW - timedelta(seconds=HISTORY_S)))
    capacity = {name: cluster.capacity() for name, cluster in clusters.items()}
    regions = [Region(name=name, zone="DE", gpus=32) for name in clusters]
    forecast = StaticProvider({"DE": 300.0}, clock=clock).forecast(
        "DE", NOW, NOW + timedelta(hours=48)
    )
    planner = timed(
        lambda: decide(
            jobs=waiting,
            regions=regions,
            forecasts={"DE": forecast},
            capacity=capacity,
            running=[],
            now=clock.now(),
            policy=CarbonshiftPolicy(),
            config=PlanningConfig(slot_s=900, horizon_s=48 * 3600),
            default_zone="DE",
        )
    )
    return {
        "first_tick_s": first,
        "steady_tick_s": statistics.median(steady),
        "steady_tick_no_reserve_s": statistics.median(no_reserve),
        "planner_s": planner,
        "list_s": listing,
        "history_list_s": history,
        "open_attempts": open_attempts,
        "running_loads_s": loads,
        "running_gets_s": per_attempt,
    }


def wait_idle(client: JobSubmissionClient, timeout_s: float = 300) -> None:
    """Wait until no job on the head is unfinished (I/O)."""
    give_up = time.monotonic() + timeout_s
    while any(not job.status.is_terminal() for job in client.list_jobs()):
        if time.monotonic() > give_up:
            raise SystemExit("the Ray head did not become idle")
        time.sleep(1)


def plain_loop(client: JobSubmissionClient, n: int) -> float:
    """N submit_job calls carrying what carbonshift sends (metadata, runtime_env, GPUs)."""
    stem = uuid.uuid4().hex[:8]

    def submit(i: int) -> str:
        job_id = f"plain-{stem}-{i}"
        return client.submit_job(
            entrypoint="true",
            submission_id=f"{job_id}-1",
            entrypoint_num_gpus=1,
            runtime_env={"env_vars": {"CARBONSHIFT_JOB_ID": job_id, "CARBONSHIFT_ATTEMPT": "1"}},
            metadata={"carbonshift_job_id": job_id, "carbonshift_attempt": "1", "team": "t"},
        )

    return timed(lambda: [submit(i) for i in range(n)])


class CountedRay(RayCluster):
    """``RayCluster`` counting capacity reads (to report how many timed ticks made one)."""

    reads = 0

    def capacity(self) -> ClusterCapacity:
        """Ray's capacity (nodes and job list), counted."""
        self.reads += 1
        return super().capacity()


class Dispatcher:
    """One long-lived service on the head, as ``carbonshift serve`` runs it: a SQLite store,
    one ``RayCluster``, capacity read from Ray at most every ``capacity_ttl_s``."""

    def __init__(self, head: LocalRayHead, folder: Path, capacity_ttl_s: float) -> None:
        self.clock = SystemClock()
        self.store = SqlJobStore(open_database(f"sqlite:///{folder / 'dispatch.db'}"))
        self.ray = CountedRay(region="local", address=head.address, token=head.token)
        self.service = make_service(self.store, {"local": self.ray}, self.clock, capacity_ttl_s)

    def settle(self) -> None:
        """Close the attempts of the previous round (their Ray jobs have finished); untimed."""
        for _ in range(10):
            if not self.store.open_attempts():
                return
            self.service.tick()
        raise SystemExit("the previous round's attempts did not close")

    def dispatch(self, n: int) -> float:
        """Seconds of one tick that dispatches N freshly queued jobs."""
        now = self.clock.now()
        spec = JobSpec(
            name="bench",
            entrypoint=("true",),
            gpus=1,
            estimated_duration_s=600,
            deadline=now + timedelta(hours=4),
        )
        for _ in range(n):
            self.store.submit(spec, now=now)
        started: list[str] = []
        seconds = timed(lambda: started.extend(self.service.tick().started))
        if len(started) != n:
            raise SystemExit(f"the tick dispatched {len(started)} of {n} jobs")
        return seconds


def bench_dispatch(n: int, rounds: int, folder: Path, capacity_ttl_s: float) -> dict[str, Any]:
    """Medians of the plain loop and of the service's tick, alternating (both warmed up)."""
    plain, ours = [], []
    with LocalRayHead(num_gpus=max(32, n)) as head:
        headers = {"Authorization": f"Bearer {head.token.get_secret_value()}"}
        client = JobSubmissionClient(head.address, headers=headers)
        dispatcher = Dispatcher(head, folder, capacity_ttl_s)
        plain_loop(client, n)  # warm-up: the head's first submissions are slower
        wait_idle(client)
        dispatcher.dispatch(n)  # warm-up: connects, reads the capacity
        reads_before = dispatcher.ray.reads
        for _ in range(rounds):
            wait_idle(client)
            plain.append(plain_loop(client, n))
            wait_idle(client)
            dispatcher.settle()
            ours.append(dispatcher.dispatch(n))
        wait_idle(client)
    return {
        "plain_loop_s": statistics.median(plain),
        "service_tick_s": statistics.median(ours),
        # each round's tick over the plain loop just before it: the pair shares the
        # machine's state of the moment, which the medians of the two columns do not
        "paired_overhead": statistics.median(o / p - 1.0 for o, p in zip(ours, plain, strict=True)),
        "capacity_reads": dispatcher.ray.reads - reads_before,
        "plain_rounds_s": plain,
        "service_rounds_s": ours,
    }


def main() -> None:
    """Run both benchmarks, print a table and one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--dispatch", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--capacity-ttl",
        type=float,
        default=30.0,
        help="service capacity_ttl_s; rounds are ~30 s apart, so 30 reads Ray every tick",
    )
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with tempfile.TemporaryDirectory(prefix="cs-bench-") as tmp:
        tick = bench_tick(args.jobs, Path(tmp))
        dispatch = bench_dispatch(args.dispatch, args.rounds, Path(tmp), args.capacity_ttl)
    overhead = dispatch["service_tick_s"] / dispatch["plain_loop_s"] - 1.0
    print(f"{'measure':<44} {'seconds':>9}")
    print(f"{f'first tick, {args.jobs} queued (all deferred)':<44} {tick['first_tick_s']:>9.3f}")
    print(f"{f'steady tick, {args.jobs} queued':<44} {tick['steady_tick_s']:>9.3f}")
    print(
        f"{'  the same without the arrival reserve':<44} {tick['steady_tick_no_reserve_s']:>9.3f}"
    )
    print(f"{'  of which planner (decide) alone':<44} {tick['planner_s']:>9.3f}")
    print(f"{'  of which store.list alone':<44} {tick['list_s']:>9.3f}")
    print(f"{'  store.list of the nine days (uncached)':<44} {tick['history_list_s']:>9.3f}")
    held = f"  running loads, {tick['open_attempts']:.0f} open attempts"
    print(f"{held:<44} {tick['running_loads_s']:>9.3f}")
    print(f"{'  the same with a store.get per attempt':<44} {tick['running_gets_s']:>9.3f}")
    print(f"{f'plain loop: {args.dispatch} submit_job calls':<44} {dispatch['plain_loop_s']:>9.3f}")
    print(
        f"{f'service: one tick dispatching {args.dispatch}':<44} {dispatch['service_tick_s']:>9.3f}"
    )
    print(f"{'dispatch overhead vs plain loop':<44} {overhead:>9.1%}")
    paired = "  median of the rounds' paired overheads"
    print(f"{paired:<44} {dispatch['paired_overhead']:>9.1%}")
    reads = f"{dispatch['capacity_reads']:.0f} of {args.rounds}"
    print(f"{'timed ticks that read Ray capacity':<44} {reads:>9}")
    result = {
        "benchmark": "service",
        "jobs": args.jobs,
        "dispatch": args.dispatch,
        "capacity_ttl_s": args.capacity_ttl,
        **tick,
        **dispatch,
    }
    print(json.dumps({**result, "dispatch_overhead": overhead}))


if __name__ == "__main__":
    main()
