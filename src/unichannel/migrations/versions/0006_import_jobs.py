"""import jobs: a product CSV's progress and report, readable from every server process

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 13:12:37.363773
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import unichannel.db

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('import_jobs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('merchant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('started_by', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('file_name', sa.String(length=120), nullable=False),
    sa.Column('location_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('rows_read', sa.Integer(), nullable=False),
    sa.Column('products_total', sa.Integer(), nullable=False),
    sa.Column('products_done', sa.Integer(), nullable=False),
    sa.Column('products_created', sa.Integer(), nullable=False),
    sa.Column('products_updated', sa.Integer(), nullable=False),
    sa.Column('variants_created', sa.Integer(), nullable=False),
    sa.Column('variants_updated', sa.Integer(), nullable=False),
    sa.Column('issues', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('started_at', unichannel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', unichannel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', unichannel.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("(status = 'running') = (finished_at IS NULL)", name=op.f('ck_import_jobs_finished_unless_running')),
    sa.CheckConstraint("source IN ('woocommerce', 'shopify')", name=op.f('ck_import_jobs_source_known')),
    sa.CheckConstraint("status IN ('running', 'done', 'failed')", name=op.f('ck_import_jobs_status_known')),
    sa.CheckConstraint('products_done >= 0 AND products_done <= products_total', name=op.f('ck_import_jobs_done_within_total')),
    sa.CheckConstraint('rows_read >= 0 AND products_created >= 0 AND products_updated >= 0 AND variants_created >= 0 AND variants_updated >= 0 AND products_created + products_updated <= products_done', name=op.f('ck_import_jobs_counts_consistent')),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_import_jobs_location_id_locations')),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_import_jobs_merchant_id_merchants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_jobs'))
    )
    with op.batch_alter_table('import_jobs', schema=None) as batch_op:
        batch_op.create_index('ix_import_jobs_merchant', ['merchant_id', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('import_jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_import_jobs_merchant')
    op.drop_table('import_jobs')
