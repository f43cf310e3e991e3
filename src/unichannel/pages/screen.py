"""The 11.11 big screen's figures, read from the orders (read side only: it never writes and never locks).

GMV counts the orders paid today (local day), in each order's currency; the screen shows CNY, the platform's
currency, and lists any other currency apart. An order counts on the day it was placed, while it is paid or on
its way (a cancelled one drops out). Channels are online and each store; regions are cities: the delivery address's
(online) or the store's (till sales).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from unichannel.catalog.repository import variants
from unichannel.inventory.repository import locations, stock
from unichannel.orders.repository import order_lines, orders

PAID = ("paid", "allocated", "shipped", "delivered", "completed")
TOP = 10


@dataclass(slots=True)
class Snapshot:
    day_start: datetime
    gmv_minor: dict[str, int] = field(default_factory=dict)  # currency -> amount
    orders: int = 0
    by_channel: list[tuple[str, int, int]] = field(default_factory=list)  # (name, orders, CNY minor)
    by_region: list[tuple[str, int, int]] = field(default_factory=list)
    top_skus: list[tuple[str, str, int]] = field(default_factory=list)  # (sku, name, units)
    sold_out: list[tuple[str, str]] = field(default_factory=list)  # (sku, name)


def local_day_start(now: datetime, zone: str) -> datetime:
    local = now.astimezone(ZoneInfo(zone))
    return datetime.combine(local.date(), time(0), tzinfo=local.tzinfo)


async def snapshot(conn: AsyncConnection, now: datetime, zone: str, currency: str = "CNY") -> Snapshot:
    start = local_day_start(now, zone)
    shot = Snapshot(day_start=start)
    today = and_(orders.c.status.in_(PAID), orders.c.placed_at >= start, orders.c.placed_at < start + timedelta(1))
    for cur, total, count in await conn.execute(
            select(orders.c.currency, func.sum(orders.c.total_minor), func.count()).where(today)
            .group_by(orders.c.currency)):
        shot.gmv_minor[cur] = int(total)
        shot.orders += int(count)
    in_currency = and_(today, orders.c.currency == currency)
    store = locations.alias("store")
    channel_rows = await conn.execute(
        select(orders.c.channel, store.c.name, func.count(), func.sum(orders.c.total_minor))
        .outerjoin(store, and_(store.c.id == orders.c.location_id, orders.c.channel == "store"))
        .where(in_currency).group_by(orders.c.channel, store.c.name))
    shot.by_channel = sorted(((name if channel == "store" and name else channel, int(n), int(total))
                              for channel, name, n, total in channel_rows), key=lambda row: -row[2])
    region_rows = await conn.execute(
        select(orders.c.channel, orders.c.address, store.c.region, store.c.city, orders.c.total_minor)
        .outerjoin(store, store.c.id == orders.c.location_id).where(in_currency))
    regions: dict[str, list[int]] = {}
    for channel, address, store_region, store_city, total in region_rows:
        address = address or {}
        name = (address.get("city") if channel == "online" else store_city) or "—"  # one level: the city
        regions.setdefault(name, [0, 0])
        regions[name][0] += 1
        regions[name][1] += int(total)
    shot.by_region = sorted(((k, v[0], v[1]) for k, v in regions.items()), key=lambda row: -row[2])[:TOP]
    top_rows = await conn.execute(
        select(order_lines.c.sku, order_lines.c.name, func.sum(order_lines.c.quantity).label("units"))
        .join(orders, orders.c.id == order_lines.c.order_id).where(today)
        .group_by(order_lines.c.sku, order_lines.c.name).order_by(func.sum(order_lines.c.quantity).desc())
        .limit(TOP))
    shot.top_skus = [(sku, name, int(units)) for sku, name, units in top_rows]
    sellable = stock.c.on_hand - stock.c.reserved - stock.c.safety_stock
    available = func.sum(case((sellable > 0, sellable), else_=0))  # as the storefront counts: never below zero
    sold_rows = await conn.execute(
        select(variants.c.sku, variants.c.name).join(stock, stock.c.variant_id == variants.c.id)
        .join(locations, and_(locations.c.id == stock.c.location_id, locations.c.is_active.is_(True)))
        .where(variants.c.is_active.is_(True), stock.c.variant_id.in_(
            select(order_lines.c.variant_id).join(orders, orders.c.id == order_lines.c.order_id).where(today)))
        .group_by(variants.c.id, variants.c.sku, variants.c.name).having(available <= 0)
        .order_by(variants.c.sku).limit(TOP))
    shot.sold_out = [(sku, name) for sku, name in sold_rows]
    return shot
