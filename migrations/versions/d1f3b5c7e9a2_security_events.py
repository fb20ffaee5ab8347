"""The security log: an append-only table of sign-ins, refusals, downloads and changes,
with triggers that refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL).

Revision ID: d1f3b5c7e9a2
Revises: e4f6a8b0c2d5
Create Date: 2026-11-26 23:50:00
"""

import sqlalchemy as sa
from alembic import op

import portal.db

revision = 'd1f3b5c7e9a2'
down_revision = 'e4f6a8b0c2d5'
branch_labels = None
depends_on = None

POSTGRES_APPEND_ONLY = """
CREATE FUNCTION security_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'security_events is append-only (% refused)', TG_OP;
END $$;
CREATE TRIGGER security_events_no_change BEFORE UPDATE OR DELETE ON security_events
    FOR EACH ROW EXECUTE FUNCTION security_events_append_only();
CREATE TRIGGER security_events_no_truncate BEFORE TRUNCATE ON security_events
    FOR EACH STATEMENT EXECUTE FUNCTION security_events_append_only();
"""
SQLITE_APPEND_ONLY = (
    "CREATE TRIGGER security_events_no_update BEFORE UPDATE ON security_events "
    "BEGIN SELECT RAISE(ABORT, 'security_events is append-only (UPDATE refused)'); END",
    "CREATE TRIGGER security_events_no_delete BEFORE DELETE ON security_events "
    "BEGIN SELECT RAISE(ABORT, 'security_events is append-only (DELETE refused)'); END",
)


def upgrade() -> None:
    op.create_table(
        'security_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('created_at', portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('actor', sa.String(length=200), nullable=False),
        sa.Column('ip', sa.String(length=64), nullable=True),
        sa.Column('target', sa.String(length=320), nullable=True),
        sa.Column('detail', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_security_events')),
    )
    op.create_index(op.f('ix_security_events_created_at'), 'security_events', ['created_at'])
    op.create_index('ix_security_events_kind_created_at', 'security_events',
                    ['kind', 'created_at'])
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(POSTGRES_APPEND_ONLY)
    else:
        for statement in SQLITE_APPEND_ONLY:
            op.execute(statement)


def downgrade() -> None:
    op.drop_table('security_events')  # its triggers go with it
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP FUNCTION security_events_append_only()')
