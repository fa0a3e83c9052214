"""``MemoryLedger``: the ledger in a Python list, for tests and the simulator.

A real implementation of the ``Ledger`` protocol (same hash chain, same verification); it
just forgets everything when the process ends.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime

from scheduler.ledger_chain import GENESIS_HASH, StoredRow, from_row, seal, to_row, verify_rows
from scheduler.model import LedgerEntry


class MemoryLedger:
    """An append-only, hash-chained ledger held in memory."""

    def __init__(self) -> None:
        self._rows: list[StoredRow] = []
        self._lock = threading.Lock()

    def append(self, entry: LedgerEntry) -> int:
        """Seal ``entry`` after the current head and keep it; return its sequence."""
        with self._lock:
            sequence = len(self._rows) + 1
            prev = self._rows[-1].entry_hash if self._rows else GENESIS_HASH
            self._rows.append(to_row(seal(entry, sequence=sequence, prev_hash=prev)))
            return sequence

    def entries(self, *, since: datetime | None = None) -> Iterator[LedgerEntry]:
        """Entries in append order, optionally only those that ended at or after ``since``."""
        with self._lock:
            rows = list(self._rows)
        for row in rows:
            entry = from_row(row)
            if since is None or entry.ended_at >= since:
                yield entry

    def head(self) -> str:
        """Hash of the newest entry, or 64 zeros when empty."""
        with self._lock:
            return self._rows[-1].entry_hash if self._rows else GENESIS_HASH

    def verify(self, *, expected_head: str | None = None) -> int:
        """Walk the chain; raise ``LedgerIntegrityError`` naming the first bad entry."""
        with self._lock:
            rows = list(self._rows)
        return verify_rows(rows, expected_head=expected_head)
