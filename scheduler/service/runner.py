"""Running the service: the scheduler lock, APScheduler, and draining on SIGTERM.

``ServiceRunner.run()`` takes the database's scheduler lock (a second instance refuses with
``SchedulerLockedError``), runs ``tick`` every ``tick_seconds`` on an APScheduler
``BackgroundScheduler`` beside any extra jobs (forecast refreshes), and on SIGTERM or SIGINT
lets the tick in progress finish, stops scheduling and releases the lock. Ray jobs already
dispatched keep running; the next scheduler picks them up from the store.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, timedelta
from types import FrameType
from typing import Any

import structlog
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from scheduler.errors import SchedulerLockedError, StoreError
from scheduler.protocols import SchedulerLock
from scheduler.service.loop import SchedulerService

#: Adds jobs (forecast refreshes) to the scheduler before it starts.
ExtraJobs = Callable[[BackgroundScheduler], Any]


class ServiceRunner:
    """Owns the lock and the APScheduler of one running service."""

    def __init__(
        self,
        *,
        service: SchedulerService,
        lock: SchedulerLock,
        tick_seconds: float,
        extra_jobs: Sequence[ExtraJobs] = (),
    ) -> None:
        self._service = service
        self._lock = lock
        self._tick_seconds = tick_seconds
        self._extra_jobs = list(extra_jobs)
        self._scheduler: BackgroundScheduler | None = None
        self._stop = threading.Event()
        self.lost_lock: SchedulerLockedError | None = None
        self._log = structlog.get_logger("carbonshift.runner")

    def start(self) -> None:
        """Hold the lock (taking it if needed), then tick at once and every ``tick_seconds``.

        Raises:
            SchedulerLockedError: another scheduler holds this database.
        """
        self._lock.check()
        scheduler = BackgroundScheduler(timezone=UTC)
        scheduler.add_job(
            self._tick,
            IntervalTrigger(seconds=self._tick_seconds),
            id="tick",
            name="carbonshift tick",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(self._tick_seconds)),
            next_run_time=self._service.clock.now() + timedelta(milliseconds=10),
        )
        for add in self._extra_jobs:
            add(scheduler)
        scheduler.start()
        self._scheduler = scheduler
        self._log.info("scheduler started", lock=self._lock.where, tick_seconds=self._tick_seconds)

    def scheduled(self) -> list[str]:
        """Names of the jobs the running APScheduler holds (the tick, forecast refreshes)."""
        scheduler = self._scheduler
        return [] if scheduler is None else [job.name for job in scheduler.get_jobs()]

    def _tick(self) -> None:
        try:
            self._lock.check()
        except SchedulerLockedError as exc:
            self.lost_lock = exc
            self._log.error("scheduler lock lost; stopping", error=str(exc))
            self._stop.set()
            return
        except StoreError as exc:
            self._log.warning("database unreachable; tick skipped", error=str(exc))
            return
        report = self._service.tick()
        if report.started or report.ended or report.rejected or report.faults:
            self._log.info(
                "tick",
                started=len(report.started),
                ended=len(report.ended),
                rejected=len(report.rejected),
                deferred=report.deferred,
                faults=report.faults[:3],
            )

    def stop(self) -> None:
        """Let a running tick finish, stop scheduling, release the lock."""
        self._stop.set()
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            scheduler.shutdown(wait=True)
        self._lock.release()
        self._log.info("scheduler stopped")

    def request_stop(self, signum: int = signal.SIGTERM, _frame: FrameType | None = None) -> None:
        """Signal handler: ask ``run`` to drain and return."""
        self._log.info("stop requested", signal=signal.Signals(signum).name)
        self._stop.set()

    def run(self) -> None:
        """Start, serve until SIGTERM/SIGINT (or ``request_stop``), then drain and stop."""
        previous = {
            sig: signal.signal(sig, self.request_stop) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            self.start()
            self._stop.wait()
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
