"""The node agent's data: power-cap leases, cap requests, and the durable lease journal.

The journal (``FileLeaseJournal``) is the agent's memory across crashes. For every GPU whose
limit the agent has changed and not yet restored it holds the original limit and the current
lease. The original is written durably (fsync) *before* the limit is changed, so an agent
killed at any instant finds, on restart, every GPU it may have left capped.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import Field

from plugins.durable_file import write_durably
from scheduler.model import Frozen, UtcDatetime

#: Longest lease a single request or renewal may ask for.
MAX_TTL_S = 24 * 3600


class Lease(Frozen):
    """One GPU's power limit, held by one attempt of one job until ``expires_at``."""

    gpu: int = Field(ge=0)
    limit_mw: int = Field(gt=0, description="the limit the GPU enforces (read back)")
    job_id: str = Field(min_length=1)
    attempt: int = Field(ge=0)
    expires_at: UtcDatetime
    holder_pid: int | None = Field(default=None, description="released when this pid dies")
    drifted_mw: int | None = Field(default=None, description="limit someone else set")


class CapRequest(Frozen):
    """Ask for a lease of ``limit_mw`` on ``gpus`` for ``ttl_s`` seconds (all or nothing)."""

    gpus: tuple[int, ...] = Field(min_length=1)
    limit_mw: int = Field(gt=0)
    job_id: str = Field(min_length=1, max_length=200)
    attempt: int = Field(default=0, ge=0)
    ttl_s: float = Field(gt=0, le=MAX_TTL_S)
    holder_pid: int | None = Field(default=None, gt=0)
    whole_gpu: bool = Field(
        default=False, description="the job owns every MIG instance of the physical GPUs"
    )


class RenewRequest(Frozen):
    """Extend the leases of one attempt by ``ttl_s`` seconds from now."""

    job_id: str = Field(min_length=1)
    attempt: int = Field(default=0, ge=0)
    ttl_s: float = Field(gt=0, le=MAX_TTL_S)


class JournalEntry(Frozen):
    """A GPU the agent changed: its original limit and the lease (None until it is granted)."""

    original_mw: int = Field(gt=0)
    lease: Lease | None = None


class FileLeaseJournal:
    """Journal entries per GPU in one JSON file, every write atomic and fsync'd."""

    def __init__(self, path: Path) -> None:
        self._path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def load(self) -> dict[int, JournalEntry]:
        """Every entry; an absent file is an empty journal."""
        try:
            raw = json.loads(self._path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return {int(gpu): JournalEntry.model_validate(entry) for gpu, entry in raw.items()}

    def save(self, entries: dict[int, JournalEntry]) -> None:
        """Replace the journal by ``entries``; durable when this returns."""
        data = {str(gpu): entry.model_dump(mode="json") for gpu, entry in sorted(entries.items())}
        write_durably(self._path, json.dumps(data, indent=1))
