"""Checkout return keys (the provider never sees the status token), the demo checkout's
return addresses, and payment ids handed out before the provider is asked.

Revision ID: a7c3e91d2b40
Revises: f68e8b6b9eaf
Create Date: 2026-11-26 15:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = 'a7c3e91d2b40'
down_revision = 'f68e8b6b9eaf'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('return_key', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_payments_return_key'), ['return_key'])
    with op.batch_alter_table('demo_checkouts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('success_url', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('cancel_url', sa.Text(), nullable=True))
    # New payments take their ids from the "payment-id" counter (the id goes to the provider
    # before the row is written): start it after the payments already recorded.
    op.execute(
        "INSERT INTO counters (name, value) "
        "SELECT 'payment-id', COALESCE(MAX(id), 0) FROM payments"
    )


def downgrade() -> None:
    op.execute("DELETE FROM counters WHERE name = 'payment-id'")
    with op.batch_alter_table('demo_checkouts', schema=None) as batch_op:
        batch_op.drop_column('cancel_url')
        batch_op.drop_column('success_url')
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_payments_return_key'), type_='unique')
        batch_op.drop_column('return_key')
