"""merchants.fulfilment_strategy: how a merchant's online orders choose the location that ships

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 08:20:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fulfilment_strategy', sa.String(length=24), nullable=False,
                                      server_default='keep_shelves_stocked'))
        batch_op.create_check_constraint(
            'strategy_known', "fulfilment_strategy IN ('nearest_first', 'priority_order', 'keep_shelves_stocked')")


def downgrade() -> None:
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.drop_constraint('ck_merchants_strategy_known', type_='check')
        batch_op.drop_column('fulfilment_strategy')
