"""What the API needs from the rest of carbonshift, as small protocols, with shipped defaults.

* ``DecisionSource``: the first decision for a just-submitted job, and each job's current
  one. The service records every decision of every tick in a ``RecordedDecisions``.
* ``JobControl``: side effects on work already handed to a cluster: stop a cancelled job's
  attempts, push changed caps to running GPUs. ``ClusterJobControl`` stops attempts through
  each region's ``Cluster``; caps of running jobs reach GPUs through the node agent's hook.
* ``LedgerIndex``: a job's effective ledger entries, indexed once per ledger head.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from scheduler.accounting import effective_entries
from scheduler.model import Decision, Job, LedgerEntry, Wait
from scheduler.protocols import Clock, Cluster, JobStore, Ledger


class DecisionSource(Protocol):
    """Decisions as the API reports them."""

    def first(self, job: Job) -> Decision:
        """Decide for a job that was just stored (and remember the answer)."""
        ...

    def current(self, job_id: str) -> Decision | None:
        """The newest decision about ``job_id``, or None when none is known."""
        ...


class JobControl(Protocol):
    """Effects of user actions on work a cluster already has."""

    def stop(self, job: Job) -> None:
        """Stop every open attempt of ``job`` (it was just cancelled)."""
        ...

    def caps_changed(self, job: Job) -> None:
        """Apply ``job.spec``'s new caps to its running attempt, if any."""
        ...


def queued_decision(clock: Clock, default_zone: str) -> Callable[[Job], Decision]:
    """A first decision for when no planner is wired: wait for the scheduler's next tick."""

    def decide(job: Job) -> Decision:
        zone = job.spec.zones[0] if job.spec.zones else default_zone
        return Wait(
            job_id=job.id,
            until=clock.now(),
            region=zone,
            explanation="queued; the scheduler plans it at its next tick",
        )

    return decide


class RecordedDecisions:
    """Keeps the newest decision per job (bounded, oldest forgotten first); thread-safe."""

    def __init__(self, first: Callable[[Job], Decision], *, keep: int = 100_000) -> None:
        self._first = first
        self._keep = keep
        self._lock = threading.Lock()
        self._latest: OrderedDict[str, Decision] = OrderedDict()

    def record(self, decision: Decision) -> None:
        """Remember ``decision`` as its job's newest."""
        with self._lock:
            self._latest[decision.job_id] = decision
            self._latest.move_to_end(decision.job_id)
            while len(self._latest) > self._keep:
                self._latest.popitem(last=False)

    def first(self, job: Job) -> Decision:
        """Ask the planner hook, record and return its decision."""
        decision = self._first(job)
        self.record(decision)
        return decision

    def current(self, job_id: str) -> Decision | None:
        """The newest recorded decision about ``job_id``."""
        with self._lock:
            return self._latest.get(job_id)


class ClusterJobControl:
    """Stops a job's open attempts through the cluster of each attempt's region."""

    def __init__(
        self,
        store: JobStore,
        clusters: Mapping[str, Cluster],
        *,
        on_caps_changed: Callable[[Job], None] | None = None,
    ) -> None:
        self._store = store
        self._clusters = clusters
        self._on_caps_changed = on_caps_changed

    def stop(self, job: Job) -> None:
        """Ask each open attempt's cluster to stop it (a finished attempt is a no-op there)."""
        for record in self._store.attempts(job.id):
            cluster = self._clusters.get(record.region)
            if record.open and cluster is not None:
                cluster.stop(record.submission_id)

    def caps_changed(self, job: Job) -> None:
        """Hand the new caps to the node-agent hook, when one is wired."""
        if self._on_caps_changed is not None:
            self._on_caps_changed(job)


class LedgerIndex:
    """A job's effective ledger entries; re-read only when the chain head moved."""

    def __init__(self, ledger: Ledger | None) -> None:
        self._ledger = ledger
        self._lock = threading.Lock()
        self._head: str | None = None
        self._by_job: dict[str, list[LedgerEntry]] = {}

    def for_job(self, job_id: str) -> Sequence[LedgerEntry]:
        """Effective entries of ``job_id`` in append order (empty when not finished)."""
        if self._ledger is None:
            return ()
        head = self._ledger.head()
        with self._lock:
            if head != self._head:
                by_job: dict[str, list[LedgerEntry]] = {}
                for entry in effective_entries(list(self._ledger.entries())):
                    by_job.setdefault(entry.job_id, []).append(entry)
                self._by_job, self._head = by_job, head
            return tuple(self._by_job.get(job_id, ()))
