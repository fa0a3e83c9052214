"""The ledger's hash chain, shared by every ``Ledger`` backend.

Each entry is stored as its *canonical JSON* (sorted keys, no spaces, UTF-8, no NaN) with
``sequence`` and ``prev_hash`` inside it; ``entry_hash`` is the SHA-256 of that text, and
``prev_hash`` is the ``entry_hash`` of the entry before it (64 zeros for the first). So:

* changing any field of an entry changes its hash (caught at that entry);
* rewriting an entry *and* its hash breaks the next entry's ``prev_hash`` (caught there);
* removing or reordering entries breaks the run of sequences and ``prev_hash`` links;
* rewriting the newest entry and its hash is caught only against a head anchored elsewhere,
  which is what ``carbonshift ledger head`` prints and ``verify(expected_head=…)`` checks.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from scheduler.errors import LedgerIntegrityError
from scheduler.model import LedgerEntry

GENESIS_HASH = "0" * 64


def canonical_json(data: Mapping[str, Any]) -> str:
    """Deterministic JSON text: sorted keys, compact separators, no NaN or infinity."""
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def sha256_hex(text: str) -> str:
    """SHA-256 of ``text`` encoded as UTF-8, in hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def seal(entry: LedgerEntry, *, sequence: int, prev_hash: str) -> LedgerEntry:
    """``entry`` placed at ``sequence`` after ``prev_hash``, with its own hash filled in."""
    draft = entry.model_copy(
        update={"sequence": sequence, "prev_hash": prev_hash, "entry_hash": None}
    )
    return draft.model_copy(update={"entry_hash": sha256_hex(payload_of(draft))})


def payload_of(entry: LedgerEntry) -> str:
    """The canonical JSON that is stored and hashed (everything but ``entry_hash``)."""
    return canonical_json(entry.model_dump(mode="json", exclude={"entry_hash"}))


@dataclass(frozen=True, kw_only=True)
class StoredRow:
    """One entry as a backend stores it; ``columns`` are copies kept for querying."""

    sequence: int
    payload: str
    prev_hash: str
    entry_hash: str
    columns: Mapping[str, Any] = field(default_factory=dict)


#: Fields copied into queryable columns by backends, checked against the payload on verify.
INDEXED_FIELDS = ("job_id", "attempt", "team", "project", "model_version", "region", "zone")


def to_row(sealed: LedgerEntry) -> StoredRow:
    """The row a backend writes for a sealed entry."""
    assert sealed.sequence is not None
    assert sealed.prev_hash
    assert sealed.entry_hash
    return StoredRow(
        sequence=sealed.sequence,
        payload=payload_of(sealed),
        prev_hash=sealed.prev_hash,
        entry_hash=sealed.entry_hash,
        columns={name: getattr(sealed, name) for name in INDEXED_FIELDS}
        | {"ended_at": sealed.ended_at, "corrects_entry": sealed.corrects_entry},
    )


def from_row(row: StoredRow) -> LedgerEntry:
    """The entry stored in ``row`` (not verified: call ``verify_rows`` for that)."""
    try:
        entry = LedgerEntry.model_validate_json(row.payload)
    except ValidationError as exc:
        raise LedgerIntegrityError(
            f"ledger entry {row.sequence} cannot be read ({exc.error_count()} problem(s)); "
            "its stored payload was changed: restore it from a backup or export"
        ) from exc
    return entry.model_copy(update={"entry_hash": row.entry_hash})


def _label(entry: LedgerEntry | None, sequence: int) -> str:
    if entry is None:
        return f"entry {sequence}"
    return f"entry {sequence} (job {entry.job_id} attempt {entry.attempt})"


def _check_row(row: StoredRow, position: int, prev_hash: str) -> None:
    """Raise naming the first problem with ``row`` at 1-based ``position``."""
    if row.sequence != position:
        what = "removed or moved" if row.sequence > position else "reordered or duplicated"
        raise LedgerIntegrityError(
            f"ledger entry {position} was {what}: the entry found after entry {position - 1} "
            f"is numbered {row.sequence}; restore the ledger from a backup or export"
        )
    try:
        data = json.loads(row.payload)
    except ValueError as exc:
        raise LedgerIntegrityError(
            f"ledger entry {position} was changed: its payload is not JSON ({exc})"
        ) from exc
    entry = from_row(row)
    name = _label(entry, position)
    if sha256_hex(canonical_json(data)) != row.entry_hash:
        raise LedgerIntegrityError(
            f"ledger {name} was changed: its contents no longer match its stored hash "
            f"{row.entry_hash[:16]}…"
        )
    if data.get("sequence") != position:
        raise LedgerIntegrityError(
            f"ledger {name} was reordered: it was written as entry {data.get('sequence')}"
        )
    if row.prev_hash != prev_hash or data.get("prev_hash") != prev_hash:
        raise LedgerIntegrityError(
            f"ledger {name} does not follow entry {position - 1}: its previous-hash link "
            f"{row.prev_hash[:16]}… should be {prev_hash[:16]}…; entry {position - 1} was "
            "changed, or entries before it were removed or reordered"
        )
    _check_columns(row, entry, name)


def _check_columns(row: StoredRow, entry: LedgerEntry, name: str) -> None:
    for column, stored in row.columns.items():
        if stored != getattr(entry, column):
            raise LedgerIntegrityError(
                f"ledger {name} was changed: column {column} holds {stored!r} but the hashed "
                f"entry says {getattr(entry, column)!r}"
            )


def verify_rows(rows: Iterable[StoredRow], *, expected_head: str | None = None) -> int:
    """Walk ``rows`` (in stored order); return how many were checked.

    Raises:
        LedgerIntegrityError: naming the first entry changed, removed or reordered, or the
            head when it differs from ``expected_head``.
    """
    prev_hash = GENESIS_HASH
    count = 0
    for position, row in enumerate(rows, start=1):
        _check_row(row, position, prev_hash)
        prev_hash = row.entry_hash
        count = position
    if expected_head is not None and expected_head != prev_hash:
        raise LedgerIntegrityError(
            f"the ledger head is {prev_hash} after {count} entries, not the anchored "
            f"{expected_head}: the newest entries were changed or removed"
        )
    return count
