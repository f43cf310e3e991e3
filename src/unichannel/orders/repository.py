"""Order tables."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    func,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from unichannel.db import Id, Json, UTCDateTime, metadata
from unichannel.inventory.repository import reservations
from unichannel.payments.repository import refunds

checkouts = Table(
    "checkouts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("customer_id", Id, ForeignKey("customers.id"), nullable=False, index=True),
    Column("currency", String(3), nullable=False),
    Column("total_minor", Id, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("total_minor >= 0", name="total_not_negative"),
)

# The tables every order writes (orders, order_lines, reservations, flash_sale_purchases) keep foreign keys only
# within an order; their references to merchants, SKUs, locations, customers and sales are checked by `unichannel
# check` (rule 8) instead of by a locked lookup per row on the order path (migration 0009).
orders = Table(
    "orders",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    # The cart checkout that placed it; a flash-sale grab is an order of its own, with no checkout.
    Column("checkout_id", Id, ForeignKey("checkouts.id"), nullable=True, index=True),
    Column("customer_id", Id, nullable=False, index=True),
    Column("merchant_id", Id, nullable=False, index=True),
    Column("channel", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("subtotal_minor", Id, nullable=False),
    Column("delivery_minor", Id, nullable=False),
    Column("total_minor", Id, nullable=False),
    Column("delivery_mode", String(20), nullable=False),
    Column("location_id", Id, nullable=True),  # pickup place or the till's store
    Column("address", Json, nullable=True),
    Column("placed_by", String(64), nullable=False),  # the caller that placed it (a member, or a clerk's token)
    # The village station whose operator placed it for the villager (an assisted order); the villager is the customer.
    Column("assisted_by_location_id", Id, nullable=True),
    Column("payment_reference", String(80), nullable=True),
    Column("flash_sale_id", Id, nullable=True, index=True),
    Column("cancel_reason", String(200), nullable=True),
    Column("placed_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint(
        "status IN ('placed', 'paid', 'allocated', 'shipped', 'delivered', 'completed', 'cancelled')",
        name="status_known",
    ),
    CheckConstraint("channel IN ('online', 'store')", name="channel_known"),
    CheckConstraint("total_minor = subtotal_minor + delivery_minor AND subtotal_minor >= 0", name="total_adds_up"),
    Index("ix_orders_status", "status"),
)

order_lines = Table(
    "order_lines",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("order_id", Id, ForeignKey("orders.id"), nullable=False, index=True),
    Column("merchant_id", Id, nullable=False),
    Column("variant_id", Id, nullable=False),
    Column("sku", String(64), nullable=False),
    Column("name", String(300), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit_price_minor", Id, nullable=False),
    Column("total_minor", Id, nullable=False),
    Column("location_id", Id, nullable=False),  # where the units are held / ship from
    Column("reservation_id", Id, ForeignKey("reservations.id"), nullable=False, unique=True),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    CheckConstraint("total_minor = unit_price_minor * quantity AND unit_price_minor >= 0", name="total_adds_up"),
)

order_history = Table(
    "order_history",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("order_id", Id, ForeignKey("orders.id"), nullable=False, index=True),
    Column("from_status", String(16), nullable=True),
    Column("to_status", String(16), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("note", String(200), nullable=False, default=""),
    Column("at", UTCDateTime, nullable=False),
)


returns = Table(  # goods a shopper sends back within the return window
    "returns",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("order_id", Id, ForeignKey("orders.id"), nullable=False, index=True),
    Column("merchant_id", Id, ForeignKey("merchants.id"), nullable=False, index=True),
    Column("customer_id", Id, ForeignKey("customers.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("refund_minor", Id, nullable=False),  # what the returned units were paid
    Column("refund_id", Id, ForeignKey("refunds.id"), nullable=True),  # set once the goods are received
    Column("requested_by", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("status IN ('open', 'received')", name="status_known"),
    CheckConstraint("refund_minor >= 0", name="refund_not_negative"),
)

return_lines = Table(
    "return_lines",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("return_id", Id, ForeignKey("returns.id"), nullable=False, index=True),
    Column("order_line_id", Id, ForeignKey("order_lines.id"), nullable=False, index=True),
    Column("quantity", Integer, nullable=False),
    Column("sellable", Integer, nullable=True),  # of those, back on the shelf (set on receipt)
    CheckConstraint("quantity > 0", name="quantity_positive"),
    CheckConstraint("sellable IS NULL OR (sellable >= 0 AND sellable <= quantity)", name="sellable_within_quantity"),
)

async def insert_checkout(conn: AsyncConnection, values: dict[str, Any]) -> int:
    return (await conn.execute(checkouts.insert().values(**values).returning(checkouts.c.id))).scalar_one()


async def set_checkout_total(conn: AsyncConnection, checkout_id: int, total_minor: int) -> None:
    await conn.execute(checkouts.update().where(checkouts.c.id == checkout_id).values(total_minor=total_minor))


async def insert_order(conn: AsyncConnection, values: dict[str, Any]) -> int:
    return (await conn.execute(orders.insert().values(**values).returning(orders.c.id))).scalar_one()


async def insert_lines(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    await conn.execute(order_lines.insert(), rows)


async def insert_history(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(order_history.insert().values(**values))


async def get_order(conn: AsyncConnection, order_id: int, *, for_update: bool = False) -> dict[str, Any] | None:
    query = select(orders).where(orders.c.id == order_id)
    if for_update and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = (await conn.execute(query)).mappings().first()
    return dict(row) if row else None


async def lines_of(conn: AsyncConnection, order_ids: list[int]) -> list[dict[str, Any]]:
    if not order_ids:
        return []
    query = select(order_lines).where(order_lines.c.order_id.in_(order_ids)).order_by(order_lines.c.id)
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def history_of(conn: AsyncConnection, order_id: int) -> list[dict[str, Any]]:
    query = select(order_history).where(order_history.c.order_id == order_id).order_by(order_history.c.id)
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def orders_of_checkout(conn: AsyncConnection, checkout_id: int) -> list[dict[str, Any]]:
    query = select(orders).where(orders.c.checkout_id == checkout_id).order_by(orders.c.id)
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def list_orders(
    conn: AsyncConnection,
    *,
    customer_id: int | None = None,
    merchant_id: int | None = None,
    location_id: int | None = None,
    status: str | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> list[dict[str, Any]]:
    """Newest first; `location_id` matches orders picked up or sold there, or placed there for a villager."""
    query = select(orders).order_by(orders.c.id.desc()).limit(limit)
    for column, value in (
        (orders.c.customer_id, customer_id),
        (orders.c.merchant_id, merchant_id),
        (orders.c.status, status),
    ):
        if value is not None:
            query = query.where(column == value)
    if location_id is not None:
        query = query.where((orders.c.location_id == location_id) | (orders.c.assisted_by_location_id == location_id))
    if before_id is not None:
        query = query.where(orders.c.id < before_id)
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def update_order(
    conn: AsyncConnection, order_id: int, from_status: str, values: dict[str, Any]
) -> bool:
    """Changes an order only if it is still in `from_status`: two racing transitions cannot both win."""
    result = await conn.execute(
        orders.update().where(orders.c.id == order_id, orders.c.status == from_status).values(**values)
    )
    return result.rowcount == 1


async def placed_orders_with_lapsed_holds(conn: AsyncConnection, now: Any, limit: int) -> list[int]:
    """Unpaid orders at least one of whose holds has lapsed or been expired: they can no longer be paid."""
    lapsed = (reservations.c.status == "expired") | (
        (reservations.c.status == "active") & reservations.c.expires_at.is_not(None) & (reservations.c.expires_at <= now)
    )
    query = (
        select(orders.c.id)
        .join(order_lines, order_lines.c.order_id == orders.c.id)
        .join(reservations, reservations.c.id == order_lines.c.reservation_id)
        .where(orders.c.status == "placed", lapsed)
        .group_by(orders.c.id)
        .order_by(orders.c.id)
        .limit(limit)
    )
    return list((await conn.execute(query)).scalars())


async def delivered_orders_due(conn: AsyncConnection, delivered_before: Any, limit: int) -> list[int]:
    """Delivered orders whose delivery was recorded before `delivered_before`, with no refund request or return
    open."""
    delivered_at = (
        select(order_history.c.order_id, func.max(order_history.c.at).label("at"))
        .where(order_history.c.to_status == "delivered")
        .group_by(order_history.c.order_id)
        .subquery("delivered_at")
    )
    open_request = select(refunds.c.id).where(refunds.c.order_id == orders.c.id, refunds.c.status == "requested")
    open_return = select(returns.c.id).where(returns.c.order_id == orders.c.id, returns.c.status == "open")
    query = (
        select(orders.c.id)
        .join(delivered_at, delivered_at.c.order_id == orders.c.id)
        .where(orders.c.status == "delivered", delivered_at.c.at <= delivered_before, ~open_request.exists(),
               ~open_return.exists())
        .order_by(orders.c.id)
        .limit(limit)
    )
    return list((await conn.execute(query)).scalars())


# --- returns -----------------------------------------------------------------------------------------------------


async def insert_return(conn: AsyncConnection, values: dict[str, Any], lines: list[dict[str, Any]]) -> int:
    return_id = (await conn.execute(returns.insert().values(**values).returning(returns.c.id))).scalar_one()
    await conn.execute(return_lines.insert(), [line | {"return_id": return_id} for line in lines])
    return return_id


async def get_return(conn: AsyncConnection, return_id: int) -> dict[str, Any] | None:
    row = (await conn.execute(select(returns).where(returns.c.id == return_id))).mappings().first()
    return dict(row) if row else None


async def returns_of(conn: AsyncConnection, order_ids: list[int]) -> list[dict[str, Any]]:
    if not order_ids:
        return []
    query = select(returns).where(returns.c.order_id.in_(order_ids)).order_by(returns.c.id)
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def return_lines_of(conn: AsyncConnection, return_ids: list[int]) -> list[dict[str, Any]]:
    if not return_ids:
        return []
    query = (
        select(return_lines, order_lines.c.variant_id, order_lines.c.sku, order_lines.c.name,
               order_lines.c.location_id, order_lines.c.merchant_id, order_lines.c.unit_price_minor)
        .join(order_lines, order_lines.c.id == return_lines.c.order_line_id)
        .where(return_lines.c.return_id.in_(return_ids))
        .order_by(return_lines.c.id)
    )
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def returned_quantities(conn: AsyncConnection, order_id: int) -> dict[int, int]:
    """Units of each line of the order already asked back (every return counts: open or received)."""
    query = (
        select(return_lines.c.order_line_id, func.sum(return_lines.c.quantity))
        .join(returns, returns.c.id == return_lines.c.return_id)
        .where(returns.c.order_id == order_id)
        .group_by(return_lines.c.order_line_id)
    )
    return {line_id: int(n) for line_id, n in await conn.execute(query)}


async def update_return(conn: AsyncConnection, return_id: int, from_status: str, values: dict[str, Any]) -> bool:
    statement = returns.update().where(returns.c.id == return_id, returns.c.status == from_status).values(**values)
    return (await conn.execute(statement)).rowcount == 1


async def set_sellable(conn: AsyncConnection, return_line_id: int, sellable: int) -> None:
    await conn.execute(return_lines.update().where(return_lines.c.id == return_line_id).values(sellable=sellable))


async def delivered_at(conn: AsyncConnection, order_id: int) -> Any:
    """When the order was (last) recorded delivered; None if never."""
    query = select(func.max(order_history.c.at)).where(order_history.c.order_id == order_id,
                                                       order_history.c.to_status == "delivered")
    return (await conn.execute(query)).scalar_one()
