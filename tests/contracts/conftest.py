"""The database under each storage contract suite: in-memory, a SQLite file, or a fresh
schema of the real PostgreSQL (skips locally without it, fails in CI)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from plugins.stores.database import open_database

BACKENDS = ["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine | None]:
    """The migrated engine of the backend under test, or None for the in-memory backend."""
    if request.param == "memory":
        yield None
        return
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'contract.db'}"
    else:
        url = request.getfixturevalue("postgres_schema_url")
    engine = open_database(url)
    yield engine
    engine.dispose()
