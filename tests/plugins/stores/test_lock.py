"""The scheduler lock: a second holder is refused, and the lock dies with its holder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from plugins.stores.database import open_database
from plugins.stores.lock import FileLock, PostgresAdvisoryLock
from scheduler.errors import SchedulerLockedError


def test_file_lock_refuses_a_second_holder_and_names_the_first(tmp_path: Path) -> None:
    """While one scheduler holds the lock file, another is refused with the holder's pid."""
    first, second = FileLock(tmp_path / "lock"), FileLock(tmp_path / "lock")
    first.acquire()
    with pytest.raises(SchedulerLockedError, match=r"pid \d+"):
        second.acquire()
    first.release()
    second.acquire()
    second.release()


def test_file_lock_is_freed_when_its_process_is_killed(tmp_path: Path) -> None:
    """A holder killed with SIGKILL leaves the lock free for the next scheduler."""
    path = tmp_path / "lock"
    script = (
        "import fcntl, os, sys; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); "
        "print('locked', flush=True); os.kill(os.getpid(), 9)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=False
    )
    assert done.stdout.strip() == "locked"
    lock = FileLock(path)
    lock.acquire()
    lock.release()


@pytest.mark.postgres
def test_advisory_lock_is_one_per_schema(postgres_schema_url: str) -> None:
    """Two schedulers on one PostgreSQL schema: the second is refused until the first leaves."""
    engine = open_database(postgres_schema_url)
    first, second = PostgresAdvisoryLock(engine), PostgresAdvisoryLock(engine)
    first.acquire()
    first.check()
    with pytest.raises(SchedulerLockedError, match="another carbonshift scheduler"):
        second.acquire()
    first.release()
    second.acquire()
    second.release()
    engine.dispose()
