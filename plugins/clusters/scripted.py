"""``ScriptedCluster``: the shipped fake cluster, a real ``Cluster`` that runs nothing.

Attempts move through Ray's states on the injected clock: PENDING for ``pending_s``, RUNNING
for ``run_s``, then ``outcome``. A job asking for more GPUs than the cluster has stays
PENDING forever, as on Ray. Tests script the rest: per-job durations and outcomes
(``script``), an unreachable cluster (``reachable = False``), a refused submission
(``refuse``), a supervisor that dies (``script(..., infrastructure_failure=True)``), or
Ray 2.60's lost stop of a PENDING job (``script(..., ignores_stop_while_pending=True)``).

Configure it as ``cluster: {kind: scripted, total_gpus: 8, run_s: 60}`` to exercise the
service and the simulator without Ray.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from scheduler.errors import ClusterError, ClusterUnavailable
from scheduler.model import AttemptState, AttemptStatus, ClusterCapacity, Job
from scheduler.protocols import Clock


@dataclass(frozen=True, kw_only=True)
class Script:
    """How the attempts of one job behave."""

    pending_s: float = 0.0
    run_s: float = 60.0
    outcome: AttemptState = AttemptState.SUCCEEDED
    exit_code: int | None = None
    infrastructure_failure: bool = False
    #: like Ray 2.60: a stop sent while the attempt is PENDING is lost (it starts later)
    ignores_stop_while_pending: bool = False
    #: what the per-job power runner would report: the job was stopped at its energy cap,
    #: and output lines (its ``CARBONSHIFT_ENERGY`` report) appended to the logs once it ended
    energy_capped: bool = False
    output: str = ""


@dataclass(frozen=True, kw_only=True)
class _Submission:
    job_id: str
    gpus: int
    at: datetime
    script: Script
    stopped_at: datetime | None = None


class ScriptedCluster:
    """A scripted stand-in for one region's cluster; thread-safe."""

    def __init__(
        self,
        *,
        region: str,
        clock: Clock,
        total_gpus: int = 8,
        default: Script | None = None,
    ) -> None:
        self.region = region
        self.reachable = True
        self._clock = clock
        self._total_gpus = total_gpus
        self._default = default or Script()
        self._scripts: dict[str, Script] = {}
        self._refused: dict[str, str] = {}
        self._submissions: dict[str, _Submission] = {}
        self._lock = threading.Lock()

    def script(self, job_id: str, **behaviour: object) -> None:
        """Give ``job_id``'s future attempts their own behaviour (fields of ``Script``)."""
        self._scripts[job_id] = replace(self._default, **behaviour)  # type: ignore[arg-type]

    def refuse(self, job_id: str, reason: str) -> None:
        """Make submissions of ``job_id`` fail with ``ClusterError(reason)``."""
        self._refused[job_id] = reason

    @property
    def submission_ids(self) -> list[str]:
        """Every submission id ever accepted, in order."""
        with self._lock:
            return list(self._submissions)

    def _check_reachable(self) -> None:
        if not self.reachable:
            raise ClusterUnavailable(
                f"scripted cluster of region {self.region} is unreachable (scripted outage)"
            )

    def capacity(self) -> ClusterCapacity:
        """All GPUs, minus those held by running attempts (a PENDING one holds none yet)."""
        self._check_reachable()
        with self._lock:
            held = sum(
                sub.gpus
                for sid, sub in self._submissions.items()
                if self._state(sid).state == AttemptState.RUNNING
            )
        free = max(0, self._total_gpus - held)
        return ClusterCapacity(total_gpus=self._total_gpus, free_gpus=free)

    def submit(self, job: Job, attempt: int) -> str:
        """Accept the attempt (once: a known submission id starts nothing new)."""
        self._check_reachable()
        if job.id in self._refused:
            reason = self._refused[job.id]
            raise ClusterError(f"scripted cluster {self.region} refused {job.id}: {reason}")
        submission_id = f"{job.id}-{attempt}"
        with self._lock:
            if submission_id not in self._submissions:
                script = self._scripts.get(job.id, self._default)
                self._submissions[submission_id] = _Submission(
                    job_id=job.id, gpus=job.spec.gpus, at=self._clock.now(), script=script
                )
        return submission_id

    def _state(self, submission_id: str) -> AttemptStatus:
        sub = self._submissions[submission_id]
        now = self._clock.now()
        script = sub.script
        started = sub.at + timedelta(seconds=script.pending_s)
        ended = started + timedelta(seconds=script.run_s)
        if sub.gpus > self._total_gpus:
            started = ended = datetime.max.replace(tzinfo=now.tzinfo)
        if sub.stopped_at is not None and sub.stopped_at < ended:
            state = AttemptState.STOPPED
            return AttemptStatus(
                submission_id=submission_id,
                state=state,
                started_at=started if started <= sub.stopped_at else None,
                ended_at=sub.stopped_at,
            )
        if now < started:
            return AttemptStatus(submission_id=submission_id, state=AttemptState.PENDING)
        if now < ended:
            return AttemptStatus(
                submission_id=submission_id, state=AttemptState.RUNNING, started_at=started
            )
        return AttemptStatus(
            submission_id=submission_id,
            state=script.outcome,
            started_at=started,
            ended_at=ended,
            exit_code=script.exit_code,
            infrastructure_failure=script.infrastructure_failure,
            energy_capped=script.energy_capped,
        )

    def status(self, submission_id: str) -> AttemptStatus | None:
        """The scripted state now, or None for an unknown submission id."""
        self._check_reachable()
        with self._lock:
            if submission_id not in self._submissions:
                return None
            return self._state(submission_id)

    def stop(self, submission_id: str) -> None:
        """Stop an unfinished attempt now; a finished one is left as it is."""
        self._check_reachable()
        with self._lock:
            sub = self._submissions.get(submission_id)
            if sub is None or sub.stopped_at is not None:
                return
            pending = self._state(submission_id).state == AttemptState.PENDING
            if pending and sub.script.ignores_stop_while_pending:
                return
            self._submissions[submission_id] = replace(sub, stopped_at=self._clock.now())

    def logs(self, submission_id: str) -> str:
        """A one-line account of the attempt."""
        status = self.status(submission_id)
        if status is None:
            return ""
        with self._lock:
            output = self._submissions[submission_id].script.output if status.ended_at else ""
        return f"{submission_id}: {status.state}\n{output}"
