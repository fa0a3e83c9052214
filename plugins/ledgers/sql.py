"""``SqlLedger``: the ledger in SQLite or PostgreSQL through SQLAlchemy Core.

The table comes from migration ``0003_ledger`` (applied by ``plugins.stores.database``); its
triggers refuse UPDATE and DELETE. Each entry's canonical JSON is stored verbatim in
``payload`` and hashed; the other columns are copies for querying, checked on ``verify``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from plugins.stores.schema import UtcDateTime
from scheduler.errors import LedgerError
from scheduler.ledger_chain import GENESIS_HASH, StoredRow, from_row, seal, to_row, verify_rows
from scheduler.model import LedgerEntry

#: Appends that lose a race for the next sequence retry this many times.
APPEND_RETRIES = 5
#: PostgreSQL advisory-lock key of ledger appends (arbitrary, fixed: "carbonsh" in ASCII).
APPEND_LOCK_KEY = 0x636172626F6E7368

ledger_entries = Table(
    "ledger_entries",
    MetaData(),
    Column("sequence", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("job_id", String(64), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("team", String(100), nullable=False),
    Column("project", String(100), nullable=False),
    Column("model_version", String(100), nullable=False),
    Column("region", String(100), nullable=False),
    Column("zone", String(100), nullable=False),
    Column("ended_at", UtcDateTime, nullable=False),
    Column("corrects_entry", BigInteger),
    Column("prev_hash", String(64), nullable=False),
    Column("entry_hash", String(64), nullable=False),
    Column("payload", Text, nullable=False),
)
_COLUMNS = ("sequence", "payload", "prev_hash", "entry_hash")


def _row(record: Any) -> StoredRow:
    values = dict(record._mapping)
    core = {name: values.pop(name) for name in _COLUMNS}
    return StoredRow(**core, columns=values)


def _serialise_appends(connection: Connection) -> None:
    """Take the database's append lock for this transaction, so appends queue up instead
    of racing for the next sequence (the primary key still guards against any that slip by).
    """
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": APPEND_LOCK_KEY})
    elif connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class SqlLedger:
    """An append-only, hash-chained ledger in a SQL database (migrations already applied)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def append(self, entry: LedgerEntry) -> int:
        """Seal ``entry`` after the current head and insert it; return its sequence.

        Raises:
            LedgerError: the database refused the write.
        """
        for _ in range(APPEND_RETRIES):
            try:
                return self._append_once(entry)
            except IntegrityError:
                continue  # another writer took this sequence first: chain after theirs
            except SQLAlchemyError as exc:
                raise LedgerError(f"could not append to the ledger: {exc}") from exc
        raise LedgerError(
            f"could not append entry for job {entry.job_id} after {APPEND_RETRIES} tries: "
            "other writers kept taking the next sequence; retry later"
        )

    def _append_once(self, entry: LedgerEntry) -> int:
        last = select(ledger_entries.c.sequence, ledger_entries.c.entry_hash)
        last = last.order_by(ledger_entries.c.sequence.desc()).limit(1)
        with self._engine.connect() as connection:
            _serialise_appends(connection)
            head = connection.execute(last).first()
            sequence, prev = (head[0] + 1, head[1]) if head else (1, GENESIS_HASH)
            row = to_row(seal(entry, sequence=sequence, prev_hash=prev))
            values = {name: getattr(row, name) for name in _COLUMNS} | dict(row.columns)
            connection.execute(ledger_entries.insert().values(**values))
            connection.commit()
        return sequence

    def _rows(self, since: datetime | None = None) -> Iterator[StoredRow]:
        query = select(ledger_entries).order_by(ledger_entries.c.sequence)
        if since is not None:
            query = query.where(ledger_entries.c.ended_at >= since)
        try:
            with self._engine.connect() as connection:
                rows = [_row(record) for record in connection.execute(query)]
        except SQLAlchemyError as exc:
            raise LedgerError(f"could not read the ledger: {exc}") from exc
        yield from rows

    def entries(self, *, since: datetime | None = None) -> Iterator[LedgerEntry]:
        """Entries in append order, optionally only those that ended at or after ``since``."""
        for row in self._rows(since):
            yield from_row(row)

    def head(self) -> str:
        """Hash of the newest entry, or 64 zeros when empty."""
        last = select(ledger_entries.c.entry_hash).order_by(ledger_entries.c.sequence.desc())
        try:
            with self._engine.connect() as connection:
                value = connection.execute(last.limit(1)).scalar()
        except SQLAlchemyError as exc:
            raise LedgerError(f"could not read the ledger head: {exc}") from exc
        return str(value) if value is not None else GENESIS_HASH

    def verify(self, *, expected_head: str | None = None) -> int:
        """Walk the chain; raise ``LedgerIntegrityError`` naming the first bad entry."""
        return verify_rows(self._rows(), expected_head=expected_head)
