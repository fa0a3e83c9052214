"""``MemoryLedger`` detects tampering with its rows like the SQL backend does."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plugins.ledgers.memory import MemoryLedger
from scheduler.errors import LedgerIntegrityError
from scheduler.ledger_chain import canonical_json
from tests.scheduler.ledger_factories import entry


def _ledger() -> MemoryLedger:
    ledger = MemoryLedger()
    for i in range(3):
        ledger.append(entry(job_id=f"job-{i + 1}"))
    return ledger


def test_changed_row_is_named() -> None:
    """Editing entry 2's stored JSON is caught at entry 2."""
    ledger = _ledger()
    row = ledger._rows[1]
    ledger._rows[1] = dataclasses.replace(row, payload=row.payload.replace('"nlp"', '"cv"'))
    with pytest.raises(LedgerIntegrityError, match=r"entry 2 \(job job-2 attempt 1\) was changed"):
        ledger.verify()


def test_removed_and_reordered_rows_are_named() -> None:
    """Dropping entry 1 or swapping entries 1 and 2 is reported at entry 1."""
    ledger = _ledger()
    rows = list(ledger._rows)
    ledger._rows[:] = rows[1:]
    with pytest.raises(LedgerIntegrityError, match="entry 1 was removed or moved"):
        ledger.verify()
    ledger._rows[:] = [rows[1], rows[0], rows[2]]
    with pytest.raises(LedgerIntegrityError, match="entry 1 was removed or moved"):
        ledger.verify()


@given(
    count=st.integers(2, 6),
    target=st.integers(0, 5),
    field=st.sampled_from(["emissions_g", "energy_mj", "team", "started_at"]),
)
@settings(max_examples=30, deadline=None)
def test_any_single_field_change_is_named(count: int, target: int, field: str) -> None:
    """Changing one field of any one stored entry is caught at exactly that entry."""
    ledger = MemoryLedger()
    for i in range(count):
        ledger.append(entry(job_id=f"job-{i + 1}", deferral_h=i % 4))
    position = target % count
    data = json.loads(ledger._rows[position].payload)
    data[field] = {
        "emissions_g": 0.5,
        "energy_mj": 7,
        "team": "x",
        "started_at": "2020-01-01T00:00:00Z",
    }[field]
    row = ledger._rows[position]
    ledger._rows[position] = dataclasses.replace(row, payload=canonical_json(data))
    with pytest.raises(
        LedgerIntegrityError, match=rf"entry {position + 1} \(job job-{position + 1} "
    ):
        ledger.verify()
