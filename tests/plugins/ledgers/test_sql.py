"""``SqlLedger`` on SQLite and PostgreSQL: the table refuses changes, and tampering done by
someone who disables the triggers is detected by ``verify`` and named."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from plugins.ledgers.sql import SqlLedger
from plugins.stores.database import open_database
from scheduler.errors import LedgerIntegrityError
from scheduler.ledger_chain import canonical_json, sha256_hex
from tests.scheduler.ledger_factories import entry


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated database of each kind holding a ledger of four entries."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        url = request.getfixturevalue("postgres_schema_url")
    engine = open_database(url)
    ledger = SqlLedger(engine)
    for i in range(4):
        ledger.append(entry(job_id=f"job-{i + 1}", deferral_h=i))
    yield engine
    engine.dispose()


def _disable_triggers(engine: Engine) -> None:
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.execute(text("DROP TRIGGER ledger_entries_no_update"))
            connection.execute(text("DROP TRIGGER ledger_entries_no_delete"))
        else:
            connection.execute(text("ALTER TABLE ledger_entries DISABLE TRIGGER USER"))


def _run(engine: Engine, sql: str, **params: object) -> None:
    with engine.begin() as connection:
        connection.execute(text(sql), params)


def _payload(engine: Engine, sequence: int) -> dict[str, object]:
    with engine.connect() as connection:
        raw = connection.execute(
            text("SELECT payload FROM ledger_entries WHERE sequence = :s"), {"s": sequence}
        ).scalar_one()
    loaded: dict[str, object] = json.loads(raw)
    return loaded


@pytest.mark.parametrize(
    "statement",
    ["UPDATE ledger_entries SET team = 'x' WHERE sequence = 2", "DELETE FROM ledger_entries"],
)
def test_table_refuses_update_and_delete(engine: Engine, statement: str) -> None:
    """The triggers reject UPDATE and DELETE, and the chain still verifies."""
    with pytest.raises(DBAPIError, match="append-only"):
        _run(engine, statement)
    assert SqlLedger(engine).verify() == 4


@pytest.mark.postgres
def test_postgres_refuses_truncate(postgres_schema_url: str) -> None:
    """On PostgreSQL TRUNCATE is refused too."""
    engine = open_database(postgres_schema_url)
    SqlLedger(engine).append(entry())
    with pytest.raises(DBAPIError, match="append-only"):
        _run(engine, "TRUNCATE ledger_entries")
    engine.dispose()


def test_edited_payload_is_named(engine: Engine) -> None:
    """Lowering entry 2's emissions in its stored JSON is caught at entry 2."""
    _disable_triggers(engine)
    data = _payload(engine, 2)
    data["emissions_g"] = 1.0
    _run(
        engine, "UPDATE ledger_entries SET payload = :p WHERE sequence = 2", p=canonical_json(data)
    )
    with pytest.raises(LedgerIntegrityError, match=r"entry 2 \(job job-2 attempt 1\) was changed"):
        SqlLedger(engine).verify()


def test_edited_payload_with_recomputed_hash_is_caught_at_the_link(engine: Engine) -> None:
    """Rewriting entry 2 and its hash breaks entry 3's link, which names entry 2."""
    _disable_triggers(engine)
    data = _payload(engine, 2)
    data["team"] = "someone-else"
    payload = canonical_json(data)
    _run(
        engine,
        "UPDATE ledger_entries SET payload = :p, entry_hash = :h, team = 'someone-else' "
        "WHERE sequence = 2",
        p=payload,
        h=sha256_hex(payload),
    )
    with pytest.raises(LedgerIntegrityError, match="entry 2 was changed"):
        SqlLedger(engine).verify()


def test_edited_query_column_is_named(engine: Engine) -> None:
    """Changing a queryable copy (team of entry 3) without the payload is caught at entry 3."""
    _disable_triggers(engine)
    _run(engine, "UPDATE ledger_entries SET team = 'cv' WHERE sequence = 3")
    with pytest.raises(LedgerIntegrityError, match=r"entry 3 .* column team holds 'cv'"):
        SqlLedger(engine).verify()


def test_removed_entry_is_named(engine: Engine) -> None:
    """Deleting entry 2 is reported as entry 2 removed."""
    _disable_triggers(engine)
    _run(engine, "DELETE FROM ledger_entries WHERE sequence = 2")
    with pytest.raises(LedgerIntegrityError, match="entry 2 was removed"):
        SqlLedger(engine).verify()


def test_removed_newest_entry_is_caught_by_anchored_head(engine: Engine) -> None:
    """Deleting the newest entry leaves a valid chain, but not the head anchored before."""
    head = SqlLedger(engine).head()
    _disable_triggers(engine)
    _run(engine, "DELETE FROM ledger_entries WHERE sequence = 4")
    assert SqlLedger(engine).verify() == 3
    with pytest.raises(LedgerIntegrityError, match="not the anchored"):
        SqlLedger(engine).verify(expected_head=head)


def test_reordered_entries_are_named(engine: Engine) -> None:
    """Swapping the contents of entries 2 and 3 is reported at entry 2 as reordered."""
    _disable_triggers(engine)
    with engine.connect() as connection:
        rows = (
            connection.execute(
                text("SELECT * FROM ledger_entries WHERE sequence IN (2, 3) ORDER BY sequence")
            )
            .mappings()
            .all()
        )
    columns = [c for c in rows[0] if c != "sequence"]
    _run(engine, "DELETE FROM ledger_entries WHERE sequence IN (2, 3)")
    for target, source in ((2, rows[1]), (3, rows[0])):
        values = {c: source[c] for c in columns}
        _run(
            engine,
            f"INSERT INTO ledger_entries (sequence, {', '.join(columns)}) "  # noqa: S608
            f"VALUES (:sequence, {', '.join(':' + c for c in columns)})",
            sequence=target,
            **values,
        )
    with pytest.raises(LedgerIntegrityError, match=r"entry 2 .* was reordered"):
        SqlLedger(engine).verify()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_concurrent_appends_keep_one_chain(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Four writers appending at once (separate engines, like separate processes) lose no
    entry and leave one unbroken chain."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'race.db'}"
    else:
        url = request.getfixturevalue("postgres_schema_url")
    open_database(url).dispose()
    engines = [open_database(url) for _ in range(4)]

    def write(index: int) -> None:
        ledger = SqlLedger(engines[index])
        for i in range(8):
            ledger.append(entry(job_id=f"w{index}-{i}"))

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(write, range(4)))
    ledger = SqlLedger(engines[0])
    assert ledger.verify() == 32
    assert len({e.job_id for e in ledger.entries()}) == 32
    for engine in engines:
        engine.dispose()
