"""Exactly one active scheduler per database: the lock a scheduler holds while it runs.

* ``PostgresAdvisoryLock``: a session-level advisory lock on a connection held for the
  scheduler's life, keyed by the schema, so the server frees it when the process dies.
* ``FileLock``: for SQLite, an exclusive ``flock`` on a file beside the database; the kernel
  frees it when the process dies (even by SIGKILL).
* ``NoLock``: the in-memory store, which no other process can see.

A second scheduler's ``acquire`` raises ``SchedulerLockedError`` saying who holds the lock.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from scheduler.errors import SchedulerLockedError, StoreError

_LOCK_KEY_SQL = "hashtext(current_schema() || '/carbonshift-scheduler')"


class PostgresAdvisoryLock:
    """``pg_try_advisory_lock`` on a dedicated connection."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None

    @property
    def where(self) -> str:
        """The database, for messages (no password)."""
        return self._engine.url.render_as_string(hide_password=True)

    def acquire(self) -> None:
        """Take the lock, or raise ``SchedulerLockedError`` if another scheduler has it."""
        try:
            connection = self._engine.connect()
        except SQLAlchemyError as exc:
            raise StoreError(
                f"could not reach {self.where} to take the scheduler lock: {exc}"
            ) from exc
        try:
            got = connection.execute(text(f"SELECT pg_try_advisory_lock({_LOCK_KEY_SQL})")).scalar()
            connection.commit()
        except SQLAlchemyError as exc:
            connection.close()
            raise StoreError(
                f"could not reach {self.where} to take the scheduler lock: {exc}"
            ) from exc
        if not got:
            connection.close()
            raise SchedulerLockedError(
                f"another carbonshift scheduler already schedules {self.where} (it holds the "
                "advisory lock); stop it first, or give this one another database"
            )
        self._connection = connection

    def check(self) -> None:
        """Make sure the lock is still held; take it again after a lost connection."""
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT 1"))
                self._connection.commit()
                return
            except SQLAlchemyError:
                self._connection.invalidate()
                self._connection = None
        self.acquire()

    def release(self) -> None:
        """Give the lock back (closing the connection frees it)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.execute(text(f"SELECT pg_advisory_unlock({_LOCK_KEY_SQL})"))
                connection.commit()
            except SQLAlchemyError:
                pass  # a dead connection has released the lock already
            finally:
                connection.close()


class FileLock:
    """An exclusive ``flock`` on ``path`` (created if missing), holding the holder's pid."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None

    @property
    def where(self) -> str:
        """The lock file, for messages."""
        return str(self.path)

    def acquire(self) -> None:
        """Take the lock, or raise ``SchedulerLockedError`` naming the holder's pid."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise SchedulerLockedError(
                f"another carbonshift scheduler (pid {holder}) already schedules the database "
                f"beside {self.path}; stop it first, or use another --data-dir"
            ) from exc
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle

    def check(self) -> None:
        """A held flock cannot be lost while the process lives."""
        if self._file is None:
            self.acquire()

    def release(self) -> None:
        """Unlock and close the file (it stays, empty of meaning)."""
        handle, self._file = self._file, None
        if handle is not None:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()


class NoLock:
    """For the in-memory store: nothing to share, nothing to lock."""

    @property
    def where(self) -> str:
        """Nothing is locked."""
        return "memory (no lock)"

    def acquire(self) -> None:
        """Nothing to take."""

    def check(self) -> None:
        """Nothing to check."""

    def release(self) -> None:
        """Nothing to give back."""
