"""Shipments with their lines and tracking timeline; and what source selection reads: stock with its locations,
village stations, and this hour's 30-minute orders."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, Integer, String, Table, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from unichannel.db import Id, Json, UTCDateTime, metadata
from unichannel.inventory.repository import locations, stock
from unichannel.orders.repository import order_lines, orders

STATUSES = ("'picking', 'packed', 'handed_over', 'in_transit', 'at_station', 'ready_for_pickup', 'delivered', "
            "'failed_delivery', 'returned', 'cancelled'")

shipments = Table(
    "shipments",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("order_id", Id, ForeignKey("orders.id"), nullable=False, index=True),
    Column("merchant_id", Id, ForeignKey("merchants.id"), nullable=False, index=True),
    Column("direction", String(8), nullable=False),
    Column("route", String(20), nullable=False),
    # Where the parcel leaves from (for a return: where it goes back to).
    Column("location_id", Id, ForeignKey("locations.id"), nullable=False, index=True),
    Column("pickup_location_id", Id, ForeignKey("locations.id"), nullable=True, index=True),  # store or station
    Column("status", String(20), nullable=False),
    Column("tracking_code", String(24), nullable=False, unique=True),
    Column("pickup_code", String(6), nullable=True),  # shown to the shopper only; given at the counter
    Column("wrong_codes", Integer, nullable=False, default=0),
    Column("return_id", Id, ForeignKey("returns.id"), nullable=True, index=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint(f"status IN ({STATUSES})", name="status_known"),
    CheckConstraint("direction IN ('outbound', 'return')", name="direction_known"),
    CheckConstraint("route IN ('door', 'collect_here', 'collect_elsewhere', 'station', 'return')", name="route_known"),
    CheckConstraint("(direction = 'return') = (return_id IS NOT NULL)", name="return_has_return"),
)

shipment_lines = Table(
    "shipment_lines",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("shipment_id", Id, ForeignKey("shipments.id"), nullable=False, index=True),
    Column("order_line_id", Id, ForeignKey("order_lines.id"), nullable=False, index=True),
    Column("quantity", Integer, nullable=False),
    Column("lots", Json, nullable=True),  # once packed: [[lot id or null, units], ...]
    CheckConstraint("quantity > 0", name="quantity_positive"),
)

shipment_events = Table(  # the tracking timeline: one row per change, never changed afterwards
    "shipment_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("shipment_id", Id, ForeignKey("shipments.id"), nullable=False),
    Column("from_status", String(20), nullable=True),
    Column("to_status", String(20), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("note", String(200), nullable=False, default=""),
    Column("at", UTCDateTime, nullable=False),
    Index("ix_shipment_events_shipment", "shipment_id", "id"),
)


# --- shipments ---------------------------------------------------------------------------------------------------


async def insert_shipment(conn: AsyncConnection, values: dict[str, Any], lines: list[dict[str, Any]]) -> int:
    shipment_id = (await conn.execute(shipments.insert().values(**values).returning(shipments.c.id))).scalar_one()
    await conn.execute(shipment_lines.insert(), [line | {"shipment_id": shipment_id} for line in lines])
    return shipment_id


async def insert_event(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(shipment_events.insert().values(**values))


async def get_shipment(conn: AsyncConnection, shipment_id: int, *, for_update: bool = False) -> dict[str, Any] | None:
    query = select(shipments).where(shipments.c.id == shipment_id)
    if for_update and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = (await conn.execute(query)).mappings().first()
    return dict(row) if row else None


async def shipments_of(conn: AsyncConnection, order_ids: list[int], direction: str | None = None
                       ) -> list[dict[str, Any]]:
    if not order_ids:
        return []
    query = select(shipments).where(shipments.c.order_id.in_(order_ids)).order_by(shipments.c.id)
    if direction is not None:
        query = query.where(shipments.c.direction == direction)
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def shipments_of_return(conn: AsyncConnection, return_id: int) -> list[dict[str, Any]]:
    query = select(shipments).where(shipments.c.return_id == return_id).order_by(shipments.c.id)
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def lines_of(conn: AsyncConnection, shipment_ids: list[int]) -> list[dict[str, Any]]:
    """Each shipment line with its order line's SKU, price, location and reservation."""
    if not shipment_ids:
        return []
    query = (
        select(shipment_lines, order_lines.c.variant_id, order_lines.c.sku, order_lines.c.name,
               order_lines.c.merchant_id, order_lines.c.location_id, order_lines.c.reservation_id,
               order_lines.c.unit_price_minor, order_lines.c.order_id)
        .join(order_lines, order_lines.c.id == shipment_lines.c.order_line_id)
        .where(shipment_lines.c.shipment_id.in_(shipment_ids))
        .order_by(shipment_lines.c.shipment_id, order_lines.c.variant_id, shipment_lines.c.id)
    )
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def events_of(conn: AsyncConnection, shipment_ids: list[int]) -> list[dict[str, Any]]:
    if not shipment_ids:
        return []
    query = select(shipment_events).where(shipment_events.c.shipment_id.in_(shipment_ids)).order_by(
        shipment_events.c.shipment_id, shipment_events.c.id)
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def update_shipment(conn: AsyncConnection, shipment_id: int, from_status: str, values: dict[str, Any]) -> bool:
    """Changes a shipment only if it is still in `from_status`: two racing scans cannot both move it."""
    statement = shipments.update().where(shipments.c.id == shipment_id, shipments.c.status == from_status).values(
        **values)
    return (await conn.execute(statement)).rowcount == 1


async def count_wrong_code(conn: AsyncConnection, shipment_id: int) -> int:
    statement = (shipments.update().where(shipments.c.id == shipment_id)
                 .values(wrong_codes=shipments.c.wrong_codes + 1).returning(shipments.c.wrong_codes))
    return int((await conn.execute(statement)).scalar_one())


async def set_lots(conn: AsyncConnection, shipment_line_id: int, lots: list[list[int | None]]) -> None:
    await conn.execute(shipment_lines.update().where(shipment_lines.c.id == shipment_line_id).values(lots=lots))


async def parcels_for(conn: AsyncConnection, pickup_location_id: int, statuses: list[str], limit: int
                      ) -> list[dict[str, Any]]:
    """Parcels on their way to, or waiting at, a pickup store or station, oldest first."""
    query = (
        select(shipments, orders.c.customer_id, orders.c.address)
        .join(orders, orders.c.id == shipments.c.order_id)
        .where(shipments.c.pickup_location_id == pickup_location_id, shipments.c.status.in_(statuses))
        .order_by(shipments.c.id)
        .limit(limit)
    )
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def stock_at_locations(conn: AsyncConnection, variant_ids: list[int]) -> list[dict[str, Any]]:
    """Each stock row of these variants at an active warehouse or store, with the location's place and details."""
    if not variant_ids:
        return []
    query = (
        select(stock.c.variant_id, stock.c.on_hand, stock.c.reserved, stock.c.safety_stock, locations.c.id,
               locations.c.kind, locations.c.latitude, locations.c.longitude, locations.c.details)
        .join(locations, locations.c.id == stock.c.location_id)
        .where(stock.c.variant_id.in_(variant_ids), locations.c.is_active.is_(True),
               locations.c.kind.in_(["warehouse", "store"]))
        .order_by(locations.c.id, stock.c.variant_id)
    )
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def active_locations(conn: AsyncConnection, kinds: list[str]) -> list[dict[str, Any]]:
    query = select(locations).where(locations.c.kind.in_(kinds), locations.c.is_active.is_(True)).order_by(
        locations.c.id)
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def express_orders_since(conn: AsyncConnection, since: datetime) -> dict[int, int]:
    """30-minute orders placed since `since`, per store (live ones: a cancelled order frees its courier slot)."""
    query = (
        select(orders.c.location_id, func.count())
        .where(orders.c.delivery_mode == "express", orders.c.placed_at >= since, orders.c.status != "cancelled")
        .group_by(orders.c.location_id)
    )
    return {location_id: int(n) for location_id, n in await conn.execute(query)}


async def customer_of_order(conn: AsyncConnection, order_id: int) -> int | None:
    return (await conn.execute(select(orders.c.customer_id).where(orders.c.id == order_id))).scalar_one_or_none()


async def list_shipments(conn: AsyncConnection, *, merchant_id: int | None, location_id: int | None,
                         status: str | None, limit: int, before_id: int | None) -> list[dict[str, Any]]:
    """Newest first; `location_id` matches parcels leaving from, or collected at, that location."""
    query = select(shipments).order_by(shipments.c.id.desc()).limit(limit)
    if merchant_id is not None:
        query = query.where(shipments.c.merchant_id == merchant_id)
    if location_id is not None:
        query = query.where((shipments.c.location_id == location_id)
                            | (shipments.c.pickup_location_id == location_id))
    if status is not None:
        query = query.where(shipments.c.status == status)
    if before_id is not None:
        query = query.where(shipments.c.id < before_id)
    return [dict(r) for r in (await conn.execute(query)).mappings()]
