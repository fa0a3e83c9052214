"""``SchedulerService.tick(now)``: follow attempts, plan, dispatch. Safe to crash anywhere.

The dispatch protocol makes dispatch at-least-once with no duplicate runs:

1. one transaction moves the job to DISPATCHED and records a *dispatch intent* (an attempt
   row with ``submitted=False``, its submission id ``f"{job_id}-{attempt}"``);
2. ``Cluster.submit`` (idempotent: the cluster refuses a second job with the same id);
3. the attempt is marked submitted.

After a crash between 1 and 3, the next tick finds the open intent, asks the cluster for its
submission id and submits the same attempt only if the cluster never saw it. Every job write
is a compare-and-set on the state read, so the API may cancel a job at any moment.

Faults never escape ``tick``: a store fault (database restarting) ends the tick early and
the next tick resumes from what is durable; a cluster fault skips that cluster's work.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog

from scheduler.budgets import BudgetVerdict
from scheduler.errors import (
    ClusterError,
    ClusterUnavailable,
    ConcurrentUpdateError,
    ForecastError,
    StoreError,
)
from scheduler.model import (
    AttemptRecord,
    AttemptState,
    AttemptStatus,
    ClusterCapacity,
    Decision,
    Forecast,
    Job,
    JobState,
    Region,
    Reject,
    Start,
    Wait,
)
from scheduler.planning.arrivals import HISTORY_S
from scheduler.protocols import Clock, Cluster, ForecastProvider, JobStore
from scheduler.service.budgets import BudgetSource
from scheduler.service.history import RecentJobs
from scheduler.service.planning import PlanningConfig, RunningLoad, decide, grid_start

#: How long a stopped attempt that the cluster still lists as PENDING is watched.
STOP_CONFIRM_LIMIT_S = 24 * 3600
#: Called with the job (after its transition) and the attempt that just ended.
FinishedHook = Callable[[Job, AttemptRecord], None]
#: Called with every decision of every tick (the API's ``RecordedDecisions.record``).
DecisionHook = Callable[[Decision], None]
Log = Any  # a bound structlog logger

_S = JobState
_A = AttemptState


@dataclass(frozen=True, kw_only=True)
class ServiceConfig:
    """How the service behaves (from ``service`` and ``planner`` settings)."""

    planning: PlanningConfig = field(default_factory=PlanningConfig)
    pending_timeout_s: float = 600.0
    max_attempts: int = 5
    default_zone: str = "DE"
    #: seconds a cluster's reported capacity is reused; in between, free GPUs are the cached
    #: total minus the GPUs of the region's open attempts in the store (no cluster call)
    capacity_ttl_s: float = 30.0


@dataclass(kw_only=True)
class TickReport:
    """What one tick did, for logs, metrics and tests."""

    started: list[str] = field(default_factory=list)
    deferred: int = 0
    rejected: list[str] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)
    resubmitted: list[str] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    #: the earliest time a waiting job is planned to start (when ticking again matters)
    next_start: datetime | None = None


class SchedulerService:
    """The control loop over one job store and one cluster per region."""

    def __init__(
        self,
        *,
        store: JobStore,
        clusters: Mapping[str, Cluster],
        regions: Sequence[Region],
        forecasts: ForecastProvider,
        policy: Any,
        clock: Clock,
        config: ServiceConfig,
        on_finished: Sequence[FinishedHook] = (),
        on_decision: Sequence[DecisionHook] = (),
        budgets: BudgetSource | None = None,
    ) -> None:
        self.store = store
        self.clusters = dict(clusters)
        self.regions = tuple(regions)
        self.clock = clock
        self._forecasts = forecasts
        self._policy = policy
        self._config = config
        self._hooks = list(on_finished)
        self._decision_hooks = list(on_decision)
        self._budgets = budgets
        self._log = structlog.get_logger("carbonshift.service")
        #: region → (when read, what the cluster reported); see ``_capacities``
        self._capacity: dict[str, tuple[datetime, ClusterCapacity]] = {}
        #: the last nine days' submissions, read incrementally (the planner's arrival history)
        self._recent = RecentJobs(store, span=timedelta(seconds=HISTORY_S))

    def add_finished_hook(self, hook: FinishedHook) -> None:
        """Call ``hook`` for every attempt that ends from now on (accounting, metrics)."""
        self._hooks.append(hook)

    def add_decision_hook(self, hook: DecisionHook) -> None:
        """Call ``hook`` with every decision the service makes from now on (the API shows it)."""
        self._decision_hooks.append(hook)

    def tick(self, now: datetime | None = None) -> TickReport:
        """Recover and poll attempts, plan waiting jobs, dispatch those that start now."""
        now = self.clock.now() if now is None else now
        report = TickReport()
        try:
            for record in self.store.open_attempts():
                self._follow_safely(record, now, report)
            self._plan(now, report)
        except StoreError as exc:
            report.faults.append(f"store: {exc}")
            self._log.warning("tick ended early: job store fault", error=str(exc))
        return report

    # ---------------------------------------------------------------- following attempts

    def _follow_safely(self, record: AttemptRecord, now: datetime, report: TickReport) -> None:
        log = self._log.bind(job_id=record.job_id, attempt=record.attempt, region=record.region)
        try:
            self._follow(record, now, report, log)
        except ClusterUnavailable as exc:
            self._capacity.pop(record.region, None)  # ask the cluster again before planning
            report.faults.append(f"{record.region}: {exc}")
            log.warning("cluster unavailable; will retry", error=str(exc))
        except ConcurrentUpdateError as exc:
            log.info("job moved meanwhile; will look again next tick", error=str(exc))

    def _follow(self, record: AttemptRecord, now: datetime, report: TickReport, log: Log) -> None:
        job = self.store.get(record.job_id)
        cluster = self.clusters.get(record.region)
        if cluster is None:
            message = "its region is no longer configured; planned again"
            to = _S.PENDING if job.state in (_S.DISPATCHED, _S.RUNNING) else None
            self._end(job, record, at=now, state=_A.FAILED, message=message, log=log, to=to)
            return
        if record.state == _A.STOPPED:
            self._confirm_stop(job, record, cluster, now=now, report=report, log=log)
            return
        if not record.submitted:
            record = self._confirm(job, record, cluster, now=now, report=report, log=log)
        if job.state == _S.CANCELLED:
            if record.submitted:
                self._request_stop(job, record, cluster, now=now, message="job cancelled", log=log)
            else:
                message = "job cancelled before it reached the cluster"
                self._end(job, record, at=now, state=_A.STOPPED, message=message, log=log)
                report.ended.append(record.submission_id)
            return
        status = cluster.status(record.submission_id)
        if status is None:
            status = AttemptStatus(
                submission_id=record.submission_id,
                state=_A.FAILED,
                message="the cluster no longer knows this attempt (restarted?)",
                infrastructure_failure=True,
            )
        self._apply(job, record, status, cluster, now=now, report=report, log=log)

    def _confirm(
        self,
        job: Job,
        record: AttemptRecord,
        cluster: Cluster,
        *,
        now: datetime,
        report: TickReport,
        log: Log,
    ) -> AttemptRecord:
        """An intent left by a crash: submit it only if the cluster never saw it."""
        if cluster.status(record.submission_id) is None:
            if job.state != _S.DISPATCHED:
                return record  # cancelled meanwhile: nothing to submit, nothing to stop
            cluster.submit(job, record.attempt)
            report.resubmitted.append(record.submission_id)
            log.info("dispatch intent recovered: submitted", submission_id=record.submission_id)
        else:
            log.info("dispatch intent recovered: already on the cluster")
        confirmed = record.model_copy(update={"submitted": True, "submitted_at": now})
        return self.store.update_attempt(confirmed)

    def _apply(
        self,
        job: Job,
        record: AttemptRecord,
        status: AttemptStatus,
        cluster: Cluster,
        *,
        now: datetime,
        report: TickReport,
        log: Log,
    ) -> None:
        """Move the job and its attempt to what the cluster reports."""
        if status.state == _A.PENDING:
            waited_s = (now - (record.submitted_at or record.intent_at)).total_seconds()
            if waited_s > self._config.pending_timeout_s:
                message = f"PENDING on the cluster for {waited_s:.0f} s; stopped to re-plan"
                self._request_stop(
                    job, record, cluster, now=now, message=message, log=log, to=_S.PENDING
                )
            return
        if status.state == _A.RUNNING:
            if job.state == _S.DISPATCHED:
                started = _clamp(status.started_at, record.intent_at, now)
                running = record.model_copy(update={"state": _A.RUNNING, "started_at": started})
                self.store.transition(
                    job.id, job.state, job.transition(_S.RUNNING, at=now), attempt=running
                )
                log.info("attempt running")
            return
        self._finish(job, record, status, now, log)
        report.ended.append(record.submission_id)

    def _request_stop(
        self,
        job: Job,
        record: AttemptRecord,
        cluster: Cluster,
        *,
        now: datetime,
        message: str,
        log: Log,
        to: JobState | None = None,
    ) -> None:
        """Stop the attempt; it stays open (state STOPPED) until the cluster confirms.

        Ray 2.60 cannot stop a job whose supervisor was never placed: it stays PENDING and
        would start once GPUs free up. Keeping the attempt open lets later ticks stop it
        again if it ever starts, and close it once the cluster reports it final.
        """
        cluster.stop(record.submission_id)
        stopping = record.model_copy(update={"state": _A.STOPPED, "message": message})
        if to is None or to == job.state:
            self.store.update_attempt(stopping)
        else:
            self.store.transition(job.id, job.state, job.transition(to, at=now), attempt=stopping)
        log.info("attempt stop requested", reason=message)

    def _confirm_stop(
        self,
        job: Job,
        record: AttemptRecord,
        cluster: Cluster,
        *,
        now: datetime,
        report: TickReport,
        log: Log,
    ) -> None:
        """Close a stopped attempt once the cluster says it is final; stop it again if it ran."""
        status = cluster.status(record.submission_id)
        given_up = (now - record.intent_at).total_seconds() > STOP_CONFIRM_LIMIT_S
        if status is not None and status.state == _A.RUNNING:
            cluster.stop(record.submission_id)
            log.error("a stopped attempt started anyway; stopped it again")
            return
        if status is not None and status.state == _A.PENDING and not given_up:
            return
        final = _A.STOPPED if status is None or status.state == _A.PENDING else status.state
        if final == _A.SUCCEEDED:
            log.error("a stopped attempt ran to the end anyway")
        self._end(job, record, at=now, state=final, message=record.message, log=log)
        report.ended.append(record.submission_id)

    def _finish(
        self, job: Job, record: AttemptRecord, status: AttemptStatus, now: datetime, log: Log
    ) -> None:
        if status.energy_capped:  # power follow-up (issue 7): the runner stopped it at its cap
            target = _S.CAPPED
        elif status.state == _A.SUCCEEDED:
            target = _S.SUCCEEDED
        elif status.state == _A.STOPPED:
            target = _S.CANCELLED  # we close our own stops at once, so this came from outside
        elif status.infrastructure_failure and job.attempt < self._config.max_attempts:
            target = _S.PENDING  # the cluster failed, not the job: a new attempt follows
        else:
            target = _S.FAILED
        started = record.started_at or (
            _clamp(status.started_at, record.intent_at, now) if status.started_at else None
        )
        record = record.model_copy(update={"started_at": started})
        self._end(
            job,
            record,
            at=_clamp(status.ended_at, started or record.intent_at, now),
            state=status.state,
            message=status.message,
            log=log,
            to=target,
        )

    def _end(
        self,
        job: Job,
        record: AttemptRecord,
        *,
        at: datetime,
        state: AttemptState,
        message: str,
        log: Log,
        to: JobState | None = None,
    ) -> None:
        """Close the attempt and move the job to ``to`` (default: keep it) together."""
        ended = record.model_copy(update={"state": state, "ended_at": at, "message": message})
        if to is None or to == job.state:
            self.store.update_attempt(ended)
            after = job
        else:
            after = self.store.transition(
                job.id, job.state, job.transition(to, at=max(at, job.updated_at)), attempt=ended
            )
        log.info("attempt ended", state=str(state), job_state=str(after.state), message=message)
        for hook in self._hooks:
            try:
                hook(after, ended)
            except Exception:  # a faulty hook must never stop scheduling
                log.exception("finished-attempt hook failed", hook=repr(hook))

    # ---------------------------------------------------------------- planning, dispatch

    def _plan(self, now: datetime, report: TickReport) -> None:
        waiting = self.store.list(states=[_S.PENDING, _S.DEFERRED])
        if not waiting:
            return
        planning = self._config.planning
        history: Sequence[Job] = ()
        if planning.plan_settings().uses_history:  # last week's jobs, and the surge's window
            history = self._recent.read(now)
        decisions = decide(
            jobs=waiting,
            regions=self.regions,
            forecasts=self._fetch_forecasts(now),
            capacity=self._capacities(now, report),
            running=self._running_loads(),
            now=now,
            policy=self._policy,
            config=planning,
            default_zone=self._config.default_zone,
            budgets=self._verdicts(waiting, now),
            history=history,
        )
        self._publish(decisions)
        by_id = {job.id: job for job in waiting}
        self._settle(by_id, decisions, now, report)
        starts = [(by_id[d.job_id], d) for d in decisions if isinstance(d, Start)]
        if starts:
            self._dispatch(starts, now, report)

    def _verdicts(self, waiting: Sequence[Job], now: datetime) -> Mapping[str, BudgetVerdict]:
        """Budget verdicts of the waiting jobs' teams, read once per tick (none: no budgets)."""
        if self._budgets is None:
            return {}
        return self._budgets.verdicts({job.spec.team for job in waiting}, now)

    def _publish(self, decisions: Sequence[Decision]) -> None:
        for hook in self._decision_hooks:
            try:
                for decision in decisions:
                    hook(decision)
            except Exception:  # publishing must never stop scheduling
                self._log.exception("decision hook failed", hook=repr(hook))

    def _settle(
        self,
        jobs: Mapping[str, Job],
        decisions: Sequence[Decision],
        now: datetime,
        report: TickReport,
    ) -> None:
        """Defer and expire in one transaction (a long queue is one write, not thousands)."""
        changes: list[tuple[JobState, Job]] = []
        for decision in decisions:
            job = jobs[decision.job_id]
            if isinstance(decision, Wait):
                report.deferred += 1
                if report.next_start is None or decision.until < report.next_start:
                    report.next_start = decision.until
                if job.state == _S.PENDING:
                    changes.append((job.state, job.transition(_S.DEFERRED, at=now)))
            elif isinstance(decision, Reject):
                changes.append((job.state, job.transition(_S.EXPIRED, at=now)))
                report.rejected.append(job.id)
                self._log.info("job rejected", job_id=job.id, reason=decision.explanation)
        if changes:
            self.store.transition_many(changes)

    def _dispatch(
        self, starts: Sequence[tuple[Job, Start]], now: datetime, report: TickReport
    ) -> None:
        """Record every intent (one transaction), submit each, then confirm them (one more).

        A crash anywhere in between leaves intents that the next tick looks up on their
        cluster by submission id, so batching the writes loses nothing.
        """
        intents: dict[str, AttemptRecord] = {}
        changes: list[tuple[JobState, Job]] = []
        for job, decision in starts:
            attempt = job.attempt + 1
            intents[job.id] = AttemptRecord(
                job_id=job.id,
                attempt=attempt,
                region=decision.region,
                submission_id=f"{job.id}-{attempt}",
                intent_at=now,
                power_cap_w=decision.power_cap_w,
                explanation=decision.explanation,
            )
            changes.append((job.state, job.transition(_S.DISPATCHED, at=now, attempt=attempt)))
        lost = set(self.store.transition_many(changes, attempts=intents))
        confirmed = []
        for (_, decision), (_, dispatched) in zip(starts, changes, strict=True):
            if dispatched.id in lost:
                self._log.info("job moved meanwhile; not dispatched", job_id=dispatched.id)
                continue
            intent = intents[dispatched.id]
            if self._submit(dispatched, intent, decision, now, report):
                confirmed.append(intent.model_copy(update={"submitted": True, "submitted_at": now}))
        if confirmed:
            self.store.update_attempts(confirmed)

    def _submit(
        self, job: Job, intent: AttemptRecord, decision: Start, now: datetime, report: TickReport
    ) -> bool:
        """Submit one recorded intent; True once the cluster has it."""
        log = self._log.bind(job_id=job.id, attempt=intent.attempt, region=decision.region)
        try:
            self.clusters[decision.region].submit(job, intent.attempt)
        except ClusterUnavailable as exc:
            self._capacity.pop(decision.region, None)
            log.warning("cluster unavailable at dispatch; the intent is retried", error=str(exc))
            report.faults.append(f"{decision.region}: {exc}")
            return False
        except ClusterError as exc:
            message = f"cluster refused: {exc}"
            self._end(job, intent, at=now, state=_A.FAILED, message=message, log=log, to=_S.FAILED)
            return False
        report.started.append(intent.submission_id)
        log.info("dispatched", explanation=decision.explanation)
        return True

    def _capacities(self, now: datetime, report: TickReport) -> dict[str, ClusterCapacity]:
        """Each reachable region's capacity, asking its cluster at most every ``capacity_ttl_s``.

        Asking (Ray: its nodes and its job list) costs more than a whole dispatch, so between
        reads the cached total is reported as free: ``capacity_grid`` subtracts the GPUs of
        the region's open attempts in the store, which is what the cluster would count too.
        A cluster fault in this tick forgets the cached figure (it is asked again).
        """
        capacities = {}
        for region in self.regions:
            cached = self._capacity.get(region.name)
            if (
                cached is not None
                and (now - cached[0]).total_seconds() < self._config.capacity_ttl_s
            ):
                total = cached[1].total_gpus
                capacities[region.name] = ClusterCapacity(total_gpus=total, free_gpus=total)
                continue
            try:
                capacity = self.clusters[region.name].capacity()
            except ClusterUnavailable as exc:
                self._capacity.pop(region.name, None)
                report.faults.append(f"{region.name}: {exc}")
                self._log.warning(
                    "cluster unavailable; planning without it", region=region.name, error=str(exc)
                )
                continue
            self._capacity[region.name] = (now, capacity)
            capacities[region.name] = capacity
        return capacities

    def _running_loads(self) -> list[RunningLoad]:
        """The GPUs each open attempt holds, and until when (its estimated end).

        The jobs come from one listing of the dispatched and running ones, not a
        ``store.get`` per attempt; a job in another state (one cancelled meanwhile) is read
        alone.
        """
        # a stopped attempt holds no GPUs (or will not for long)
        records = [r for r in self.store.open_attempts() if r.state != _A.STOPPED]
        if not records:
            return []
        running = self.store.list(states=[_S.DISPATCHED, _S.RUNNING])
        specs = {job.id: job.spec for job in running}
        loads = []
        for record in records:
            if record.job_id not in specs:
                specs[record.job_id] = self.store.get(record.job_id).spec
            spec = specs[record.job_id]
            since = record.started_at or record.submitted_at or record.intent_at
            until = since + timedelta(seconds=spec.estimated_duration_s)
            loads.append(RunningLoad(region=record.region, gpus=spec.gpus, until=until))
        return loads

    def _fetch_forecasts(self, now: datetime) -> dict[str, Forecast | None]:
        start = grid_start(now, self._config.planning.slot_s)
        end = start + timedelta(seconds=self._config.planning.horizon_s)
        found: dict[str, Forecast | None] = {}
        for zone in sorted({region.zone for region in self.regions}):
            try:
                found[zone] = self._forecasts.forecast(zone, start, end)
            except ForecastError as exc:
                found[zone] = None
                self._log.warning(
                    "no forecast; that zone's jobs run deadline-safe", zone=zone, error=str(exc)
                )
        return found


def _clamp(when: datetime | None, earliest: datetime, latest: datetime) -> datetime:
    """A cluster's timestamp kept within what the service saw (``latest`` when absent).

    Cluster clocks may disagree with the service's (a skewed node, or the accelerated clock
    of the demo and the tests); an attempt never starts before its intent nor ends after
    the tick that saw it end.
    """
    if when is None:
        return latest
    return min(max(when, earliest), latest)
