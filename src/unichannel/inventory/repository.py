"""Inventory tables and the SQL that changes stock.

Every stock change is one atomic conditional UPDATE (`reserved = reserved + :n WHERE on_hand - reserved - safety
>= :n`): concurrent buyers never read-modify-write a count, and the CHECK constraints refuse anything that would
break `0 <= reserved <= on_hand` even if a rule were missed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    and_,
    func,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from unichannel.db import Id, Json, UTCDateTime, metadata, upsert_insert
from unichannel.inventory.model import MAX_ON_HAND, ReservationStatus, StockLevel

locations = Table(
    "locations",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("code", String(40), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("merchant_id", Id, ForeignKey("merchants.id"), nullable=True),  # who runs it; NULL = the platform
    Column("address", String(300), nullable=False),
    Column("city", String(100), nullable=False),
    Column("region", String(100), nullable=False, default=""),
    Column("latitude", Float, nullable=False),
    Column("longitude", Float, nullable=False),
    Column("details", Json, nullable=False, default=dict),
    Column("is_active", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("kind IN ('warehouse', 'store', 'village_station', 'popup')", name="kind_known"),
    CheckConstraint("latitude BETWEEN -90 AND 90 AND longitude BETWEEN -180 AND 180", name="coordinates_valid"),
)

stock = Table(
    "stock",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("merchant_id", Id, ForeignKey("merchants.id"), nullable=False),
    Column("variant_id", Id, ForeignKey("variants.id"), nullable=False),
    Column("location_id", Id, ForeignKey("locations.id"), nullable=False, index=True),
    Column("on_hand", Integer, nullable=False, default=0),
    Column("reserved", Integer, nullable=False, default=0),
    Column("safety_stock", Integer, nullable=False, default=0),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("variant_id", "location_id", name="uq_stock_variant_location"),
    CheckConstraint("reserved >= 0", name="reserved_not_negative"),
    CheckConstraint("reserved <= on_hand", name="reserved_within_on_hand"),
    CheckConstraint("safety_stock >= 0", name="safety_stock_not_negative"),
)

stock_movements = Table(
    "stock_movements",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("merchant_id", Id, ForeignKey("merchants.id"), nullable=False),
    Column("variant_id", Id, ForeignKey("variants.id"), nullable=False),
    Column("location_id", Id, ForeignKey("locations.id"), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("quantity", Integer, nullable=False),  # signed change of on_hand
    Column("reason", String(200), nullable=False, default=""),
    Column("reference", String(80), nullable=True),
    Column("actor", String(80), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("quantity <> 0", name="quantity_not_zero"),
    CheckConstraint(
        "kind IN ('receive', 'adjust', 'transfer_out', 'transfer_in', 'ship', 'return')", name="kind_known"
    ),
    Index("ix_stock_movements_variant_location", "variant_id", "location_id"),
)

# The tables every order writes (orders, order_lines, reservations, flash_sale_purchases) keep foreign keys only
# within an order; their references to merchants, SKUs, locations, customers and sales are checked by `unichannel
# check` (rule 8) instead of by a locked lookup per row on the order path (migration 0009).
reservations = Table(
    "reservations",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("merchant_id", Id, nullable=False),
    Column("variant_id", Id, nullable=False),
    Column("location_id", Id, nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    CheckConstraint(
        "status IN ('active', 'allocated', 'consumed', 'released', 'expired')", name="status_known"
    ),
    Index("ix_reservations_lapsing", "status", "expires_at"),
    Index("ix_reservations_variant_location", "variant_id", "location_id"),
)

lots = Table(  # units of one SKU at one location that share a supplier lot code and a best-before date
    "lots",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("merchant_id", Id, ForeignKey("merchants.id"), nullable=False),
    Column("variant_id", Id, ForeignKey("variants.id"), nullable=False),
    Column("location_id", Id, ForeignKey("locations.id"), nullable=False),
    Column("code", String(40), nullable=False),
    Column("best_before", Date, nullable=False),
    Column("received", Integer, nullable=False),
    Column("remaining", Integer, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    UniqueConstraint("variant_id", "location_id", "code", name="uq_lots_variant_location_code"),
    CheckConstraint("received > 0", name="received_positive"),
    CheckConstraint("remaining >= 0", name="remaining_not_negative"),
    Index("ix_lots_best_before", "best_before"),
)


# --- locations ---------------------------------------------------------------------------------------------------


async def insert_location(conn: AsyncConnection, values: dict[str, Any]) -> int:
    return (await conn.execute(locations.insert().values(**values).returning(locations.c.id))).scalar_one()


async def get_location(conn: AsyncConnection, location_id: int) -> dict[str, Any] | None:
    row = (await conn.execute(select(locations).where(locations.c.id == location_id))).mappings().first()
    return dict(row) if row else None


async def get_location_by_code(conn: AsyncConnection, code: str) -> dict[str, Any] | None:
    row = (await conn.execute(select(locations).where(locations.c.code == code))).mappings().first()
    return dict(row) if row else None


async def list_locations(
    conn: AsyncConnection, *, kind: str | None = None, merchant_id: int | None = None
) -> list[dict[str, Any]]:
    query = select(locations).order_by(locations.c.id)
    if kind is not None:
        query = query.where(locations.c.kind == kind)
    if merchant_id is not None:
        query = query.where(locations.c.merchant_id == merchant_id)
    return [dict(r) for r in (await conn.execute(query)).mappings()]


# --- stock -------------------------------------------------------------------------------------------------------


async def ensure_stock_row(
    conn: AsyncConnection, merchant_id: int, variant_id: int, location_id: int, now: datetime
) -> None:
    """Creates the (SKU, location) stock row at zero if it does not exist; safe under concurrency."""
    statement = (
        upsert_insert(conn, stock)
        .values(merchant_id=merchant_id, variant_id=variant_id, location_id=location_id, updated_at=now)
        .on_conflict_do_nothing(index_elements=["variant_id", "location_id"])
    )
    await conn.execute(statement)


def _level(row: Any) -> StockLevel | None:
    return None if row is None else StockLevel(row.on_hand, row.reserved, row.safety_stock)


_LEVEL_COLUMNS = (stock.c.on_hand, stock.c.reserved, stock.c.safety_stock)


async def get_level(
    conn: AsyncConnection, variant_id: int, location_id: int, *, for_update: bool = False
) -> StockLevel | None:
    query = select(*_LEVEL_COLUMNS).where(stock.c.variant_id == variant_id, stock.c.location_id == location_id)
    if for_update:
        query = query.with_for_update()
    return _level((await conn.execute(query)).first())


async def change_on_hand(
    conn: AsyncConnection, variant_id: int, location_id: int, delta: int, now: datetime
) -> StockLevel | None:
    """on_hand += delta, only if reserved units stay covered and on_hand stays within MAX_ON_HAND; None when refused."""
    statement = (
        stock.update()
        .where(
            stock.c.variant_id == variant_id,
            stock.c.location_id == location_id,
            stock.c.on_hand + delta >= stock.c.reserved,
            stock.c.on_hand + delta <= MAX_ON_HAND,
        )
        .values(on_hand=stock.c.on_hand + delta, updated_at=now)
        .returning(*_LEVEL_COLUMNS)
    )
    return _level((await conn.execute(statement)).first())


async def set_safety_stock(
    conn: AsyncConnection, variant_id: int, location_id: int, safety_stock: int, now: datetime
) -> StockLevel | None:
    statement = (
        stock.update()
        .where(stock.c.variant_id == variant_id, stock.c.location_id == location_id)
        .values(safety_stock=safety_stock, updated_at=now)
        .returning(*_LEVEL_COLUMNS)
    )
    return _level((await conn.execute(statement)).first())


async def try_reserve(
    conn: AsyncConnection, variant_id: int, location_id: int, quantity: int, now: datetime
) -> StockLevel | None:
    """reserved += quantity if that many units are available; None (and nothing changed) when they are not."""
    statement = (
        stock.update()
        .where(
            stock.c.variant_id == variant_id,
            stock.c.location_id == location_id,
            stock.c.on_hand - stock.c.reserved - stock.c.safety_stock >= quantity,
        )
        .values(reserved=stock.c.reserved + quantity, updated_at=now)
        .returning(*_LEVEL_COLUMNS)
    )
    return _level((await conn.execute(statement)).first())


async def unreserve(
    conn: AsyncConnection, variant_id: int, location_id: int, quantity: int, *, consume: bool, now: datetime
) -> StockLevel:
    """Gives reserved units back (consume=False) or ships them (consume=True: on_hand goes down with reserved)."""
    values: dict[str, Any] = {"reserved": stock.c.reserved - quantity, "updated_at": now}
    if consume:
        values["on_hand"] = stock.c.on_hand - quantity
    statement = (
        stock.update()
        .where(stock.c.variant_id == variant_id, stock.c.location_id == location_id)
        .values(**values)
        .returning(*_LEVEL_COLUMNS)
    )
    level = _level((await conn.execute(statement)).first())
    assert level is not None, "a reservation always has its stock row"
    return level


async def stock_rows(
    conn: AsyncConnection,
    *,
    variant_ids: list[int] | None = None,
    location_id: int | None = None,
    merchant_id: int | None = None,
    limit: int = 500,
    offset: int = 0,
) -> list[dict[str, Any]]:
    query = select(stock).order_by(stock.c.variant_id, stock.c.location_id).limit(limit).offset(offset)
    if variant_ids is not None:
        query = query.where(stock.c.variant_id.in_(variant_ids))
    if location_id is not None:
        query = query.where(stock.c.location_id == location_id)
    if merchant_id is not None:
        query = query.where(stock.c.merchant_id == merchant_id)
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def candidate_locations(
    conn: AsyncConnection, variant_id: int, quantity: int, location_ids: list[int] | None
) -> list[int]:
    """Active locations that show `quantity` available units of the SKU, most available first."""
    available = stock.c.on_hand - stock.c.reserved - stock.c.safety_stock
    query = (
        select(stock.c.location_id)
        .join(locations, and_(locations.c.id == stock.c.location_id, locations.c.is_active.is_(True)))
        .where(stock.c.variant_id == variant_id, available >= quantity)
        .order_by(available.desc(), stock.c.location_id)
    )
    if location_ids is not None:
        query = query.where(stock.c.location_id.in_(location_ids))
    return list((await conn.execute(query)).scalars())


# --- movements ---------------------------------------------------------------------------------------------------


async def insert_movement(conn: AsyncConnection, values: dict[str, Any]) -> int:
    statement = stock_movements.insert().values(**values).returning(stock_movements.c.id)
    return (await conn.execute(statement)).scalar_one()


async def list_movements(
    conn: AsyncConnection,
    *,
    variant_id: int | None,
    location_id: int | None,
    merchant_id: int | None,
    limit: int,
) -> list[dict[str, Any]]:
    query = select(stock_movements).order_by(stock_movements.c.id.desc()).limit(limit)
    if variant_id is not None:
        query = query.where(stock_movements.c.variant_id == variant_id)
    if location_id is not None:
        query = query.where(stock_movements.c.location_id == location_id)
    if merchant_id is not None:
        query = query.where(stock_movements.c.merchant_id == merchant_id)
    return [dict(r) for r in (await conn.execute(query)).mappings()]


# --- reservations ------------------------------------------------------------------------------------------------


async def insert_reservation(conn: AsyncConnection, values: dict[str, Any]) -> int:
    statement = reservations.insert().values(**values).returning(reservations.c.id)
    return (await conn.execute(statement)).scalar_one()


async def get_reservations(conn: AsyncConnection, reservation_ids: list[int]) -> list[dict[str, Any]]:
    if not reservation_ids:
        return []
    query = select(reservations).where(reservations.c.id.in_(reservation_ids)).order_by(reservations.c.id)
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def move_reservation(
    conn: AsyncConnection,
    reservation_id: int,
    from_statuses: tuple[str, ...],
    to_status: ReservationStatus,
    now: datetime,
    *,
    expires_at: datetime | None | bool = False,
) -> dict[str, Any] | None:
    """Moves a reservation between statuses, only from the given ones; returns it, or None if it was not in them.

    The status condition makes each move happen once even when a sweeper and a buyer race for the same hold.
    """
    values: dict[str, Any] = {"status": to_status.value, "updated_at": now}
    if expires_at is not False:
        values["expires_at"] = expires_at
    statement = (
        reservations.update()
        .where(reservations.c.id == reservation_id, reservations.c.status.in_(from_statuses))
        .values(**values)
        .returning(*reservations.c)
    )
    row = (await conn.execute(statement)).mappings().first()
    return dict(row) if row else None


async def lapsed_reservations(
    conn: AsyncConnection,
    now: datetime,
    *,
    variant_id: int | None = None,
    location_id: int | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    query = (
        select(reservations)
        .where(
            reservations.c.status == ReservationStatus.ACTIVE.value,
            reservations.c.expires_at.is_not(None),
            reservations.c.expires_at <= now,
        )
        .order_by(reservations.c.expires_at, reservations.c.id)
        .limit(limit)
    )
    if variant_id is not None:
        query = query.where(reservations.c.variant_id == variant_id)
    if location_id is not None:
        query = query.where(reservations.c.location_id == location_id)
    return [dict(r) for r in (await conn.execute(query)).mappings()]


# --- lots --------------------------------------------------------------------------------------------------------


async def receive_into_lot(conn: AsyncConnection, values: dict[str, Any]) -> dict[str, Any] | None:
    """Adds units to the lot (creating it); None if the lot exists with another best-before date."""
    quantity = values["received"]
    statement = (
        upsert_insert(conn, lots)
        .values(**values, remaining=quantity)
        .on_conflict_do_update(
            index_elements=["variant_id", "location_id", "code"],
            set_={"received": lots.c.received + quantity, "remaining": lots.c.remaining + quantity},
            where=lots.c.best_before == values["best_before"],
        )
        .returning(*lots.c)
    )
    row = (await conn.execute(statement)).mappings().first()
    return dict(row) if row else None


async def get_lot(conn: AsyncConnection, variant_id: int, location_id: int, code: str) -> dict[str, Any] | None:
    query = select(lots).where(lots.c.variant_id == variant_id, lots.c.location_id == location_id, lots.c.code == code)
    row = (await conn.execute(query)).mappings().first()
    return dict(row) if row else None


async def lots_at(conn: AsyncConnection, variant_id: int, location_id: int, *, with_empty: bool = False
                  ) -> list[dict[str, Any]]:
    query = select(lots).where(lots.c.variant_id == variant_id, lots.c.location_id == location_id)
    if not with_empty:
        query = query.where(lots.c.remaining > 0)
    query = query.order_by(lots.c.best_before, lots.c.id)
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def list_lots(conn: AsyncConnection, *, variant_id: int | None, location_id: int | None,
                    merchant_id: int | None, limit: int) -> list[dict[str, Any]]:
    query = select(lots).where(lots.c.remaining > 0).order_by(lots.c.best_before, lots.c.id).limit(limit)
    for column, value in ((lots.c.variant_id, variant_id), (lots.c.location_id, location_id),
                          (lots.c.merchant_id, merchant_id)):
        if value is not None:
            query = query.where(column == value)
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def change_lot(conn: AsyncConnection, lot_id: int, delta: int) -> bool:
    """remaining += delta, only if it stays within 0..received; False when refused."""
    statement = (
        lots.update()
        .where(lots.c.id == lot_id, lots.c.remaining + delta >= 0, lots.c.remaining + delta <= lots.c.received)
        .values(remaining=lots.c.remaining + delta)
    )
    return (await conn.execute(statement)).rowcount == 1


async def units_in_lots(conn: AsyncConnection, variant_id: int, location_id: int) -> int:
    query = select(func.coalesce(func.sum(lots.c.remaining), 0)).where(
        lots.c.variant_id == variant_id, lots.c.location_id == location_id)
    return int((await conn.execute(query)).scalar_one())


async def expired_lots(conn: AsyncConnection, today: Any, limit: int) -> list[dict[str, Any]]:
    query = (select(lots).where(lots.c.best_before < today, lots.c.remaining > 0)
             .order_by(lots.c.variant_id, lots.c.location_id, lots.c.id).limit(limit))
    return [dict(r) for r in (await conn.execute(query)).mappings()]
