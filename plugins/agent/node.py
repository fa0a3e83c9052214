"""``NodeAgent``: grants power-cap leases on one node's GPUs and always gives the limits back.

Safety rules, in the order they apply:

* Before the first change of a GPU's limit, its original limit is written durably to the
  journal; then the limit is set and read back (the value read back is what the lease records;
  the backend returns once the device enforces it).
* A request for several GPUs is all or nothing: on any failure the GPUs already changed go back
  to the limits they had and the journal to what it held.
* A lease ends by release, by expiry without renewal, by the death of its holder process
  (``holder_pid``) or by the agent's shutdown (SIGTERM); the original limit is then restored.
* At start-up (``recover``) no lease is live — leases live in the agent that granted them — so
  every GPU in the journal gets its original limit back; holders re-take their lease at the
  next renewal (``renew`` answers with no leases).
* Drift: when a leased GPU's limit is no longer the one the agent set, someone else changed it.
  The agent logs it once, shows it in the status, and does not fight: it neither re-applies
  its cap nor restores over the other party's limit when the lease ends.

Time comes from the injected clock; ``tick`` (expiry, dead holders, drift) is called by the
server's timer, and directly by tests after advancing a fake clock.
"""

from __future__ import annotations

import os
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import structlog

from plugins.agent.leases import CapRequest, FileLeaseJournal, JournalEntry, Lease, RenewRequest
from scheduler.errors import LeaseConflictError, PowerNotSupportedError
from scheduler.model import GpuInfo
from scheduler.protocols import Clock, PowerBackend


@runtime_checkable
class MigAware(Protocol):
    """A backend that knows whether a GPU is partitioned into MIG instances."""

    def mig_enabled(self, index: int) -> bool:
        """True when GPU ``index`` runs MIG instances."""
        ...


class NodeAgent:
    """The one process on a node that changes GPU power limits; thread-safe."""

    def __init__(
        self,
        *,
        backend: PowerBackend,
        journal: FileLeaseJournal,
        clock: Clock,
        logger: Any = None,
    ) -> None:
        self._backend = backend
        self._journal = journal
        self._clock = clock
        self._log = logger or structlog.get_logger("carbonshift.agent")
        self._lock = threading.RLock()
        self._gpus = {gpu.index: gpu for gpu in backend.gpus()}
        self._entries: dict[int, JournalEntry] = journal.load()

    def recover(self) -> list[int]:
        """Restore every GPU the journal names (start-up); return the GPUs restored."""
        with self._lock:
            restored = [gpu for gpu in sorted(self._entries) if self._restore(gpu, "start-up")]
            self._save()
            return restored

    def cap(self, request: CapRequest) -> list[Lease]:
        """Grant leases on every GPU of ``request`` or on none (ValueError, PowerError)."""
        with self._lock:
            self._check(request)
            before = dict(self._entries)
            previous = {gpu: self._backend.get_power_limit_mw(gpu) for gpu in request.gpus}
            for gpu in request.gpus:
                if gpu not in self._entries:
                    self._entries[gpu] = JournalEntry(original_mw=previous[gpu])
            self._save()  # originals are durable before any limit changes
            try:
                expires_at = self._clock.now() + timedelta(seconds=request.ttl_s)
                leases = [self._apply(gpu, request, expires_at) for gpu in request.gpus]
            except Exception:
                self._rollback(previous, before)
                raise
            self._save()
            self._log.info(
                "lease granted",
                job=request.job_id,
                gpus=list(request.gpus),
                limit_mw=request.limit_mw,
            )
            return leases

    def renew(self, request: RenewRequest) -> list[Lease]:
        """Extend the attempt's leases; an empty list means it holds none (take them again)."""
        with self._lock:
            expires = self._clock.now() + timedelta(seconds=request.ttl_s)
            renewed = []
            for gpu, lease in self._leases().items():
                if (lease.job_id, lease.attempt) == (request.job_id, request.attempt):
                    renewed.append(lease.model_copy(update={"expires_at": expires}))
                    self._entries[gpu] = self._entries[gpu].model_copy(
                        update={"lease": renewed[-1]}
                    )
            if renewed:
                self._save()
            return renewed

    def release(self, job_id: str) -> list[int]:
        """End every lease of ``job_id``; return the GPUs whose limit was restored."""
        with self._lock:
            gpus = [gpu for gpu, lease in self._leases().items() if lease.job_id == job_id]
            return self._end(gpus, f"released by {job_id}")

    def tick(self) -> None:
        """End expired leases and leases of dead holders; notice drift."""
        with self._lock:
            now = self._clock.now()
            leases = self._leases()
            self._end([gpu for gpu, lease in leases.items() if lease.expires_at <= now], "expired")
            dead = [gpu for gpu, lease in self._leases().items() if _dead(lease.holder_pid)]
            self._end(dead, "holder process died")
            for gpu, lease in self._leases().items():
                self._notice_drift(gpu, lease)

    def shutdown(self) -> list[int]:
        """End every lease (SIGTERM); return the GPUs restored."""
        with self._lock:
            return self._end(sorted(self._entries), "agent shutting down")

    def gpus(self) -> list[GpuInfo]:
        """The node's GPUs."""
        return list(self._gpus.values())

    def leases(self) -> list[Lease]:
        """Live leases, by GPU."""
        with self._lock:
            return [self._leases()[gpu] for gpu in sorted(self._leases())]

    def log_fault(self, what: str, exc: Exception) -> None:
        """Log a fault the caller survives (the server's timer)."""
        self._log.error(what, error=f"{type(exc).__name__}: {exc}")

    def limit_mw(self, gpu: int) -> int:
        """Current limit set on ``gpu``."""
        return self._backend.get_power_limit_mw(gpu)

    def _check(self, request: CapRequest) -> None:
        for gpu in request.gpus:
            info = self._gpus.get(gpu)
            if info is None:
                raise ValueError(
                    f"gpu {gpu} does not exist on this node (it has {sorted(self._gpus)})"
                )
            if not info.min_limit_mw <= request.limit_mw <= info.max_limit_mw:
                raise ValueError(
                    f"limit {request.limit_mw} mW is outside GPU {gpu}'s constraints "
                    f"[{info.min_limit_mw}, {info.max_limit_mw}] mW; choose a limit in that range"
                )
            holder = self._leases().get(gpu)
            if holder is not None and holder.job_id != request.job_id:
                raise LeaseConflictError(
                    f"GPU {gpu} is capped for job {holder.job_id} until "
                    f"{holder.expires_at.isoformat()}; release that job first"
                )
            mig = isinstance(self._backend, MigAware) and self._backend.mig_enabled(gpu)
            if mig and not request.whole_gpu:
                raise PowerNotSupportedError(
                    f"GPU {gpu} is in MIG mode: its power limit is shared by every instance; "
                    "a per-job cap needs the whole physical GPU (whole_gpu=true)"
                )

    def _apply(self, gpu: int, request: CapRequest, expires_at: datetime) -> Lease:
        enforced = self._backend.set_power_limit_mw(gpu, request.limit_mw)
        lease = Lease(
            gpu=gpu,
            limit_mw=enforced,
            job_id=request.job_id,
            attempt=request.attempt,
            expires_at=expires_at,
            holder_pid=request.holder_pid,
        )
        self._entries[gpu] = self._entries[gpu].model_copy(update={"lease": lease})
        return lease

    def _rollback(self, previous: dict[int, int], before: dict[int, JournalEntry]) -> None:
        for gpu, limit_mw in previous.items():
            try:
                if self._backend.get_power_limit_mw(gpu) != limit_mw:
                    self._backend.set_power_limit_mw(gpu, limit_mw)
            except Exception as exc:  # keep the other GPUs rolling back
                self._log.error("rollback failed", gpu=gpu, error=str(exc))
                return  # keep the journal entries: start-up recovery will retry
        self._entries = before
        self._save()

    def _end(self, gpus: list[int], reason: str) -> list[int]:
        restored = [gpu for gpu in gpus if self._restore(gpu, reason)]
        if gpus:
            self._save()
        return restored

    def _restore(self, gpu: int, reason: str) -> bool:
        """Give ``gpu`` its original limit unless someone else owns it now (drift)."""
        entry = self._entries[gpu]
        current = self._backend.get_power_limit_mw(gpu)
        lease = entry.lease
        if lease is not None and current != lease.limit_mw:
            self._log.warning(
                "drift: leaving limit alone",
                gpu=gpu,
                reason=reason,
                set_mw=lease.limit_mw,
                found_mw=current,
            )
            del self._entries[gpu]
            return False
        if current != entry.original_mw:
            self._backend.set_power_limit_mw(gpu, entry.original_mw)
        self._log.info(
            "limit restored",
            gpu=gpu,
            reason=reason,
            limit_mw=entry.original_mw,
            job=lease.job_id if lease else None,
        )
        del self._entries[gpu]
        return True

    def _notice_drift(self, gpu: int, lease: Lease) -> None:
        current = self._backend.get_power_limit_mw(gpu)
        if current in (lease.limit_mw, lease.drifted_mw):
            return
        self._log.warning(
            "drift: limit changed outside the agent",
            gpu=gpu,
            job=lease.job_id,
            set_mw=lease.limit_mw,
            found_mw=current,
        )
        drifted = lease.model_copy(update={"drifted_mw": current})
        self._entries[gpu] = self._entries[gpu].model_copy(update={"lease": drifted})
        self._save()

    def _leases(self) -> dict[int, Lease]:
        return {gpu: e.lease for gpu, e in self._entries.items() if e.lease is not None}

    def _save(self) -> None:
        self._journal.save(self._entries)


def _dead(pid: int | None) -> bool:
    """True when ``pid`` no longer runs (gone, or a zombie waiting to be reaped)."""
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"
