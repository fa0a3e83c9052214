"""Alembic environment, usable programmatically (no alembic.ini).

``plugins.stores.database.migrate`` passes an open connection in
``config.attributes["connection"]``. Run by hand, ``alembic -x url=sqlite:///FILE upgrade
heads`` (with ``script_location`` pointing here) opens its own engine.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=None, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate through the connection given by the caller, or one built from ``-x url=``."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or context.config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise SystemExit("give the database with: alembic -x url=sqlite:///FILE upgrade heads")
    engine = create_engine(url)
    with engine.begin() as own:
        _run(own)


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run them against a database")
run_migrations_online()
