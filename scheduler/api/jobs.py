"""What the job endpoints do, without HTTP: submit, read, list, cancel and re-cap jobs.

Tenant rule: a caller sees and changes only its own team's jobs (admins: every team); any
other id answers 404 exactly as an unknown id does, so ids of other teams leak nothing.
State changes are compare-and-set on the job's current state, retried on a lost race.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

from pydantic import ValidationError

from scheduler.api.auth import Principal
from scheduler.api.collaborators import DecisionSource, JobControl, LedgerIndex
from scheduler.api.errors import ApiError, validation_error
from scheduler.api.views import Caps, JobPage, JobView, job_view
from scheduler.errors import ConcurrentUpdateError, JobNotFoundError, StoreError
from scheduler.model import ApiRole, Job, JobSpec, JobState, Start
from scheduler.protocols import Clock, JobStore

#: A job whose caps may still change: not yet finished.
CAPPABLE = frozenset({JobState.PENDING, JobState.DEFERRED, JobState.DISPATCHED, JobState.RUNNING})
RUNNING = frozenset({JobState.DISPATCHED, JobState.RUNNING})
_CAS_TRIES = 8
_SCAN_BATCH = 500


@dataclass(frozen=True, kw_only=True)
class JobFilter:
    """Filters of ``GET /v1/jobs``; None means any."""

    states: Sequence[JobState] = ()
    team: str | None = None
    project: str | None = None
    model_version: str | None = None

    def matches(self, job: Job) -> bool:
        """True when ``job`` passes the filters the store cannot apply itself."""
        return (self.project is None or job.spec.project == self.project) and (
            self.model_version is None or job.spec.model_version == self.model_version
        )


def _not_found(job_id: str) -> ApiError:
    return ApiError(
        404, "not_found", f"no job with id {job_id!r}; `carbonshift list` shows your jobs"
    )


class JobOperations:
    """The job use cases behind the HTTP routes."""

    def __init__(
        self,
        *,
        store: JobStore,
        clock: Clock,
        decisions: DecisionSource,
        control: JobControl | None,
        ledger: LedgerIndex,
        known_zones: Callable[[], frozenset[str]],
    ) -> None:
        self._store = store
        self._clock = clock
        self._decisions = decisions
        self._control = control
        self._ledger = ledger
        self._known_zones = known_zones

    # ---------------------------------------------------------------------------- submit

    def validate(self, payload: Any, principal: Principal, idempotency_key: str | None) -> JobSpec:
        """The spec in ``payload`` for this caller; 422 or 403 naming the bad field."""
        if not isinstance(payload, Mapping):
            raise ApiError(
                422, "validation_error", "body: must be a JSON object (a JobSpec)", field="body"
            )
        fields = dict(payload)
        if principal.team is not None:
            fields.setdefault("team", principal.team)
            if not principal.admin and fields["team"] != principal.team:
                raise ApiError(
                    403,
                    "forbidden",
                    f"team: this token belongs to team {principal.team!r} and cannot submit "
                    f"for team {fields['team']!r}; leave team out or use that team's token",
                    field="team",
                )
        if idempotency_key is not None:
            if fields.get("idempotency_key") not in (None, idempotency_key):
                raise ApiError(
                    422,
                    "validation_error",
                    "idempotency_key: differs from the Idempotency-Key header; send one of "
                    "them, or the same value in both",
                    field="idempotency_key",
                )
            fields["idempotency_key"] = idempotency_key
        context = {"known_zones": self._known_zones(), "now": self._clock.now()}
        try:
            return JobSpec.model_validate(fields, context=context)
        except ValidationError as exc:
            raise validation_error(exc.errors()) from exc

    def submit(self, payload: Any, principal: Principal, idempotency_key: str | None) -> JobView:
        """Store the job (once per idempotency key) and return it with its first decision."""
        principal.require(ApiRole.SUBMITTER, "submitting a job")
        spec = self.validate(payload, principal, idempotency_key)
        job = self._store.submit(spec, now=self._clock.now())
        decision = self._decisions.current(job.id) or self._decisions.first(job)
        return job_view(job, decision)

    # ---------------------------------------------------------------------------- read

    def visible(self, job_id: str, principal: Principal) -> Job:
        """The job if this caller may see it; 404 otherwise, as for an unknown id."""
        try:
            job = self._store.get(job_id)
        except JobNotFoundError:
            raise _not_found(job_id) from None
        if not principal.may_see(job.spec.team):
            raise _not_found(job_id)
        return job

    def _detail(self, job: Job) -> JobView:
        attempts = self._store.attempts(job.id)
        decision = self._decisions.current(job.id)
        if attempts and attempts[-1].explanation:
            # the decision that dispatched the latest attempt is stored with it: it outlives a
            # restart and is newer than any decision recorded before the dispatch
            last = attempts[-1]
            decision = Start(
                job_id=job.id,
                region=last.region,
                power_cap_w=last.power_cap_w,
                explanation=last.explanation,
            )
        return job_view(job, decision, attempts=attempts, entries=self._ledger.for_job(job.id))

    def view(self, job_id: str, principal: Principal) -> JobView:
        """Everything about one job."""
        return self._detail(self.visible(job_id, principal))

    def page(self, principal: Principal, where: JobFilter, *, limit: int, offset: int) -> JobPage:
        """One page of jobs this caller may see, oldest first."""
        if not principal.admin:
            if where.team is not None and where.team != principal.team:
                raise ApiError(
                    403,
                    "forbidden",
                    f"team: this token sees team {principal.team!r} only, not {where.team!r}",
                    field="team",
                )
            where = JobFilter(
                states=where.states,
                team=principal.team,
                project=where.project,
                model_version=where.model_version,
            )
        items = list(islice(self._scan(where), offset, offset + limit + 1))
        more = len(items) > limit
        views = [job_view(job, self._decisions.current(job.id)) for job in items[:limit]]
        return JobPage(
            items=views, limit=limit, offset=offset, next_offset=offset + limit if more else None
        )

    def _scan(self, where: JobFilter) -> Iterator[Job]:
        """Jobs matching ``where``, read from the store in batches."""
        offset = 0
        while True:
            batch = self._store.list(
                states=where.states, team=where.team, limit=_SCAN_BATCH, offset=offset
            )
            yield from (job for job in batch if where.matches(job))
            if len(batch) < _SCAN_BATCH:
                return
            offset += len(batch)

    # ---------------------------------------------------------------------------- change

    def cancel(self, job_id: str, principal: Principal) -> JobView:
        """Cancel the job; stop it on its cluster if it was running. Cancelling twice is fine."""
        principal.require(ApiRole.SUBMITTER, "cancelling a job")
        job = self.visible(job_id, principal)
        for _ in range(_CAS_TRIES):
            if job.state is JobState.CANCELLED:
                return self._detail(job)
            if job.state.terminal:
                raise ApiError(
                    409,
                    "conflict",
                    f"job {job.id} already finished as {job.state}; only jobs that have not "
                    "finished can be cancelled",
                )
            try:
                cancelled = self._store.transition(
                    job.id, job.state, job.transition(JobState.CANCELLED, at=self._clock.now())
                )
            except ConcurrentUpdateError:
                job = self._store.get(job.id)
                continue
            if job.state in RUNNING and self._control is not None:
                self._control.stop(cancelled)
            return self._detail(cancelled)
        raise ConcurrentUpdateError(f"job {job.id} kept changing; try cancelling again")

    def set_caps(self, job_id: str, principal: Principal, caps: Caps) -> JobView:
        """Change the job's power and energy caps while it has not finished."""
        principal.require(ApiRole.SUBMITTER, "changing caps")
        job = self.visible(job_id, principal)
        changes = {name: getattr(caps, name) for name in caps.model_fields_set}
        if not changes:
            raise ApiError(
                422,
                "validation_error",
                "body: give power_cap_w and/or energy_cap_kwh (null removes a cap)",
                field="body",
            )
        for _ in range(_CAS_TRIES):
            if job.state not in CAPPABLE:
                raise ApiError(
                    409,
                    "conflict",
                    f"job {job.id} is {job.state}; caps change only while a job is pending "
                    "or running",
                    field="state",
                )
            updated = self._recapped(job, changes)
            try:
                stored = self._store.transition(job.id, job.state, updated)
            except ConcurrentUpdateError:
                job = self._store.get(job.id)
                continue
            self._check_persisted(updated)
            if job.state in RUNNING and self._control is not None:
                self._control.caps_changed(stored)
            return self._detail(self._store.get(job.id))
        raise ConcurrentUpdateError(f"job {job.id} kept changing; try changing its caps again")

    def _recapped(self, job: Job, changes: Mapping[str, float | None]) -> Job:
        fields = {**job.spec.model_dump(), **changes}
        try:
            spec = JobSpec.model_validate(fields)
        except ValidationError as exc:
            raise validation_error(exc.errors()) from exc
        return job.model_copy(update={"spec": spec, "updated_at": self._clock.now()})

    def _check_persisted(self, updated: Job) -> None:
        """Refuse to report caps that the store did not keep (a store contract violation)."""
        if self._store.get(updated.id).spec != updated.spec:
            raise StoreError(
                f"the job store kept the old caps of job {updated.id}: its transition() does "
                "not write spec changes; caps cannot be changed with this store"
            )
