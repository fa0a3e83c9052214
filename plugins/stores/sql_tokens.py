"""``SqlTokenStore``: API tokens in the job store's database (table ``api_tokens``).

The table comes from migration ``0004_api_tokens``; pass an engine that
``plugins.stores.database.open_database`` migrated. Only SHA-256 digests are stored, never a
token. SQL faults are translated into ``StoreError`` here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    MetaData,
    String,
    Table,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from plugins.stores.schema import UtcDateTime
from scheduler.errors import StoreError, TokenNotFoundError
from scheduler.model import ApiRole, ApiToken

_metadata = MetaData()
api_tokens = Table(
    "api_tokens",
    _metadata,
    Column("id", String(64), primary_key=True),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("team", String(100), nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime),
)


def _token(row: RowMapping) -> ApiToken:
    return ApiToken(**{**row, "role": ApiRole(row["role"])})


class SqlTokenStore:
    """API tokens in a migrated SQLite or PostgreSQL database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        try:
            with self._engine.begin() as connection:
                yield connection
        except IntegrityError as exc:
            raise StoreError(
                "a token with the same id or digest already exists; create a new token"
            ) from exc
        except SQLAlchemyError as exc:
            where = self._engine.url.render_as_string(hide_password=True)
            raise StoreError(
                f"token store at {where} failed: {exc.__class__.__name__}: {exc}; "
                "check that the database is reachable and migrated"
            ) from exc

    def add(self, token: ApiToken) -> ApiToken:
        """Insert the token record; committed when this returns."""
        with self._tx() as connection:
            connection.execute(insert(api_tokens).values(**token.model_dump()))
        return token

    def find(self, token_sha256: str) -> ApiToken | None:
        """The token with this digest, or None."""
        query = select(api_tokens).where(api_tokens.c.token_sha256 == token_sha256)
        with self._tx() as connection:
            row = connection.execute(query).mappings().first()
        return None if row is None else _token(row)

    def tokens(self) -> Sequence[ApiToken]:
        """Every token, oldest first."""
        query = select(api_tokens).order_by(api_tokens.c.created_at, api_tokens.c.id)
        with self._tx() as connection:
            return [_token(row) for row in connection.execute(query).mappings()]

    def revoke(self, token_id: str, *, at: datetime) -> ApiToken:
        """Set ``revoked_at`` unless already set; ``TokenNotFoundError`` for an unknown id."""
        guarded = update(api_tokens).where(
            api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None)
        )
        with self._tx() as connection:
            connection.execute(guarded.values(revoked_at=at))
            row = (
                connection.execute(select(api_tokens).where(api_tokens.c.id == token_id))
                .mappings()
                .first()
            )
        if row is None:
            raise TokenNotFoundError(
                f"no API token with id {token_id!r}; `carbonshift token list` shows the ids"
            )
        return _token(row)

    def any_active(self) -> bool:
        """True when some token is not revoked."""
        query = (
            select(func.count()).select_from(api_tokens).where(api_tokens.c.revoked_at.is_(None))
        )
        with self._tx() as connection:
            return bool(connection.execute(query).scalar_one())
