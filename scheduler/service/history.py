"""The jobs submitted in the last nine days, read from the store a little at a time.

With the arrival reserve on (the default), every tick plans with the jobs submitted in the
last ``arrivals.HISTORY_S`` (last week's, and the surge's window a week before). Reading
all of them each tick costs a ``store.list`` of thousands of rows. ``RecentJobs`` reads them
once and then, each tick, only what was submitted since the newest job it has seen.

Only a job's submission fields matter to the planner's history (submission time, earliest
start, deadline, estimated duration, GPUs, regions, interruptibility), and those never change
after submission (caps may change; the history does not read them), so a job once read is
never read again. The memory this takes is what every tick used to load anyway: nine days
of jobs (28 MB per 10,000 jobs of ``benchmarks/service.py``, by ``tracemalloc``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from scheduler.model import Job
from scheduler.protocols import JobStore

#: each read goes back this far before the newest submission seen, so a job whose
#: transaction committed after a later-stamped one was read is still picked up
OVERLAP = timedelta(minutes=10)


class RecentJobs:
    """Jobs submitted after ``now − span``, kept in memory and topped up at each read."""

    def __init__(self, store: JobStore, *, span: timedelta, overlap: timedelta = OVERLAP) -> None:
        if span <= timedelta(0) or overlap < timedelta(0):
            raise ValueError(
                f"span {span} must be positive and overlap {overlap} at least 0; "
                "use arrivals.HISTORY_S seconds and a few minutes"
            )
        self._store = store
        self._span = span
        self._overlap = overlap
        self._jobs: dict[str, Job] = {}
        self._newest: datetime | None = None
        self._last: datetime | None = None

    def read(self, now: datetime) -> list[Job]:
        """The jobs submitted after ``now − span``, oldest first, as ``store.list`` gives
        them; reads only the submissions since the last read (less the overlap), or all of
        them again when ``now`` is before the last read's."""
        if self._last is not None and now < self._last:  # a clock set back: start afresh
            self._jobs, self._newest = {}, None
        self._last = now
        since = now - self._span
        after = since if self._newest is None else max(since, self._newest - self._overlap)
        for job in self._store.list(submitted_after=after):
            self._jobs[job.id] = job
            if self._newest is None or job.submitted_at > self._newest:
                self._newest = job.submitted_at
        self._jobs = {key: job for key, job in self._jobs.items() if job.submitted_at > since}
        return sorted(self._jobs.values(), key=lambda job: job.submitted_at)


__all__ = ["OVERLAP", "RecentJobs"]
