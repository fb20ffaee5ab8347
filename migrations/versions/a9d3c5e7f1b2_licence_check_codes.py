"""Licence check codes: the verification page shows a licence only with its code.
Withdrawn articles: when, and why (for staff only, apart from the public rights reason).

Revision ID: a9d3c5e7f1b2
Revises: c4d2e8f1a9b3
Create Date: 2026-11-26 17:10:00
"""

import secrets

import sqlalchemy as sa
from alembic import op

import portal.db

revision = 'a9d3c5e7f1b2'
down_revision = 'c4d2e8f1a9b3'
branch_labels = None
depends_on = None

#: as portal.licences.models.new_check_code, copied so this revision never changes
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


#: as portal.workflows.takedown.WITHDRAWN_PUBLIC
WITHDRAWN_PUBLIC = "The publisher has withdrawn this article."


def _code() -> str:
    code = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    return f"{code[:4]}-{code[4:]}"


def upgrade() -> None:
    with op.batch_alter_table('licences', schema=None) as batch_op:
        batch_op.add_column(sa.Column('check_code', sa.String(length=16), nullable=True))
    # Licences issued before this revision: each gets a code of its own (their holders
    # find it on the status page, the certificate and the copy they download again).
    connection = op.get_bind()
    for (licence_id,) in connection.execute(sa.text("SELECT id FROM licences")).all():
        connection.execute(sa.text("UPDATE licences SET check_code = :code WHERE id = :id"),
                           {"code": _code(), "id": licence_id})
    with op.batch_alter_table('licences', schema=None) as batch_op:
        batch_op.alter_column('check_code', existing_type=sa.String(length=16),
                              nullable=False)

    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.add_column(sa.Column('withdrawn_at', portal.db.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('withdrawal_reason', sa.Text(), nullable=True))
    # Articles withdrawn before this revision carried the (internal) reason in the public
    # rights reason: move it where only staff read it.
    connection.execute(sa.text(
        "UPDATE articles SET withdrawn_at = updated_at, withdrawal_reason = rights_reason, "
        "rights_reason = :public WHERE rights_reason LIKE 'Withdrawn by the publisher:%'"),
        {"public": WITHDRAWN_PUBLIC})


def downgrade() -> None:
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.drop_column('withdrawal_reason')
        batch_op.drop_column('withdrawn_at')
    with op.batch_alter_table('licences', schema=None) as batch_op:
        batch_op.drop_column('check_code')
