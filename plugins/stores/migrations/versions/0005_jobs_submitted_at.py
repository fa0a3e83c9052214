"""An index on ``jobs.submitted_at``, for the arrival forecast's "last week's jobs".

Revision ID: 0005_jobs_submitted_at
Revises: 0001_jobs
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005_jobs_submitted_at"
down_revision: str | Sequence[str] | None = "0001_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Index ``jobs.submitted_at`` (``JobStore.list(submitted_after=…)``)."""
    op.create_index("ix_jobs_submitted_at", "jobs", ["submitted_at"])


def downgrade() -> None:
    """Drop the index."""
    op.drop_index("ix_jobs_submitted_at", table_name="jobs")
