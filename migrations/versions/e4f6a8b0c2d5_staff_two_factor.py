"""Staff two-factor sign-in: a TOTP secret, the last time step used, recovery code hashes.

Revision ID: e4f6a8b0c2d5
Revises: a9d3c5e7f1b2
Create Date: 2026-11-26 17:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = 'e4f6a8b0c2d5'
# (the brief named c4d2e8f1a9b3, but a9d3c5e7f1b2 was committed on top of it meanwhile: one head)
down_revision = 'a9d3c5e7f1b2'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('staff_users') as batch:
        batch.add_column(sa.Column('totp_secret', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('totp_last_step', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('recovery_code_hashes', sa.Text(), nullable=False,
                                   server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('staff_users') as batch:
        batch.drop_column('recovery_code_hashes')
        batch.drop_column('totp_last_step')
        batch.drop_column('totp_secret')
