"""`unichannel check`: verifies the design's invariants on a live database.

1. 0 <= reserved <= on_hand for every stock row (and reserved equals the sum of the live holds at that row).
2. Units are conserved: the movements of each SKU at each location add up to its on_hand.
3. Every live order line holds exactly one live reservation, of its SKU, location and quantity.
5. Every stored idempotent result names exactly one thing it created (a checkout or an order) that exists and that
   its stored response names, and no two keys claim the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from unichannel.idempotency import idempotency_keys
from unichannel.inventory.repository import reservations, stock, stock_movements
from unichannel.orders.repository import checkouts, order_lines, orders

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


async def _live_lines(conn: AsyncConnection, report: Report) -> None:
    query = (
        select(order_lines.c.id, order_lines.c.order_id, orders.c.status, reservations.c.status.label("hold"),
               reservations.c.variant_id, reservations.c.location_id, reservations.c.quantity,
               order_lines.c.variant_id.label("line_variant"), order_lines.c.location_id.label("line_location"),
               order_lines.c.quantity.label("line_quantity"))
        .join(orders, orders.c.id == order_lines.c.order_id)
        .join(reservations, reservations.c.id == order_lines.c.reservation_id)
    )
    lapsed = shown = 0
    for row in await conn.execute(query):
        problem = None
        if row.status in LIVE_ORDER and row.hold not in LIVE_HOLD:
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


async def _idempotency(conn: AsyncConnection, report: Report) -> None:
    rows = (await conn.execute(select(idempotency_keys).where(idempotency_keys.c.resource.is_not(None)))).mappings()
    seen: dict[str, int] = {}
    existing = {
        "checkout": set((await conn.execute(select(checkouts.c.id))).scalars()),
        "order": set((await conn.execute(select(orders.c.id))).scalars()),
    }
    for row in rows:
        resource = row["resource"]
        if resource in seen:
            report.violations.append(Violation(5, f"{resource} is the result of two keys ({seen[resource]}, {row['id']})"))
        seen[resource] = row["id"]
        kind, _, ident = resource.partition(":")
        response_id = (row["response"] or {}).get(f"{kind}_id")
        if kind not in existing or not ident.isdigit() or int(ident) not in existing[kind] or response_id != int(ident):
            report.violations.append(Violation(5, f"key {row['id']} replays {resource}, which does not match"))
    report.counts["idempotent results"] = len(seen)


async def run_checks(engine: AsyncEngine) -> Report:
    """Reads the whole database once per rule; changes nothing."""
    report = Report()
    async with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            # One snapshot for every rule, so a live shop's concurrent orders cannot look like drift.
            await conn.execution_options(isolation_level="REPEATABLE READ")
        for rule in (_stock_bounds, _conservation, _live_lines, _idempotency):
            await rule(conn, report)
        await conn.rollback()
    return report
