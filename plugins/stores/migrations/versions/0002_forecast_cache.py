"""The last good carbon forecast per zone, and each forecast provider's health.

Revision ID: 0002_forecast_cache
Revises: 0001_jobs
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_forecast_cache"
down_revision: str | Sequence[str] | None = "0001_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``forecast_cache`` and ``forecast_provider_status``."""
    op.create_table(
        "forecast_cache",
        sa.Column("zone", sa.String(100), primary_key=True),
        sa.Column("provider", sa.String(100), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("forecast", sa.Text(), nullable=False),
    )
    op.create_table(
        "forecast_provider_status",
        sa.Column("provider", sa.String(100), primary_key=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("requests_used", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    """Drop both tables."""
    op.drop_table("forecast_provider_status")
    op.drop_table("forecast_cache")
