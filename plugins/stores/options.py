"""Options of the job-store plugins (``store: {kind: …}`` in the settings)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from scheduler.registry import PluginOptions


class SqliteOptions(PluginOptions):
    """``kind: sqlite`` (the default): a SQLite file, by default in the data directory."""

    path: Path | None = Field(
        default=None, description="database file; default DATA_DIR/carbonshift.db"
    )


class PostgresOptions(PluginOptions):
    """``kind: postgresql``: a PostgreSQL server; the URL may hold a password, so it is secret."""

    url: SecretStr = Field(description="postgresql://USER:PASSWORD@HOST:PORT/DB")
