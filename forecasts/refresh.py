"""Refresh scheduling: one APScheduler 3.x interval job per zone, staggered.

The service calls ``schedule_refreshes`` with its scheduler. Each zone's job refreshes that
zone's cache entry every ``interval``; jobs coalesce missed runs into one, never overlap
(``max_instances=1``) and run late by at most ``misfire_grace`` before a run is skipped.

A restart does not re-fetch everything at once: a zone whose cached forecast is still recent
first runs when its interval since that fetch is over; zones without one (or with an older
one) start spread by ``stagger`` (at most the interval divided among them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from apscheduler.job import Job
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.interval import IntervalTrigger

from scheduler.protocols import Clock, ForecastCache

JOB_ID_PREFIX = "forecast-refresh:"


def job_id(zone: str) -> str:
    """The scheduler job id of ``zone``'s refresh."""
    return JOB_ID_PREFIX + zone


def first_runs(
    zones: Sequence[str],
    *,
    now: datetime,
    fetched_at: dict[str, datetime],
    interval: timedelta,
    stagger: timedelta,
) -> dict[str, datetime]:
    """When each zone's refresh runs first (see the module docstring)."""
    due = [zone for zone in zones if zone not in fetched_at or fetched_at[zone] + interval <= now]
    gap = min(stagger, interval / max(1, len(due)))
    runs = {zone: now + gap * i for i, zone in enumerate(due)}
    for zone in zones:
        if zone not in runs:
            runs[zone] = fetched_at[zone] + interval
    return runs


def schedule_refreshes(
    scheduler: BaseScheduler,
    refresh: Callable[[str], Any],
    zones: Sequence[str],
    *,
    clock: Clock,
    cache: ForecastCache,
    interval: timedelta,
    misfire_grace: timedelta,
    stagger: timedelta = timedelta(seconds=30),
) -> list[Job]:
    """Add (or replace) one refresh job per zone on ``scheduler``; return the jobs."""
    if interval <= timedelta(0) or misfire_grace <= timedelta(0):
        raise ValueError(
            f"interval ({interval}) and misfire_grace ({misfire_grace}) must be positive"
        )
    runs = first_runs(
        zones,
        now=clock.now(),
        fetched_at=cache.fetched_at(),
        interval=interval,
        stagger=stagger,
    )
    jobs = []
    for zone in zones:
        trigger = IntervalTrigger(seconds=interval.total_seconds(), start_date=runs[zone])
        jobs.append(
            scheduler.add_job(
                refresh,
                trigger=trigger,
                args=[zone],
                id=job_id(zone),
                name=f"refresh carbon forecast of {zone}",
                coalesce=True,
                max_instances=1,
                misfire_grace_time=int(misfire_grace.total_seconds()),
                next_run_time=runs[zone],
                replace_existing=True,
            )
        )
    return jobs
