"""Periodic jobs: the period each job last ran for, taken by one runner at a time.

Revision ID: c4d2e8f1a9b3
Revises: a7c3e91d2b40
Create Date: 2026-11-26 15:40:00
"""

import sqlalchemy as sa
from alembic import op

import portal.db

revision = 'c4d2e8f1a9b3'
down_revision = 'a7c3e91d2b40'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'job_runs',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('period_start', portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('runner', sa.String(length=200), nullable=True),
        sa.Column('started_at', portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('finished_at', portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('succeeded', sa.Boolean(), nullable=True),
        sa.Column('outcome', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_job_runs')),
    )


def downgrade() -> None:
    op.drop_table('job_runs')
