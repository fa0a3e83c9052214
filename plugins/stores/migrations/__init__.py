"""Alembic migrations of carbonshift's database (applied by ``plugins.stores.database``)."""
