"""The buyer's fast lane: instant rules on the rate card, instant requests and unanswered
messages on requests, counter-offers and accepted terms on quotes, accepted terms on licences.

Revision ID: f2a4c6e8b0d1
Revises: d1f3b5c7e9a2
Create Date: 2026-11-27 00:20:00
"""

import sqlalchemy as sa
from alembic import op

import portal.db

revision = 'f2a4c6e8b0d1'
down_revision = 'd1f3b5c7e9a2'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Columns are added in place (no batch copy): on SQLite a copy drops the old table, which
    # rows of other tables refer to.
    sqlite = op.get_bind().dialect.name == 'sqlite'
    op.add_column('rate_cards', sa.Column('instant_enabled', sa.Boolean(), nullable=False,
                                          server_default=sa.false()))
    op.add_column('rate_cards', sa.Column('instant_max_minor', sa.BigInteger(), nullable=False,
                                          server_default='0'))
    op.add_column('rate_cards', sa.Column('instant_rules', sa.JSON(), nullable=True))
    op.add_column('requests', sa.Column('instant', sa.Boolean(), nullable=False,
                                        server_default=sa.false()))
    op.add_column('requests', sa.Column('awaiting_reply_since',
                                        portal.db.UTCDateTime(timezone=True), nullable=True))
    op.create_index('ix_requests_awaiting_reply_since', 'requests', ['awaiting_reply_since'])
    op.add_column('quotes', sa.Column('counter_minor', sa.BigInteger(), nullable=True))
    if sqlite:  # (SQLite takes a new column's reference inline, and no ALTER ... ADD CONSTRAINT)
        op.execute('ALTER TABLE quotes ADD COLUMN accepted_terms_id INTEGER CONSTRAINT '
                   'fk_quotes_accepted_terms_id_licence_terms REFERENCES licence_terms (id)')
    else:
        op.add_column('quotes', sa.Column('accepted_terms_id', sa.Integer(), nullable=True))
        op.create_foreign_key('fk_quotes_accepted_terms_id_licence_terms', 'quotes',
                              'licence_terms', ['accepted_terms_id'], ['id'])
    op.add_column('quotes', sa.Column('terms_accepted_at', portal.db.UTCDateTime(timezone=True),
                                      nullable=True))
    op.add_column('licences', sa.Column('terms_accepted_at',
                                        portal.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # (SQLite drops columns in place since 3.35, a column with a reference included)
    sqlite = op.get_bind().dialect.name == 'sqlite'
    op.drop_column('licences', 'terms_accepted_at')
    op.drop_column('quotes', 'terms_accepted_at')
    if not sqlite:
        op.drop_constraint('fk_quotes_accepted_terms_id_licence_terms', 'quotes',
                           type_='foreignkey')
    op.drop_column('quotes', 'accepted_terms_id')
    op.drop_column('quotes', 'counter_minor')
    op.drop_index('ix_requests_awaiting_reply_since', 'requests')
    op.drop_column('requests', 'awaiting_reply_since')
    op.drop_column('requests', 'instant')
    op.drop_column('rate_cards', 'instant_rules')
    op.drop_column('rate_cards', 'instant_max_minor')
    op.drop_column('rate_cards', 'instant_enabled')
