"""Database engines and migrations shared by every SQL-backed store.

``open_database(url)`` is what the composition root calls: it builds the engine and applies
every Alembic migration (``upgrade heads``) before anything reads or writes. URLs:

* ``sqlite:///PATH``: the default, a file in the data directory. Every connection runs in
  WAL mode with ``synchronous=FULL`` (a commit survives a power cut) and foreign keys on.
* ``postgresql://…`` (and ``postgres://…``): normalised to the psycopg 3 driver
  (``postgresql+psycopg://…``). A ``?options=-csearch_path%3DNAME`` query selects a schema.

The migrations live in ``plugins/stores/migrations`` and ship as package data; no
``alembic.ini`` is needed. Several features add revisions that branch from ``0001_jobs``,
hence ``heads``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import SQLAlchemyError

from scheduler.errors import ConfigError, StoreError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_FILE_NAME = "carbonshift.db"
#: Seconds a SQLite writer waits for another writer's lock before failing.
SQLITE_BUSY_TIMEOUT_S = 30


def default_sqlite_url(data_dir: Path) -> str:
    """The default database: a SQLite file in ``data_dir``."""
    return f"sqlite:///{data_dir / SQLITE_FILE_NAME}"


def normalise_url(url: str) -> str:
    """Pick the drivers carbonshift ships with; reject databases it does not support."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if url.startswith(("postgresql+psycopg://", "sqlite://")):
        return url
    raise ConfigError(
        f"unsupported database URL {_redact(url)!r}; use sqlite:///PATH or "
        "postgresql://USER@HOST:PORT/DB"
    )


def _redact(url: str) -> str:
    """The URL without its password, for messages."""
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url`` (see the module docstring); creates a SQLite file's folder."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:" and not url.startswith("sqlite:///:memory:"):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def alembic_config() -> Config:
    """Alembic settings built in code: the shipped migrations, no ini file."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def migrate(engine: Engine) -> None:
    """Apply every migration not yet applied (all branch heads).

    Raises:
        StoreError: the database cannot be reached or a migration failed.
    """
    config = alembic_config()
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "heads")
    except SQLAlchemyError as exc:
        raise StoreError(
            f"could not migrate the database at {_redact(str(engine.url))}: {exc}; check that "
            "it is running and that the user may create tables"
        ) from exc


def open_database(url: str) -> Engine:
    """An engine for ``url`` with every migration applied; the one entry point for stores."""
    engine = make_engine(url)
    migrate(engine)
    return engine
