"""What source selection reads: stock with its locations, village stations, and this hour's 30-minute orders.

(The fulfilment context's own tables, shipments and their tracking, arrive with the rest of issue 5.)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from unichannel.inventory.repository import locations, stock
from unichannel.orders.repository import orders


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
