"""The ``Ledger`` contract, run over every backend: memory, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from plugins.ledgers.memory import MemoryLedger
from plugins.ledgers.sql import SqlLedger
from scheduler.errors import LedgerIntegrityError
from scheduler.ledger_chain import GENESIS_HASH, payload_of, sha256_hex
from scheduler.protocols import Ledger
from tests.scheduler.ledger_factories import T0, entry


@pytest.fixture
def ledger(database: Engine | None) -> Ledger:
    """A fresh, empty ledger of each kind."""
    return MemoryLedger() if database is None else SqlLedger(database)


def test_empty_ledger_has_genesis_head_and_verifies(ledger: Ledger) -> None:
    """An empty ledger verifies zero entries and its head is 64 zeros."""
    assert ledger.head() == GENESIS_HASH
    assert ledger.verify() == 0
    assert list(ledger.entries()) == []


def test_appends_are_numbered_chained_and_read_back_unchanged(ledger: Ledger) -> None:
    """Sequences count from 1, each entry links to the previous hash, content round-trips."""
    written = [entry(job_id=f"job-{i}", deferral_h=i) for i in range(3)]
    assert [ledger.append(e) for e in written] == [1, 2, 3]
    read = list(ledger.entries())
    assert [e.sequence for e in read] == [1, 2, 3]
    assert read[0].prev_hash == GENESIS_HASH
    assert [e.prev_hash for e in read[1:]] == [e.entry_hash for e in read[:-1]]
    assert ledger.head() == read[-1].entry_hash
    for original, stored in zip(written, read, strict=True):
        core = {"sequence", "prev_hash", "entry_hash"}
        assert stored.model_dump(exclude=core) == original.model_dump(exclude=core)
        assert stored.entry_hash == sha256_hex(payload_of(stored))
    assert ledger.verify() == 3


def test_entries_since_filters_on_end_time(ledger: Ledger) -> None:
    """``since`` keeps entries that ended at or after it, in append order."""
    for i in range(4):
        ledger.append(entry(job_id=f"job-{i}", deferral_h=i))
    cutoff = T0 + timedelta(hours=3)  # job-i ends at hour i + 1
    assert [e.job_id for e in ledger.entries(since=cutoff)] == ["job-2", "job-3"]


def test_verify_against_an_anchored_head(ledger: Ledger) -> None:
    """Verifying against the head printed earlier passes; against another head it fails."""
    ledger.append(entry())
    head = ledger.head()
    assert ledger.verify(expected_head=head) == 1
    ledger.append(entry(job_id="job-2"))
    with pytest.raises(LedgerIntegrityError, match="not the anchored"):
        ledger.verify(expected_head=head)
