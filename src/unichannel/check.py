"""`unichannel check`: verifies the design's invariants on a live database.

1. 0 <= reserved <= on_hand for every stock row (and reserved equals the sum of the live holds at that row).
2. Units are conserved: the movements of each SKU at each location add up to its on_hand, and its lots never count
   more units than are on hand.
3. Every live order line holds exactly one live reservation, of its SKU, location and quantity (or, once its parcel
   is packed, the units left stock with it).
4. The ledger balances: every entry moves a positive amount between two different accounts of its own currency,
   every transfer has entries, all balances sum to zero per currency, escrow holds exactly what was paid and not
   yet released or refunded, each payment's ledger trail matches it (one capture; refunds add up), and each
   shopper's instalment receivable equals what their plans' instalments still ask.
6. No payment is refunded beyond what was captured.
5. Every stored idempotent result names exactly one thing it created (a checkout, order, refund, return or
   shipment move) that exists and that
   its stored response names, and no two keys claim the same thing.
8. Every reference from the tables each order writes (orders, their lines, holds and flash-sale buyers' counts) to a
   merchant, SKU, location, customer or sale points at a row that exists: the database enforces these only within an
   order, so that the order path does not lock a parent row per reference (migration 0009).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from unichannel.catalog.repository import merchants, variants
from unichannel.customers.repository import customers
from unichannel.idempotency import idempotency_keys
from unichannel.fulfillment.repository import shipment_lines, shipments
from unichannel.inventory.repository import locations, lots, reservations, stock, stock_movements
from unichannel.orders.repository import checkouts, order_lines, orders, returns
from unichannel.payments.repository import balances as ledger_balances
from unichannel.payments.repository import (
    instalment_plans,
    instalments,
    ledger_accounts,
    ledger_entries,
    ledger_transfers,
    payments,
    refunds,
)
from unichannel.promotions.repository import flash_sale_purchases, flash_sales

LIVE_ORDER = ("placed", "paid", "allocated")
LIVE_HOLD = ("active", "allocated")
SHOWN_PER_RULE = 20


@dataclass(frozen=True, slots=True)
class Violation:
    invariant: int
    message: str


@dataclass(slots=True)
class Report:
    violations: list[Violation] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.violations


async def _stock_bounds(conn: AsyncConnection, report: Report) -> None:
    query = select(stock).where(
        (stock.c.reserved < 0) | (stock.c.reserved > stock.c.on_hand) | (stock.c.safety_stock < 0)
    ).limit(SHOWN_PER_RULE)
    for row in (await conn.execute(query)).mappings():
        report.violations.append(Violation(1, f"stock {row['variant_id']}@{row['location_id']}: on_hand "
                                              f"{row['on_hand']}, reserved {row['reserved']}, safety {row['safety_stock']}"))
    held = (
        select(reservations.c.variant_id, reservations.c.location_id, func.sum(reservations.c.quantity).label("held"))
        .where(reservations.c.status.in_(LIVE_HOLD))
        .group_by(reservations.c.variant_id, reservations.c.location_id)
        .subquery()
    )
    query = (
        select(stock.c.variant_id, stock.c.location_id, stock.c.reserved, func.coalesce(held.c.held, 0).label("held"))
        .outerjoin(held, and_(held.c.variant_id == stock.c.variant_id, held.c.location_id == stock.c.location_id))
        .where(stock.c.reserved != func.coalesce(held.c.held, 0))
        .limit(SHOWN_PER_RULE)
    )
    for row in await conn.execute(query):
        report.violations.append(
            Violation(1, f"stock {row.variant_id}@{row.location_id}: reserved {row.reserved} but live holds add up "
                         f"to {row.held}")
        )
    report.counts["stock rows"] = (await conn.execute(select(func.count()).select_from(stock))).scalar_one()


async def _conservation(conn: AsyncConnection, report: Report) -> None:
    moved = (
        select(stock_movements.c.variant_id, stock_movements.c.location_id,
               func.sum(stock_movements.c.quantity).label("moved"))
        .group_by(stock_movements.c.variant_id, stock_movements.c.location_id)
        .subquery()
    )
    join = and_(moved.c.variant_id == stock.c.variant_id, moved.c.location_id == stock.c.location_id)
    query = (
        select(stock.c.variant_id, stock.c.location_id, stock.c.on_hand, func.coalesce(moved.c.moved, 0).label("moved"))
        .outerjoin(moved, join)
        .where(stock.c.on_hand != func.coalesce(moved.c.moved, 0))
        .limit(SHOWN_PER_RULE)
    )
    for row in await conn.execute(query):
        report.violations.append(
            Violation(2, f"stock {row.variant_id}@{row.location_id}: on_hand {row.on_hand} but movements add up "
                         f"to {row.moved}")
        )
    orphans = (
        select(moved.c.variant_id, moved.c.location_id)
        .outerjoin(stock, join)
        .where(stock.c.id.is_(None))
        .limit(SHOWN_PER_RULE)
    )
    for row in await conn.execute(orphans):
        report.violations.append(Violation(2, f"movements of {row.variant_id}@{row.location_id} have no stock row"))
    report.counts["movements"] = (await conn.execute(select(func.count()).select_from(stock_movements))).scalar_one()
    in_lots = (
        select(lots.c.variant_id, lots.c.location_id, func.sum(lots.c.remaining).label("in_lots"))
        .group_by(lots.c.variant_id, lots.c.location_id)
        .subquery()
    )
    beyond = (
        select(in_lots.c.variant_id, in_lots.c.location_id, in_lots.c.in_lots, func.coalesce(stock.c.on_hand, 0))
        .outerjoin(stock, and_(stock.c.variant_id == in_lots.c.variant_id, stock.c.location_id == in_lots.c.location_id))
        .where(in_lots.c.in_lots > func.coalesce(stock.c.on_hand, 0))
        .limit(SHOWN_PER_RULE)
    )
    for variant_id, location_id, counted, on_hand in await conn.execute(beyond):
        report.violations.append(Violation(2, f"lots of {variant_id}@{location_id} count {counted} units but only "
                                              f"{on_hand} are on hand"))


async def _live_lines(conn: AsyncConnection, report: Report) -> None:
    query = (
        select(order_lines.c.id, order_lines.c.order_id, orders.c.status, reservations.c.status.label("hold"),
               reservations.c.variant_id, reservations.c.location_id, reservations.c.quantity,
               order_lines.c.variant_id.label("line_variant"), order_lines.c.location_id.label("line_location"),
               order_lines.c.quantity.label("line_quantity"))
        .join(orders, orders.c.id == order_lines.c.order_id)
        .join(reservations, reservations.c.id == order_lines.c.reservation_id)
    )
    packed_lines = (
        select(shipment_lines.c.order_line_id)
        .join(shipments, shipments.c.id == shipment_lines.c.shipment_id)
        .where(shipments.c.direction == "outbound", shipments.c.status.not_in(["picking", "cancelled"]))
    )
    packed = set((await conn.execute(packed_lines)).scalars())
    lapsed = shown = 0
    for row in await conn.execute(query):
        problem = None
        if row.status in LIVE_ORDER and row.hold not in LIVE_HOLD:
            if row.status == "allocated" and row.hold == "consumed" and row.id in packed:
                continue  # its parcel is packed: the units left the shelf with it
            if row.status == "placed" and row.hold == "expired":
                lapsed += 1  # unpaid and lapsed: it can no longer be paid; the sweeper cancels it
                continue
            problem = f"is {row.status} but its hold is {row.hold}"
        elif row.status in ("shipped", "delivered", "completed") and row.hold != "consumed":
            problem = f"is {row.status} but its hold is {row.hold}, not consumed"
        elif row.status == "cancelled" and row.hold in LIVE_HOLD:
            problem = f"is cancelled but still holds stock ({row.hold})"
        elif (row.variant_id, row.location_id, row.quantity) != (row.line_variant, row.line_location, row.line_quantity):
            problem = "holds a reservation of another SKU, location or quantity"
        if problem and shown < SHOWN_PER_RULE:
            report.violations.append(Violation(3, f"order {row.order_id} line {row.id} {problem}"))
            shown += 1
    report.counts["lapsed unpaid lines awaiting the sweeper"] = lapsed
    report.counts["order lines"] = (await conn.execute(select(func.count()).select_from(order_lines))).scalar_one()


ALIASES = {"decision": "refund", "move": "order", "receipt": "return", "scan": "shipment"}


async def _idempotency(conn: AsyncConnection, report: Report) -> None:
    rows = (await conn.execute(select(idempotency_keys).where(idempotency_keys.c.resource.is_not(None)))).mappings()
    seen: dict[str, int] = {}
    existing = {
        "checkout": set((await conn.execute(select(checkouts.c.id))).scalars()),
        "order": set((await conn.execute(select(orders.c.id))).scalars()),
        "refund": set((await conn.execute(select(refunds.c.id))).scalars()),
        "return": set((await conn.execute(select(returns.c.id))).scalars()),
        "shipment": set((await conn.execute(select(shipments.c.id))).scalars()),
    }
    for row in rows:
        resource = row["resource"]
        if resource in seen:
            report.violations.append(Violation(5, f"{resource} is the result of two keys ({seen[resource]}, {row['id']})"))
        seen[resource] = row["id"]
        kind, _, ident = resource.partition(":")
        if kind in ALIASES:  # a decision names its refund; a move names its order and the state it reached
            kind, ident = ALIASES[kind], ident.split(":", 1)[0]
        response = row["response"] or {}
        response_id = response.get(f"{kind}_id", response.get("id"))
        if kind not in existing or not ident.isdigit() or int(ident) not in existing[kind] or response_id != int(ident):
            report.violations.append(Violation(5, f"key {row['id']} replays {resource}, which does not match"))
    report.counts["idempotent results"] = len(seen)


async def _ledger(conn: AsyncConnection, report: Report) -> None:
    debit, credit = ledger_accounts.alias("debit"), ledger_accounts.alias("credit")
    malformed = (
        select(ledger_entries.c.id)
        .join(debit, debit.c.id == ledger_entries.c.debit_account_id)
        .join(credit, credit.c.id == ledger_entries.c.credit_account_id)
        .where((ledger_entries.c.amount_minor <= 0) | (debit.c.id == credit.c.id)
               | (debit.c.currency != ledger_entries.c.currency) | (credit.c.currency != ledger_entries.c.currency))
        .limit(SHOWN_PER_RULE)
    )
    for entry_id in (await conn.execute(malformed)).scalars():
        report.violations.append(Violation(4, f"ledger entry {entry_id} is not a positive same-currency move"))
    empty = select(ledger_transfers.c.id).where(
        ~select(ledger_entries.c.id).where(ledger_entries.c.transfer_id == ledger_transfers.c.id).exists()
    ).limit(SHOWN_PER_RULE)
    for transfer_id in (await conn.execute(empty)).scalars():
        report.violations.append(Violation(4, f"ledger transfer {transfer_id} has no entries"))
    balance = await _balances(conn)
    by_currency: dict[str, int] = {}
    for (kind, _owner, currency), amount in balance.items():
        by_currency[currency] = by_currency.get(currency, 0) + amount
    for currency, total in sorted(by_currency.items()):
        if total != 0:
            report.violations.append(Violation(4, f"{currency} balances sum to {total}, not 0"))
    held: dict[str, int] = {}
    for row in (await conn.execute(select(payments).where(payments.c.status == "captured"))).mappings():
        if row["refunded_minor"] > row["captured_minor"] or row["refunded_minor"] < 0:
            report.violations.append(Violation(6, f"payment {row['id']} refunded {row['refunded_minor']} of "
                                                  f"{row['captured_minor']} captured"))
        if row["released_at"] is None:
            held[row["currency"]] = held.get(row["currency"], 0) + row["captured_minor"] - row["refunded_minor"]
    escrow = {currency: amount for (kind, _owner, currency), amount in balance.items() if kind == "escrow"}
    for currency in sorted(set(held) | set(escrow)):
        if held.get(currency, 0) != escrow.get(currency, 0):
            report.violations.append(Violation(4, f"escrow holds {escrow.get(currency, 0)} {currency} but paid and "
                                                  f"unreleased orders add up to {held.get(currency, 0)}"))
    await _payment_trails(conn, report)
    owed: dict[tuple[int, str], int] = {}
    plan_rows = select(instalment_plans.c.customer_id, instalment_plans.c.currency,
                       func.sum(instalments.c.amount_minor - instalments.c.paid_minor)).join(
        instalments, instalments.c.plan_id == instalment_plans.c.id).group_by(instalment_plans.c.customer_id,
                                                                              instalment_plans.c.currency)
    for customer_id, currency, amount in await conn.execute(plan_rows):
        owed[(customer_id, currency)] = int(amount)
    receivable = {(owner, currency): -amount for (kind, owner, currency), amount in balance.items()
                  if kind == "instalment_receivable"}
    for key in sorted(set(owed) | set(receivable)):
        if owed.get(key, 0) != receivable.get(key, 0):
            report.violations.append(Violation(4, f"customer {key[0]} owes {owed.get(key, 0)} {key[1]} on instalments "
                                                  f"but the receivable says {receivable.get(key, 0)}"))
    report.counts["ledger entries"] = (await conn.execute(select(func.count()).select_from(ledger_entries))).scalar_one()
    report.counts["captured payments"] = (
        await conn.execute(select(func.count()).select_from(payments).where(payments.c.status == "captured"))
    ).scalar_one()


async def _balances(conn: AsyncConnection) -> dict[tuple[str, int, str], int]:
    """(kind, owner, currency) -> credits minus debits, over every entry."""
    return {(row["kind"], row["owner_id"], row["currency"]): row["balance_minor"]
            for row in await ledger_balances(conn)}


async def _payment_trails(conn: AsyncConnection, report: Report) -> None:
    """Each captured payment: exactly one capture transfer of its amount; refund transfers add up to its refunds."""
    escrow_moves = (
        select(ledger_transfers.c.order_id, ledger_transfers.c.kind, func.count(func.distinct(ledger_transfers.c.id)),
               func.sum(ledger_entries.c.amount_minor))
        .join(ledger_entries, ledger_entries.c.transfer_id == ledger_transfers.c.id)
        .join(ledger_accounts, ledger_accounts.c.id.in_([ledger_entries.c.credit_account_id,
                                                         ledger_entries.c.debit_account_id]))
        .where(ledger_accounts.c.kind == "shopper_funding", ledger_transfers.c.order_id.is_not(None))
        .group_by(ledger_transfers.c.order_id, ledger_transfers.c.kind)
    )
    trail: dict[tuple[int, str], tuple[int, int]] = {
        (order_id, kind): (int(count), int(amount)) for order_id, kind, count, amount in await conn.execute(escrow_moves)
    }
    captured = select(payments.c.order_id, payments.c.captured_minor, payments.c.refunded_minor).where(
        payments.c.status == "captured")
    for order_id, captured_minor, refunded_minor in await conn.execute(captured):
        count, amount = trail.get((order_id, "capture"), (0, 0))
        if count != 1 or amount != captured_minor:
            report.violations.append(Violation(6, f"order {order_id}: {count} capture transfers moving {amount}, "
                                                  f"for one capture of {captured_minor}"))
        _, refunded = trail.get((order_id, "refund"), (0, 0))
        if refunded != refunded_minor:
            report.violations.append(Violation(4, f"order {order_id}: refunds moved {refunded} to the shopper, the "
                                                  f"payment counts {refunded_minor}"))


# (column, the table it refers to): the references of the order path that the database does not enforce.
REFERENCES = [
    (orders.c.customer_id, customers), (orders.c.merchant_id, merchants), (orders.c.location_id, locations),
    (orders.c.assisted_by_location_id, locations), (orders.c.flash_sale_id, flash_sales),
    (order_lines.c.merchant_id, merchants), (order_lines.c.variant_id, variants), (order_lines.c.location_id, locations),
    (reservations.c.merchant_id, merchants), (reservations.c.variant_id, variants),
    (reservations.c.location_id, locations),
    (flash_sale_purchases.c.flash_sale_id, flash_sales), (flash_sale_purchases.c.customer_id, customers),
]


async def _references(conn: AsyncConnection, report: Report) -> None:
    for column, referred in REFERENCES:
        table = column.table
        dangling = (
            select(table.c.id, column)
            .where(column.is_not(None), ~select(referred.c.id).where(referred.c.id == column).exists())
            .order_by(table.c.id)
            .limit(SHOWN_PER_RULE)
        )
        for row_id, missing in await conn.execute(dangling):
            report.violations.append(Violation(8, f"{table.name} {row_id}: {column.name} {missing} names no row of "
                                                  f"{referred.name}"))
    report.counts["references checked"] = len(REFERENCES)


async def run_checks(engine: AsyncEngine) -> Report:
    """Reads the whole database once per rule; changes nothing."""
    report = Report()
    async with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            # One snapshot for every rule, so a live shop's concurrent orders cannot look like drift.
            await conn.execution_options(isolation_level="REPEATABLE READ")
        for rule in (_stock_bounds, _conservation, _live_lines, _ledger, _idempotency, _references):
            await rule(conn, report)
        await conn.rollback()
    return report
