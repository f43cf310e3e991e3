"""ledger: accounts, transfers, entries (immutable); payments, gateway events, refunds, settlements, instalment plans

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 07:11:27.390078
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import unichannel.db

IMMUTABLE = ("ledger_transfers", "ledger_entries")

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('gateway_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('gateway', sa.String(length=32), nullable=False),
    sa.Column('event_id', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('gateway_reference', sa.String(length=120), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('received_at', unichannel.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gateway_events')),
    sa.UniqueConstraint('gateway', 'event_id', name='uq_gateway_events_gateway_event')
    )
    op.create_table('ledger_accounts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('owner_type', sa.String(length=16), nullable=False),
    sa.Column('owner_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('created_at', unichannel.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("owner_type IN ('customer', 'merchant', 'platform')", name=op.f('ck_ledger_accounts_owner_type_known')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_accounts')),
    sa.UniqueConstraint('id', 'currency', name='uq_ledger_accounts_id_currency'),
    sa.UniqueConstraint('kind', 'owner_id', 'currency', name='uq_ledger_accounts_key')
    )
    op.create_table('instalment_plans',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('total_minor', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('fee_minor', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('fee_refunded_minor', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('months', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', unichannel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', unichannel.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('active', 'overdue', 'paid_off')", name=op.f('ck_instalment_plans_status_known')),
    sa.CheckConstraint('months IN (3, 6, 12)', name=op.f('ck_instalment_plans_months_offered')),
    sa.CheckConstraint('total_minor > 0 AND fee_minor >= 0 AND fee_refunded_minor BETWEEN 0 AND fee_minor', name=op.f('ck_instalment_plans_amounts_valid')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_instalment_plans_customer_id_customers')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_instalment_plans_order_id_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_instalment_plans')),
    sa.UniqueConstraint('order_id', name=op.f('uq_instalment_plans_order_id'))
    )
    with op.batch_alter_table('instalment_plans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_instalment_plans_customer_id'), ['customer_id'], unique=False)

    op.create_table('ledger_transfers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('reference', sa.String(length=120), nullable=False),
    sa.Column('order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('fx_source', sa.String(length=3), nullable=True),
    sa.Column('fx_target', sa.String(length=3), nullable=True),
    sa.Column('fx_rate', sa.String(length=40), nullable=True),
    sa.Column('fx_rate_date', sa.Date(), nullable=True),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('created_at', unichannel.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('capture', 'release', 'refund', 'settlement', 'instalment_plan', 'instalment_payment')", name=op.f('ck_ledger_transfers_kind_known')),
    sa.CheckConstraint('(fx_rate IS NULL) = (fx_rate_date IS NULL)', name=op.f('ck_ledger_transfers_rate_with_its_date')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_ledger_transfers_order_id_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_transfers')),
    sa.UniqueConstraint('reference', name=op.f('uq_ledger_transfers_reference'))
    )
    with op.batch_alter_table('ledger_transfers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_transfers_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_transfers_order_id'), ['order_id'], unique=False)

    op.create_table('payments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('merchant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('gateway', sa.String(length=32), nullable=False),
    sa.Column('gateway_reference', sa.String(length=120), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('request_key', sa.String(length=300), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount_minor', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('captured_minor', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('refunded_minor', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('released_at', unichannel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('released_minor', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('refunded_after_release_minor', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('merchant_currency', sa.String(length=3), nullable=True),
    sa.Column('merchant_gross_minor', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('fee_minor', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('fx_rate', sa.String(length=40), nullable=True),
    sa.Column('fx_rate_date', sa.Date(), nullable=True),
    sa.Column('created_at', unichannel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', unichannel.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(status = 'captured' AND captured_minor = amount_minor) OR (status <> 'captured' AND captured_minor = 0)", name=op.f('ck_payments_captured_when_captured')),
    sa.CheckConstraint("status IN ('authorized', 'captured', 'voided')", name=op.f('ck_payments_status_known')),
    sa.CheckConstraint('amount_minor > 0', name=op.f('ck_payments_amount_positive')),
    sa.CheckConstraint('fee_minor >= 0 AND fee_minor <= merchant_gross_minor', name=op.f('ck_payments_fee_within_gross')),
    sa.CheckConstraint('refunded_after_release_minor >= 0 AND refunded_after_release_minor <= released_minor', name=op.f('ck_payments_refunds_after_release_within_released')),
    sa.CheckConstraint('refunded_minor >= 0 AND refunded_minor <= captured_minor', name=op.f('ck_payments_refunds_within_captured')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_payments_customer_id_customers')),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_payments_merchant_id_merchants')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_payments_order_id_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments')),
    sa.UniqueConstraint('gateway_reference', name=op.f('uq_payments_gateway_reference')),
    sa.UniqueConstraint('request_key', name=op.f('uq_payments_request_key'))
    )
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payments_merchant_id'), ['merchant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payments_order_id'), ['order_id'], unique=False)
        batch_op.create_index('uq_payments_live_order', ['order_id'], unique=True, sqlite_where=sa.text("status IN ('authorized', 'captured')"), postgresql_where=sa.text("status IN ('authorized', 'captured')"))

    op.create_table('instalment_repayments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('plan_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('gateway_reference', sa.String(length=120), nullable=False),
    sa.Column('amount_minor', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('refunded_minor', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('transfer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', unichannel.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount_minor > 0 AND refunded_minor >= 0 AND refunded_minor <= amount_minor', name=op.f('ck_instalment_repayments_amounts_valid')),
    sa.CheckConstraint("(status = 'booked') = (transfer_id IS NOT NULL) AND status IN ('booked', 'unbooked')", name=op.f('ck_instalment_repayments_booked_with_transfer')),
    sa.ForeignKeyConstraint(['plan_id'], ['instalment_plans.id'], name=op.f('fk_instalment_repayments_plan_id_instalment_plans')),
    sa.ForeignKeyConstraint(['transfer_id'], ['ledger_transfers.id'], name=op.f('fk_instalment_repayments_transfer_id_ledger_transfers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_instalment_repayments')),
    sa.UniqueConstraint('gateway_reference', name=op.f('uq_instalment_repayments_gateway_reference'))
    )
    with op.batch_alter_table('instalment_repayments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_instalment_repayments_plan_id'), ['plan_id'], unique=False)

    op.create_table('instalments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('plan_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('scheduled_minor', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('amount_minor', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('paid_minor', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('paid_at', unichannel.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('amount_minor >= 0 AND amount_minor <= scheduled_minor', name=op.f('ck_instalments_amount_within_schedule')),
    sa.CheckConstraint('paid_minor >= 0 AND paid_minor <= amount_minor', name=op.f('ck_instalments_paid_within_amount')),
    sa.ForeignKeyConstraint(['plan_id'], ['instalment_plans.id'], name=op.f('fk_instalments_plan_id_instalment_plans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_instalments')),
    sa.UniqueConstraint('plan_id', 'number', name='uq_instalments_plan_number')
    )
    with op.batch_alter_table('instalments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_instalments_plan_id'), ['plan_id'], unique=False)

    op.create_table('ledger_entries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('transfer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('debit_account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('credit_account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount_minor', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.CheckConstraint('amount_minor > 0', name=op.f('ck_ledger_entries_amount_positive')),
    sa.CheckConstraint('debit_account_id <> credit_account_id', name=op.f('ck_ledger_entries_two_accounts')),
    sa.ForeignKeyConstraint(['credit_account_id', 'currency'], ['ledger_accounts.id', 'ledger_accounts.currency'], name='fk_ledger_entries_credit_same_currency'),
    sa.ForeignKeyConstraint(['debit_account_id', 'currency'], ['ledger_accounts.id', 'ledger_accounts.currency'], name='fk_ledger_entries_debit_same_currency'),
    sa.ForeignKeyConstraint(['transfer_id'], ['ledger_transfers.id'], name=op.f('fk_ledger_entries_transfer_id_ledger_transfers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_entries'))
    )
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_entries_credit_account_id'), ['credit_account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_entries_debit_account_id'), ['debit_account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_entries_transfer_id'), ['transfer_id'], unique=False)

    op.create_table('refunds',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('payment_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('merchant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('amount_minor', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('requested_by', sa.String(length=64), nullable=False),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.Column('gateway_minor', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('gateway_parts', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('transfer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', unichannel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', unichannel.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(transfer_id IS NULL) = (status IN ('requested', 'rejected'))", name=op.f('ck_refunds_posted_when_approved')),
    sa.CheckConstraint("status IN ('requested', 'rejected', 'processing', 'succeeded')", name=op.f('ck_refunds_status_known')),
    sa.CheckConstraint('amount_minor > 0', name=op.f('ck_refunds_amount_positive')),
    sa.CheckConstraint('gateway_minor >= 0', name=op.f('ck_refunds_gateway_part_not_negative')),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_refunds_merchant_id_merchants')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_refunds_order_id_orders')),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_refunds_payment_id_payments')),
    sa.ForeignKeyConstraint(['transfer_id'], ['ledger_transfers.id'], name=op.f('fk_refunds_transfer_id_ledger_transfers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refunds'))
    )
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_refunds_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_refunds_payment_id'), ['payment_id'], unique=False)
        batch_op.create_index('ix_refunds_status', ['status'], unique=False)

    op.create_table('settlements',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('merchant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('business_date', sa.Date(), nullable=False),
    sa.Column('cutoff_at', unichannel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('released_minor', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('fee_minor', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('refunded_minor', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('carried_over_minor', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('payout_minor', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('transfer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', unichannel.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('payout_minor >= 0', name=op.f('ck_settlements_payout_not_negative')),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_settlements_merchant_id_merchants')),
    sa.ForeignKeyConstraint(['transfer_id'], ['ledger_transfers.id'], name=op.f('fk_settlements_transfer_id_ledger_transfers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_settlements')),
    sa.UniqueConstraint('merchant_id', 'currency', 'business_date', name='uq_settlements_merchant_day')
    )
    with op.batch_alter_table('settlements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_settlements_merchant_id'), ['merchant_id'], unique=False)

    _refuse_changes_to_the_ledger()


def _refuse_changes_to_the_ledger() -> None:
    """Ledger rows are written once: the database refuses to update or delete a transfer or an entry."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION ledger_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'the ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME
                    USING ERRCODE = 'integrity_constraint_violation';
            END $$""")
        for table in IMMUTABLE:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       f"FOR EACH ROW EXECUTE FUNCTION ledger_is_append_only()")
        return
    for table in IMMUTABLE:
        for action in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                       f"BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: {action} on {table} refused'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in IMMUTABLE:
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
        op.execute("DROP FUNCTION ledger_is_append_only()")
    else:
        for table in IMMUTABLE:
            for action in ("update", "delete"):
                op.execute(f"DROP TRIGGER {table}_no_{action}")
    with op.batch_alter_table('settlements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_settlements_merchant_id'))

    op.drop_table('settlements')
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_index('ix_refunds_status')
        batch_op.drop_index(batch_op.f('ix_refunds_payment_id'))
        batch_op.drop_index(batch_op.f('ix_refunds_order_id'))

    op.drop_table('refunds')
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_entries_transfer_id'))
        batch_op.drop_index(batch_op.f('ix_ledger_entries_debit_account_id'))
        batch_op.drop_index(batch_op.f('ix_ledger_entries_credit_account_id'))

    op.drop_table('ledger_entries')
    with op.batch_alter_table('instalments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_instalments_plan_id'))

    op.drop_table('instalments')
    with op.batch_alter_table('instalment_repayments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_instalment_repayments_plan_id'))

    op.drop_table('instalment_repayments')
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index('uq_payments_live_order', sqlite_where=sa.text("status IN ('authorized', 'captured')"), postgresql_where=sa.text("status IN ('authorized', 'captured')"))
        batch_op.drop_index(batch_op.f('ix_payments_order_id'))
        batch_op.drop_index(batch_op.f('ix_payments_merchant_id'))

    op.drop_table('payments')
    with op.batch_alter_table('ledger_transfers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_transfers_order_id'))
        batch_op.drop_index(batch_op.f('ix_ledger_transfers_created_at'))

    op.drop_table('ledger_transfers')
    with op.batch_alter_table('instalment_plans', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_instalment_plans_customer_id'))

    op.drop_table('instalment_plans')
    op.drop_table('ledger_accounts')
    op.drop_table('gateway_events')
