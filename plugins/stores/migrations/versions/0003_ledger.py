"""The append-only ledger.

Revision ID: 0003_ledger
Revises: 0001_jobs
Create Date: 2026-11-26

``ledger_entries`` rejects UPDATE and DELETE (and TRUNCATE on PostgreSQL) with triggers: a
finished attempt's record is never changed, a correction is a new entry. Integrity beyond
that (tampering by someone who can drop triggers) is the hash chain's job.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_ledger"
down_revision: str | Sequence[str] | None = "0001_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MESSAGE = "ledger_entries is append-only: append a correction entry instead of changing one"

SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER ledger_entries_no_{verb.lower()} BEFORE {verb} ON ledger_entries
    BEGIN SELECT RAISE(ABORT, '{MESSAGE} ({verb} refused)'); END"""
    for verb in ("UPDATE", "DELETE")
]

POSTGRES_TRIGGERS = [
    f"""CREATE FUNCTION ledger_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION '{MESSAGE} (% refused)', TG_OP; END; $$""",
    """CREATE TRIGGER ledger_entries_no_change BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only()""",
    """CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_append_only()""",
]


def upgrade() -> None:
    """Create ``ledger_entries`` and its append-only triggers."""
    op.create_table(
        "ledger_entries",
        sa.Column(
            "sequence",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("job_id", sa.String(64), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("team", sa.String(100), nullable=False),
        sa.Column("project", sa.String(100), nullable=False),
        sa.Column("model_version", sa.String(100), nullable=False),
        sa.Column("region", sa.String(100), nullable=False),
        sa.Column("zone", sa.String(100), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("corrects_entry", sa.BigInteger(), nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.UniqueConstraint("prev_hash", name="uq_ledger_entries_prev_hash"),
        sa.UniqueConstraint("entry_hash", name="uq_ledger_entries_entry_hash"),
    )
    op.create_index("ix_ledger_entries_ended_at", "ledger_entries", ["ended_at"])
    op.create_index("ix_ledger_entries_job", "ledger_entries", ["job_id", "attempt"])
    dialect = op.get_bind().dialect.name
    for statement in POSTGRES_TRIGGERS if dialect == "postgresql" else SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    """Drop ``ledger_entries`` (and, on PostgreSQL, its trigger function)."""
    op.drop_table("ledger_entries")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION ledger_entries_append_only()")
