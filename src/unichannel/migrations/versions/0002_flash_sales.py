"""flash sales: sales, stock pools, purchases per customer; orders.flash_sale_id

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 09:32:49.588873
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import unichannel.db

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('flash_sales',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('merchant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('variant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('price_minor', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('sold', sa.Integer(), nullable=False),
    sa.Column('per_customer_limit', sa.Integer(), nullable=False),
    sa.Column('starts_at', unichannel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', unichannel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', unichannel.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_flash_sales_ends_after_start')),
    sa.CheckConstraint('per_customer_limit >= 1', name=op.f('ck_flash_sales_limit_positive')),
    sa.CheckConstraint('price_minor >= 0', name=op.f('ck_flash_sales_price_not_negative')),
    sa.CheckConstraint('sold >= 0 AND sold <= quantity', name=op.f('ck_flash_sales_sold_within_quantity')),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_flash_sales_merchant_id_merchants')),
    sa.ForeignKeyConstraint(['variant_id'], ['variants.id'], name=op.f('fk_flash_sales_variant_id_variants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flash_sales'))
    )
    with op.batch_alter_table('flash_sales', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_flash_sales_merchant_id'), ['merchant_id'], unique=False)

    op.create_table('flash_sale_locations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('flash_sale_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('location_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['flash_sale_id'], ['flash_sales.id'], name=op.f('fk_flash_sale_locations_flash_sale_id_flash_sales')),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_flash_sale_locations_location_id_locations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flash_sale_locations')),
    sa.UniqueConstraint('flash_sale_id', 'location_id', name='uq_flash_sale_locations_sale_location')
    )
    op.create_table('flash_sale_purchases',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('flash_sale_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.CheckConstraint('quantity >= 0', name=op.f('ck_flash_sale_purchases_quantity_not_negative')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_flash_sale_purchases_customer_id_customers')),
    sa.ForeignKeyConstraint(['flash_sale_id'], ['flash_sales.id'], name=op.f('fk_flash_sale_purchases_flash_sale_id_flash_sales')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flash_sale_purchases')),
    sa.UniqueConstraint('flash_sale_id', 'customer_id', name='uq_flash_sale_purchases_sale_customer')
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('flash_sale_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.alter_column('checkout_id', existing_type=sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                              nullable=True)
        batch_op.create_index(batch_op.f('ix_orders_flash_sale_id'), ['flash_sale_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_orders_flash_sale_id_flash_sales'), 'flash_sales', ['flash_sale_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.alter_column('checkout_id', existing_type=sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                              nullable=False)
        batch_op.drop_constraint(batch_op.f('fk_orders_flash_sale_id_flash_sales'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_orders_flash_sale_id'))
        batch_op.drop_column('flash_sale_id')

    op.drop_table('flash_sale_purchases')
    op.drop_table('flash_sale_locations')
    with op.batch_alter_table('flash_sales', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_flash_sales_merchant_id'))

    op.drop_table('flash_sales')
