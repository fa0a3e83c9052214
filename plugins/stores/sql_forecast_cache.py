"""``SqlForecastCache``: the last good forecast per zone in the job store's database.

Tables ``forecast_cache`` and ``forecast_provider_status`` come from migration
``0002_forecast_cache``; pass an engine that ``plugins.stores.database.open_database``
migrated. A forecast is stored whole as JSON with its provenance, so a restart reads back
exactly what was validated. SQL faults are translated into ``StoreError`` here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from plugins.stores.schema import UtcDateTime
from scheduler.errors import StoreError
from scheduler.model import Forecast, ProviderStatus

_metadata = MetaData()
forecast_cache = Table(
    "forecast_cache",
    _metadata,
    Column("zone", String(100), primary_key=True),
    Column("provider", String(100), nullable=False),
    Column("fetched_at", UtcDateTime, nullable=False),
    Column("forecast", Text, nullable=False),
)
provider_status = Table(
    "forecast_provider_status",
    _metadata,
    Column("provider", String(100), primary_key=True),
    Column("last_success_at", UtcDateTime),
    Column("last_error", Text, nullable=False),
    Column("last_error_at", UtcDateTime),
    Column("requests_used", Integer, nullable=False),
)


class SqlForecastCache:
    """``ForecastCache`` on a migrated SQLite or PostgreSQL database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        try:
            with self._engine.begin() as connection:
                yield connection
        except SQLAlchemyError as exc:
            raise StoreError(
                f"forecast cache: database error ({type(exc).__name__}: {exc}); check that the "
                "database is reachable and migrated (carbonshift applies migrations at start)"
            ) from exc

    def load(self, zone: str) -> Forecast | None:
        """The last forecast saved for ``zone``, or None."""
        with self._tx() as tx:
            raw = tx.execute(
                select(forecast_cache.c.forecast).where(forecast_cache.c.zone == zone)
            ).scalar_one_or_none()
        return None if raw is None else Forecast.model_validate_json(raw)

    def save(self, forecast: Forecast) -> None:
        """Replace the entry of ``forecast.zone`` (committed on return)."""
        values = {
            "provider": forecast.provenance.provider,
            "fetched_at": forecast.provenance.fetched_at,
            "forecast": forecast.model_dump_json(),
        }
        self._upsert(forecast_cache, forecast_cache.c.zone, forecast.zone, values)

    def fetched_at(self) -> dict[str, datetime]:
        """When each cached zone's forecast was fetched."""
        query = select(forecast_cache.c.zone, forecast_cache.c.fetched_at)
        with self._tx() as tx:
            return {row.zone: row.fetched_at for row in tx.execute(query)}

    def record_status(self, status: ProviderStatus) -> None:
        """Replace the health record of ``status.provider``."""
        values = status.model_dump(exclude={"provider"})
        self._upsert(provider_status, provider_status.c.provider, status.provider, values)

    def statuses(self) -> Sequence[ProviderStatus]:
        """Every provider's health record, sorted by name."""
        query = select(provider_status).order_by(provider_status.c.provider)
        with self._tx() as tx:
            return [ProviderStatus(**row) for row in tx.execute(query).mappings()]

    def _upsert(
        self, table: Table, key: Column[Any], key_value: str, values: Mapping[str, Any]
    ) -> None:
        """Update the row of ``key_value`` or insert it; a racing insert becomes an update."""
        for _ in range(2):
            try:
                with self._tx() as tx:
                    changed = tx.execute(update(table).where(key == key_value).values(**values))
                    if changed.rowcount == 0:
                        tx.execute(insert(table).values({key.name: key_value, **values}))
                return
            except StoreError as exc:
                if not isinstance(exc.__cause__, IntegrityError):
                    raise
        raise StoreError(f"forecast cache: could not write {key.name} {key_value!r}; try again")
