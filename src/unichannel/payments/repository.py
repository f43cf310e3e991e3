"""Ledger and payment tables.

The database holds the ledger's shape as the model does: an entry moves a positive amount from one account to
another of the same currency (a composite foreign key ties both accounts to the entry's currency), so every
transfer sums to zero per currency whatever code wrote it; migration 0003 adds triggers that refuse any UPDATE or
DELETE of a transfer or an entry. Balances are never stored: they are sums over entries.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Integer,
    ForeignKeyConstraint,
    Index,
    String,
    Table,
    UniqueConstraint,
    and_,
    func,
    select,
    text,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from unichannel.db import Id, Json, UTCDateTime, metadata, upsert_insert
from unichannel.payments.model import AccountKey, AccountKind, Transfer, TransferKind, owner_type

ledger_accounts = Table(
    "ledger_accounts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("owner_type", String(16), nullable=False),
    Column("owner_id", Id, nullable=False),  # a customer, a merchant, or 0 for the platform
    Column("currency", String(3), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("kind", "owner_id", "currency", name="uq_ledger_accounts_key"),
    UniqueConstraint("id", "currency", name="uq_ledger_accounts_id_currency"),  # target of the entries' currency FKs
    CheckConstraint("owner_type IN ('customer', 'merchant', 'platform')", name="owner_type_known"),
)

ledger_transfers = Table(
    "ledger_transfers",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(24), nullable=False),
    # What made it, unique: a second attempt to post the same business event (a retried capture, a settlement run
    # twice) finds the first instead of moving money again.
    Column("reference", String(120), nullable=False, unique=True),
    Column("order_id", Id, ForeignKey("orders.id"), nullable=True, index=True),
    Column("fx_source", String(3), nullable=True),
    Column("fx_target", String(3), nullable=True),
    Column("fx_rate", String(40), nullable=True),  # a decimal, kept as text: never a float
    Column("fx_rate_date", Date, nullable=True),
    Column("note", String(200), nullable=False, default=""),
    Column("created_at", UTCDateTime, nullable=False, index=True),
    CheckConstraint(
        "kind IN ('capture', 'release', 'refund', 'settlement', 'instalment_plan', 'instalment_payment')",
        name="kind_known",
    ),
    CheckConstraint("(fx_rate IS NULL) = (fx_rate_date IS NULL)", name="rate_with_its_date"),
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("transfer_id", Id, ForeignKey("ledger_transfers.id"), nullable=False, index=True),
    Column("debit_account_id", Id, nullable=False, index=True),
    Column("credit_account_id", Id, nullable=False, index=True),
    Column("currency", String(3), nullable=False),
    Column("amount_minor", Id, nullable=False),
    CheckConstraint("amount_minor > 0", name="amount_positive"),
    CheckConstraint("debit_account_id <> credit_account_id", name="two_accounts"),
    ForeignKeyConstraint(["debit_account_id", "currency"], ["ledger_accounts.id", "ledger_accounts.currency"],
                         name="fk_ledger_entries_debit_same_currency"),
    ForeignKeyConstraint(["credit_account_id", "currency"], ["ledger_accounts.id", "ledger_accounts.currency"],
                         name="fk_ledger_entries_credit_same_currency"),
)

payments = Table(
    "payments",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("order_id", Id, ForeignKey("orders.id"), nullable=False, index=True),
    Column("customer_id", Id, ForeignKey("customers.id"), nullable=False),
    Column("merchant_id", Id, ForeignKey("merchants.id"), nullable=False, index=True),
    Column("gateway", String(32), nullable=False),
    Column("gateway_reference", String(120), nullable=False, unique=True),
    Column("method", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    # The client's Idempotency-Key of the pay request (with its caller): a retry finds this payment.
    Column("request_key", String(300), nullable=True, unique=True),
    Column("currency", String(3), nullable=False),
    Column("amount_minor", Id, nullable=False),  # authorized
    Column("captured_minor", Id, nullable=False),  # 0 until captured
    Column("refunded_minor", Id, nullable=False, default=0),
    # Set when receipt is confirmed and escrow released (refunds after release reverse exactly these figures).
    Column("released_at", UTCDateTime, nullable=True),
    Column("released_minor", Id, nullable=False, default=0),
    Column("refunded_after_release_minor", Id, nullable=False, default=0),
    Column("merchant_currency", String(3), nullable=True),
    Column("merchant_gross_minor", Id, nullable=False, default=0),
    Column("fee_minor", Id, nullable=False, default=0),
    Column("fx_rate", String(40), nullable=True),
    Column("fx_rate_date", Date, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # authorized (held on the card) -> captured (taken: escrow) or voided (released, never captured)
    CheckConstraint("status IN ('authorized', 'captured', 'voided')", name="status_known"),
    CheckConstraint("amount_minor > 0", name="amount_positive"),
    CheckConstraint(
        "(status = 'captured' AND captured_minor = amount_minor) OR (status <> 'captured' AND captured_minor = 0)",
        name="captured_when_captured",
    ),
    # Design invariant 6, held by the database too: never refunded beyond what was captured.
    CheckConstraint("refunded_minor >= 0 AND refunded_minor <= captured_minor", name="refunds_within_captured"),
    CheckConstraint(
        "refunded_after_release_minor >= 0 AND refunded_after_release_minor <= released_minor",
        name="refunds_after_release_within_released",
    ),
    CheckConstraint("fee_minor >= 0 AND fee_minor <= merchant_gross_minor", name="fee_within_gross"),
    # An order has at most one live payment (authorized or captured): a second capture for the same order, or two
    # payments racing, are refused by the database.
    Index("uq_payments_live_order", "order_id", unique=True,
          sqlite_where=text("status IN ('authorized', 'captured')"), postgresql_where=text("status IN ('authorized', 'captured')")),
)

refunds = Table(
    "refunds",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("payment_id", Id, ForeignKey("payments.id"), nullable=False, index=True),
    Column("order_id", Id, ForeignKey("orders.id"), nullable=False, index=True),
    Column("merchant_id", Id, ForeignKey("merchants.id"), nullable=False),
    Column("amount_minor", Id, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("reason", String(200), nullable=False, default=""),
    # requested (by the shopper; pauses auto-confirmation) -> rejected, or -> processing (posted in the ledger; the
    # gateway is paying it back) -> succeeded.
    Column("status", String(16), nullable=False),
    Column("requested_by", String(64), nullable=False),
    Column("decided_by", String(64), nullable=True),
    # What the gateway pays back: the amount, except for an order paid in instalments, where the refund (with its
    # share of the plan's fee) first pays down what the shopper still owes and only the rest goes back.
    Column("gateway_minor", Id, nullable=False),
    # [[gateway reference, amount], ...]: which captures the gateway pays the refund back from (set on approval)
    Column("gateway_parts", Json, nullable=True),
    Column("transfer_id", Id, ForeignKey("ledger_transfers.id"), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("amount_minor > 0", name="amount_positive"),
    CheckConstraint("gateway_minor >= 0", name="gateway_part_not_negative"),
    CheckConstraint("status IN ('requested', 'rejected', 'processing', 'succeeded')", name="status_known"),
    CheckConstraint("(transfer_id IS NULL) = (status IN ('requested', 'rejected'))", name="posted_when_approved"),
    Index("ix_refunds_status", "status"),
)

instalment_plans = Table(
    "instalment_plans",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("order_id", Id, ForeignKey("orders.id"), nullable=False, unique=True),
    Column("customer_id", Id, ForeignKey("customers.id"), nullable=False, index=True),
    Column("currency", String(3), nullable=False),
    Column("total_minor", Id, nullable=False),  # lent: the order's total
    Column("fee_minor", Id, nullable=False),
    Column("fee_refunded_minor", Id, nullable=False),  # the fee given back with refunds, in proportion
    Column("months", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # active, overdue, paid_off
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("months IN (3, 6, 12)", name="months_offered"),
    CheckConstraint("total_minor > 0 AND fee_minor >= 0 AND fee_refunded_minor BETWEEN 0 AND fee_minor",
                    name="amounts_valid"),
    CheckConstraint("status IN ('active', 'overdue', 'paid_off')", name="status_known"),
)

instalments = Table(
    "instalments",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("plan_id", Id, ForeignKey("instalment_plans.id"), nullable=False, index=True),
    Column("number", Integer, nullable=False),
    Column("due_on", Date, nullable=False),
    Column("scheduled_minor", Id, nullable=False),  # as first scheduled
    Column("amount_minor", Id, nullable=False),  # owed now: lower once a refund paid part of it
    Column("paid_minor", Id, nullable=False),
    Column("paid_at", UTCDateTime, nullable=True),  # when it was paid in full
    UniqueConstraint("plan_id", "number", name="uq_instalments_plan_number"),
    CheckConstraint("amount_minor >= 0 AND amount_minor <= scheduled_minor", name="amount_within_schedule"),
    CheckConstraint("paid_minor >= 0 AND paid_minor <= amount_minor", name="paid_within_amount"),
)

instalment_repayments = Table(
    "instalment_repayments",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("plan_id", Id, ForeignKey("instalment_plans.id"), nullable=False, index=True),
    Column("gateway_reference", String(120), nullable=False, unique=True),
    Column("amount_minor", Id, nullable=False),
    Column("refunded_minor", Id, nullable=False),  # paid back through the gateway when a refund exceeded the debt
    # booked (in the ledger), or unbooked: the capture could not be booked and was refunded whole; a retry of the
    # same request must not book it then
    Column("status", String(16), nullable=False),
    Column("transfer_id", Id, ForeignKey("ledger_transfers.id"), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("amount_minor > 0 AND refunded_minor >= 0 AND refunded_minor <= amount_minor",
                    name="amounts_valid"),
    CheckConstraint("(status = 'booked') = (transfer_id IS NOT NULL) AND status IN ('booked', 'unbooked')",
                    name="booked_with_transfer"),
)

gateway_events = Table(
    "gateway_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("gateway", String(32), nullable=False),
    Column("event_id", String(120), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("gateway_reference", String(120), nullable=False),
    # What applying it did: captured, voided, refunded, duplicate (already so), ignored (a late event that must not
    # change a final state, e.g. a capture of a voided payment)
    Column("outcome", String(16), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    # A webhook delivered twice (or fifty times at once) is applied once.
    UniqueConstraint("gateway", "event_id", name="uq_gateway_events_gateway_event"),
)

settlements = Table(
    "settlements",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("merchant_id", Id, ForeignKey("merchants.id"), nullable=False, index=True),
    Column("currency", String(3), nullable=False),
    Column("business_date", Date, nullable=False),
    Column("cutoff_at", UTCDateTime, nullable=False),
    Column("released_minor", Id, nullable=False),  # gross released in the period
    Column("fee_minor", Id, nullable=False),
    Column("refunded_minor", Id, nullable=False),  # refunds taken from the payable in the period
    Column("carried_over_minor", Id, nullable=False),  # the payable left from before the period (may be negative)
    Column("payout_minor", Id, nullable=False),  # what was moved to settled (0 when the payable was not positive)
    Column("transfer_id", Id, ForeignKey("ledger_transfers.id"), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("merchant_id", "currency", "business_date", name="uq_settlements_merchant_day"),
    CheckConstraint("payout_minor >= 0", name="payout_not_negative"),
)


async def _one(conn: AsyncConnection, query: Any, for_update: bool) -> dict[str, Any] | None:
    """The first row of `query`, locked for the transaction (on PostgreSQL) when asked."""
    if for_update and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = (await conn.execute(query)).mappings().first()
    return dict(row) if row else None


# --- accounts and transfers -------------------------------------------------------------------------------------

async def account_ids(conn: AsyncConnection, keys: set[AccountKey], now: datetime) -> dict[AccountKey, int]:
    """The ids of these accounts, opening the ones that do not exist yet (safe under concurrency)."""
    rows = [
        {"kind": k.kind.value, "owner_type": owner_type(k.kind), "owner_id": k.owner_id, "currency": k.currency,
         "created_at": now}
        for k in sorted(keys)
    ]
    insert = upsert_insert(conn, ledger_accounts)
    await conn.execute(insert.on_conflict_do_nothing(index_elements=["kind", "owner_id", "currency"]), rows)
    return await find_accounts(conn, keys)


async def find_accounts(conn: AsyncConnection, keys: set[AccountKey]) -> dict[AccountKey, int]:
    if not keys:
        return {}
    wanted = {(k.kind.value, k.owner_id, k.currency): k for k in keys}
    query = select(ledger_accounts.c.id, ledger_accounts.c.kind, ledger_accounts.c.owner_id,
                   ledger_accounts.c.currency).where(ledger_accounts.c.owner_id.in_({k.owner_id for k in keys}))
    found = {}
    for row in (await conn.execute(query)).all():
        key = wanted.get((row.kind, row.owner_id, row.currency))
        if key is not None:
            found[key] = row.id
    return found


async def transfer_by_reference(conn: AsyncConnection, reference: str) -> dict[str, Any] | None:
    row = (await conn.execute(select(ledger_transfers).where(ledger_transfers.c.reference == reference))).mappings()
    first = row.first()
    return dict(first) if first else None


async def post(conn: AsyncConnection, transfer: Transfer, reference: str, now: datetime) -> int:
    """Writes the transfer and its entries; returns its id. The caller's transaction makes it all-or-nothing."""
    assert all(net == 0 for net in transfer.net_by_currency().values()), "an unbalanced transfer"
    keys = {p.debit for p in transfer.postings} | {p.credit for p in transfer.postings}
    ids = await account_ids(conn, keys, now)
    conversion = transfer.conversion
    transfer_id = (await conn.execute(ledger_transfers.insert().values(
        kind=transfer.kind.value, reference=reference, order_id=transfer.order_id,
        fx_source=conversion.source if conversion else None, fx_target=conversion.target if conversion else None,
        fx_rate=str(conversion.rate) if conversion else None, fx_rate_date=conversion.rate_date if conversion else None,
        note=transfer.note, created_at=now,
    ).returning(ledger_transfers.c.id))).scalar_one()
    await conn.execute(ledger_entries.insert(), [
        {"transfer_id": transfer_id, "debit_account_id": ids[p.debit], "credit_account_id": ids[p.credit],
         "currency": p.currency, "amount_minor": p.amount_minor}
        for p in transfer.postings
    ])
    return transfer_id


def _signed_entries():  # noqa: ANN202 - a selectable of (account_id, transfer_id, signed amount)
    credits = select(ledger_entries.c.credit_account_id.label("account_id"), ledger_entries.c.transfer_id,
                     ledger_entries.c.amount_minor.label("amount"))
    debits = select(ledger_entries.c.debit_account_id.label("account_id"), ledger_entries.c.transfer_id,
                    (-ledger_entries.c.amount_minor).label("amount"))
    return union_all(credits, debits).subquery("signed")


async def balances(
    conn: AsyncConnection, *, kind: AccountKind | None = None, owner_id: int | None = None,
    before: datetime | None = None, exclude_kind: TransferKind | None = None,
) -> list[dict[str, Any]]:
    """Accounts with their balances derived from entries (credits minus debits), optionally as of `before` and
    leaving out transfers of one kind."""
    signed = _signed_entries()
    conditions = [signed.c.transfer_id == ledger_transfers.c.id]
    if before is not None:
        conditions.append(ledger_transfers.c.created_at < before)
    if exclude_kind is not None:
        conditions.append(ledger_transfers.c.kind != exclude_kind.value)
    moved = (
        select(signed.c.account_id, func.sum(signed.c.amount).label("balance"))
        .select_from(signed.join(ledger_transfers, and_(*conditions)))
        .group_by(signed.c.account_id)
        .subquery("moved")
    )
    query = (
        select(ledger_accounts, func.coalesce(moved.c.balance, 0).label("balance_minor"))
        .select_from(ledger_accounts.outerjoin(moved, moved.c.account_id == ledger_accounts.c.id))
        .order_by(ledger_accounts.c.id)
    )
    if kind is not None:
        query = query.where(ledger_accounts.c.kind == kind.value)
    if owner_id is not None:
        query = query.where(ledger_accounts.c.owner_id == owner_id)
    # PostgreSQL sums BIGINTs as NUMERIC: back to int, the one type money has here.
    return [dict(r) | {"balance_minor": int(r["balance_minor"])} for r in (await conn.execute(query)).mappings()]


async def movements_by_kind(
    conn: AsyncConnection, account_id: int, after: datetime | None, before: datetime
) -> dict[str, int]:
    """How much each kind of transfer moved an account's balance in [after, before)."""
    signed = _signed_entries()
    conditions = [signed.c.transfer_id == ledger_transfers.c.id, ledger_transfers.c.created_at < before]
    if after is not None:
        conditions.append(ledger_transfers.c.created_at >= after)
    query = (
        select(ledger_transfers.c.kind, func.sum(signed.c.amount))
        .select_from(signed.join(ledger_transfers, and_(*conditions)))
        .where(signed.c.account_id == account_id)
        .group_by(ledger_transfers.c.kind)
    )
    return {kind: int(total) for kind, total in (await conn.execute(query)).all()}


async def entries_of(conn: AsyncConnection, transfer_ids: list[int]) -> list[dict[str, Any]]:
    if not transfer_ids:
        return []
    debit = ledger_accounts.alias("debit")
    credit = ledger_accounts.alias("credit")
    query = (
        select(ledger_entries.c.transfer_id, ledger_entries.c.amount_minor, ledger_entries.c.currency,
               debit.c.kind.label("debit_kind"), debit.c.owner_id.label("debit_owner_id"),
               credit.c.kind.label("credit_kind"), credit.c.owner_id.label("credit_owner_id"))
        .join(debit, debit.c.id == ledger_entries.c.debit_account_id)
        .join(credit, credit.c.id == ledger_entries.c.credit_account_id)
        .where(ledger_entries.c.transfer_id.in_(transfer_ids))
        .order_by(ledger_entries.c.id)
    )
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def transfers_of_order(conn: AsyncConnection, order_id: int) -> list[dict[str, Any]]:
    query = select(ledger_transfers).where(ledger_transfers.c.order_id == order_id).order_by(ledger_transfers.c.id)
    return [dict(r) for r in (await conn.execute(query)).mappings()]


# --- payments, refunds, settlements ----------------------------------------------------------------------------

async def insert_payment(conn: AsyncConnection, values: dict[str, Any]) -> int | None:
    """The new payment's id; None when a payment with this gateway reference is recorded already."""
    insert = upsert_insert(conn, payments).values(**values).on_conflict_do_nothing(index_elements=["gateway_reference"])
    return (await conn.execute(insert.returning(payments.c.id))).scalar_one_or_none()


async def payment_by_reference(conn: AsyncConnection, gateway_reference: str, *, for_update: bool = False
                               ) -> dict[str, Any] | None:
    return await _one(conn, select(payments).where(payments.c.gateway_reference == gateway_reference), for_update)


async def payment_by_request_key(conn: AsyncConnection, request_key: str) -> dict[str, Any] | None:
    return await _one(conn, select(payments).where(payments.c.request_key == request_key), False)


async def _move(conn: AsyncConnection, table: Table, row_id: int, from_status: str, values: dict[str, Any]) -> bool:
    """Changes a row only if it is still in `from_status`: of two racing changes, one wins."""
    result = await conn.execute(
        table.update().where(table.c.id == row_id, table.c.status == from_status).values(**values)
    )
    return result.rowcount == 1


async def move_payment(conn: AsyncConnection, payment_id: int, from_status: str, values: dict[str, Any]) -> bool:
    return await _move(conn, payments, payment_id, from_status, values)


async def record_event(conn: AsyncConnection, values: dict[str, Any]) -> int | None:
    """The event's row id, or None when this gateway's event was recorded before (a duplicate delivery)."""
    insert = upsert_insert(conn, gateway_events).values(**values)
    insert = insert.on_conflict_do_nothing(index_elements=["gateway", "event_id"])
    return (await conn.execute(insert.returning(gateway_events.c.id))).scalar_one_or_none()


async def set_event_outcome(conn: AsyncConnection, event_row_id: int, outcome: str) -> None:
    await conn.execute(gateway_events.update().where(gateway_events.c.id == event_row_id).values(outcome=outcome))


async def authorizations_older_than(conn: AsyncConnection, before: datetime, limit: int) -> list[dict[str, Any]]:
    query = (select(payments).where(payments.c.status == "authorized", payments.c.created_at < before)
             .order_by(payments.c.id).limit(limit))
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def captured_payment(conn: AsyncConnection, order_id: int, *, for_update: bool = False) -> dict[str, Any] | None:
    query = select(payments).where(payments.c.order_id == order_id, payments.c.status == "captured")
    return await _one(conn, query, for_update)


async def add_refunded(conn: AsyncConnection, payment_id: int, amount_minor: int, after_release: bool,
                       now: datetime) -> bool:
    """Counts a refund against the payment only if it still fits under what was captured (atomic, race-safe)."""
    values: dict[str, Any] = {"refunded_minor": payments.c.refunded_minor + amount_minor, "updated_at": now}
    if after_release:
        values["refunded_after_release_minor"] = payments.c.refunded_after_release_minor + amount_minor
    result = await conn.execute(
        payments.update()
        .where(payments.c.id == payment_id,
               payments.c.refunded_minor + amount_minor <= payments.c.captured_minor,
               (payments.c.released_at.is_not(None)) if after_release else payments.c.released_at.is_(None))
        .values(**values)
    )
    return result.rowcount == 1


async def mark_released(conn: AsyncConnection, payment_id: int, values: dict[str, Any]) -> bool:
    result = await conn.execute(
        payments.update().where(payments.c.id == payment_id, payments.c.released_at.is_(None)).values(**values)
    )
    return result.rowcount == 1


async def insert_refund(conn: AsyncConnection, values: dict[str, Any]) -> int:
    return (await conn.execute(refunds.insert().values(**values).returning(refunds.c.id))).scalar_one()


async def get_refund(conn: AsyncConnection, refund_id: int) -> dict[str, Any] | None:
    return await _one(conn, select(refunds).where(refunds.c.id == refund_id), False)


async def update_refund(conn: AsyncConnection, refund_id: int, from_status: str, values: dict[str, Any]) -> bool:
    return await _move(conn, refunds, refund_id, from_status, values)


async def refunds_of_order(conn: AsyncConnection, order_id: int) -> list[dict[str, Any]]:
    query = select(refunds).where(refunds.c.order_id == order_id).order_by(refunds.c.id)
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def cash_refunds_waiting(conn: AsyncConnection, location_id: int, limit: int = 50) -> list[dict[str, Any]]:
    """Approved refunds of cash payments for orders of this store, oldest first: notes its clerk is to hand back."""
    from unichannel.orders.repository import orders

    query = (
        select(refunds.c.id, refunds.c.order_id, refunds.c.amount_minor, refunds.c.currency, refunds.c.reason,
               refunds.c.created_at)
        .join(payments, payments.c.id == refunds.c.payment_id)
        .join(orders, orders.c.id == refunds.c.order_id)
        .where(refunds.c.status == "processing", payments.c.gateway == "cash", orders.c.location_id == location_id)
        .order_by(refunds.c.id).limit(limit)
    )
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def refunds_in_status(conn: AsyncConnection, status: str, limit: int) -> list[dict[str, Any]]:
    query = select(refunds).where(refunds.c.status == status).order_by(refunds.c.id).limit(limit)
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def insert_settlement(conn: AsyncConnection, values: dict[str, Any]) -> int | None:
    """The new settlement's id, or None when this merchant, currency and day was settled already."""
    insert = upsert_insert(conn, settlements).values(**values)
    insert = insert.on_conflict_do_nothing(index_elements=["merchant_id", "currency", "business_date"])
    return (await conn.execute(insert.returning(settlements.c.id))).scalar_one_or_none()


async def settlements_on(conn: AsyncConnection, business_date: Any, merchant_id: int | None = None
                         ) -> list[dict[str, Any]]:
    query = select(settlements).where(settlements.c.business_date == business_date)
    if merchant_id is not None:
        query = query.where(settlements.c.merchant_id == merchant_id)
    return [dict(r) for r in (await conn.execute(query.order_by(settlements.c.merchant_id, settlements.c.currency)))
            .mappings()]


async def settled_total(conn: AsyncConnection, account_id: int) -> int:
    """Everything ever moved out of a payable by settlement."""
    query = (
        select(func.coalesce(func.sum(ledger_entries.c.amount_minor), 0))
        .select_from(ledger_entries.join(ledger_transfers, ledger_transfers.c.id == ledger_entries.c.transfer_id))
        .where(ledger_entries.c.debit_account_id == account_id, ledger_transfers.c.kind == "settlement")
    )
    return int((await conn.execute(query)).scalar_one())


def decimal_or_none(text: str | None) -> Decimal | None:
    return Decimal(text) if text is not None else None



async def set_settlement_transfer(conn: AsyncConnection, settlement_id: int, transfer_id: int) -> None:
    await conn.execute(settlements.update().where(settlements.c.id == settlement_id).values(transfer_id=transfer_id))


async def fees_released(conn: AsyncConnection, merchant_id: int, currency: str, after: datetime, before: datetime
                        ) -> int:
    """The platform fees kept on a merchant's releases in [after, before), in the merchant's currency."""
    query = select(func.coalesce(func.sum(payments.c.fee_minor), 0)).where(
        payments.c.merchant_id == merchant_id, payments.c.merchant_currency == currency,
        payments.c.released_at >= after, payments.c.released_at < before,
    )
    return int((await conn.execute(query)).scalar_one())


async def payments_of_order(conn: AsyncConnection, order_id: int) -> list[dict[str, Any]]:
    query = select(payments).where(payments.c.order_id == order_id).order_by(payments.c.id)
    return [dict(r) for r in (await conn.execute(query)).mappings()]


# --- instalments -------------------------------------------------------------------------------------------------

async def insert_plan(conn: AsyncConnection, values: dict[str, Any], schedule: list[dict[str, Any]]) -> int:
    plan_id = (await conn.execute(instalment_plans.insert().values(**values)
                                  .returning(instalment_plans.c.id))).scalar_one()
    await conn.execute(instalments.insert(), [row | {"plan_id": plan_id} for row in schedule])
    return plan_id


async def get_plan(conn: AsyncConnection, plan_id: int, *, for_update: bool = False) -> dict[str, Any] | None:
    return await _one(conn, select(instalment_plans).where(instalment_plans.c.id == plan_id), for_update)


async def plan_of_order(conn: AsyncConnection, order_id: int, *, for_update: bool = False) -> dict[str, Any] | None:
    return await _one(conn, select(instalment_plans).where(instalment_plans.c.order_id == order_id), for_update)


async def plans_of_customer(conn: AsyncConnection, customer_id: int | None) -> list[dict[str, Any]]:
    query = select(instalment_plans).order_by(instalment_plans.c.id.desc())
    if customer_id is not None:
        query = query.where(instalment_plans.c.customer_id == customer_id)
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def instalments_of(conn: AsyncConnection, plan_ids: list[int]) -> list[dict[str, Any]]:
    if not plan_ids:
        return []
    query = select(instalments).where(instalments.c.plan_id.in_(plan_ids)).order_by(instalments.c.plan_id,
                                                                                     instalments.c.number)
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def update_instalment(conn: AsyncConnection, instalment_id: int, values: dict[str, Any]) -> None:
    await conn.execute(instalments.update().where(instalments.c.id == instalment_id).values(**values))


async def set_plan_status(conn: AsyncConnection, plan_id: int, status: str, now: datetime) -> None:
    await conn.execute(instalment_plans.update().where(instalment_plans.c.id == plan_id)
                       .values(status=status, updated_at=now))


async def plans_falling_behind(conn: AsyncConnection, today: Any, limit: int) -> list[int]:
    """Active plans with an instalment due before today and not paid in full."""
    late = select(instalments.c.id).where(instalments.c.plan_id == instalment_plans.c.id,
                                          instalments.c.due_on < today,
                                          instalments.c.paid_minor < instalments.c.amount_minor)
    query = (select(instalment_plans.c.id).where(instalment_plans.c.status == "active", late.exists())
             .order_by(instalment_plans.c.id).limit(limit))
    return list((await conn.execute(query)).scalars())


async def insert_repayment(conn: AsyncConnection, values: dict[str, Any]) -> int | None:
    insert = upsert_insert(conn, instalment_repayments).values(**values)
    insert = insert.on_conflict_do_nothing(index_elements=["gateway_reference"])
    return (await conn.execute(insert.returning(instalment_repayments.c.id))).scalar_one_or_none()


async def repayments_of(conn: AsyncConnection, plan_id: int) -> list[dict[str, Any]]:
    """The plan's repayments, newest first (booked and unbooked: see `status`)."""
    query = (select(instalment_repayments).where(instalment_repayments.c.plan_id == plan_id)
             .order_by(instalment_repayments.c.id.desc()))
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def add_repayment_refunded(conn: AsyncConnection, repayment_id: int, amount_minor: int) -> bool:
    result = await conn.execute(
        instalment_repayments.update()
        .where(instalment_repayments.c.id == repayment_id,
               instalment_repayments.c.refunded_minor + amount_minor <= instalment_repayments.c.amount_minor)
        .values(refunded_minor=instalment_repayments.c.refunded_minor + amount_minor)
    )
    return result.rowcount == 1


async def add_fee_refunded(conn: AsyncConnection, plan_id: int, amount_minor: int) -> None:
    await conn.execute(instalment_plans.update().where(instalment_plans.c.id == plan_id)
                       .values(fee_refunded_minor=instalment_plans.c.fee_refunded_minor + amount_minor))


async def live_payment(conn: AsyncConnection, order_id: int) -> dict[str, Any] | None:
    """The order's authorized or captured payment, if any."""
    query = select(payments).where(payments.c.order_id == order_id, payments.c.status.in_(["authorized", "captured"]))
    return await _one(conn, query, False)


async def lock_accounts(conn: AsyncConnection, kind: AccountKind) -> None:
    """Locks every account of a kind for the transaction (PostgreSQL; SQLite writers already take turns)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(select(ledger_accounts.c.id).where(ledger_accounts.c.kind == kind.value)
                           .order_by(ledger_accounts.c.id).with_for_update())


async def is_repayment(conn: AsyncConnection, gateway_reference: str) -> bool:
    query = select(instalment_repayments.c.id).where(instalment_repayments.c.gateway_reference == gateway_reference)
    return (await conn.execute(query)).first() is not None
