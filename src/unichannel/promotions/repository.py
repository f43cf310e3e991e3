"""Flash-sale tables: the sale, its stock pool, and what each customer has bought of it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    UniqueConstraint,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from unichannel.db import Id, UTCDateTime, metadata

flash_sales = Table(
    "flash_sales",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("merchant_id", Id, ForeignKey("merchants.id"), nullable=False, index=True),
    Column("variant_id", Id, ForeignKey("variants.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("price_minor", Id, nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("sold", Integer, nullable=False, default=0),  # units held or sold; back down when an order is cancelled
    Column("per_customer_limit", Integer, nullable=False),
    Column("starts_at", UTCDateTime, nullable=False),
    Column("ends_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("sold >= 0 AND sold <= quantity", name="sold_within_quantity"),
    CheckConstraint("price_minor >= 0", name="price_not_negative"),
    CheckConstraint("per_customer_limit >= 1", name="limit_positive"),
    CheckConstraint("ends_at > starts_at", name="ends_after_start"),
)

flash_sale_locations = Table(
    "flash_sale_locations",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("flash_sale_id", Id, ForeignKey("flash_sales.id"), nullable=False),
    Column("location_id", Id, ForeignKey("locations.id"), nullable=False),
    Column("position", Integer, nullable=False),  # the pool's order of preference
    UniqueConstraint("flash_sale_id", "location_id", name="uq_flash_sale_locations_sale_location"),
)

flash_sale_purchases = Table(
    "flash_sale_purchases",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("flash_sale_id", Id, ForeignKey("flash_sales.id"), nullable=False),
    Column("customer_id", Id, ForeignKey("customers.id"), nullable=False),
    Column("quantity", Integer, nullable=False),
    UniqueConstraint("flash_sale_id", "customer_id", name="uq_flash_sale_purchases_sale_customer"),
    CheckConstraint("quantity >= 0", name="quantity_not_negative"),
)


async def insert_sale(conn: AsyncConnection, values: dict[str, Any], location_ids: list[int]) -> int:
    sale_id = (await conn.execute(flash_sales.insert().values(**values).returning(flash_sales.c.id))).scalar_one()
    await conn.execute(
        flash_sale_locations.insert(),
        [{"flash_sale_id": sale_id, "location_id": loc, "position": n} for n, loc in enumerate(location_ids)],
    )
    return sale_id


async def get_sale(conn: AsyncConnection, sale_id: int, *, lock: bool = False) -> dict[str, Any] | None:
    """The sale row; with `lock`, held until the transaction ends (on PostgreSQL), which serialises every batch of
    this sale across processes: per-customer counts read under it cannot change underneath."""
    query = select(flash_sales).where(flash_sales.c.id == sale_id)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = (await conn.execute(query)).mappings().first()
    return dict(row) if row else None


async def pool_of(conn: AsyncConnection, sale_id: int) -> list[int]:
    query = (
        select(flash_sale_locations.c.location_id)
        .where(flash_sale_locations.c.flash_sale_id == sale_id)
        .order_by(flash_sale_locations.c.position)
    )
    return list((await conn.execute(query)).scalars())


async def list_sales(conn: AsyncConnection, merchant_id: int | None = None) -> list[dict[str, Any]]:
    query = select(flash_sales).order_by(flash_sales.c.starts_at, flash_sales.c.id)
    if merchant_id is not None:
        query = query.where(flash_sales.c.merchant_id == merchant_id)
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def bought(conn: AsyncConnection, sale_id: int, customer_ids: list[int]) -> dict[int, int]:
    query = select(flash_sale_purchases.c.customer_id, flash_sale_purchases.c.quantity).where(
        flash_sale_purchases.c.flash_sale_id == sale_id, flash_sale_purchases.c.customer_id.in_(customer_ids)
    )
    return {row.customer_id: row.quantity for row in await conn.execute(query)}


async def add_purchases(conn: AsyncConnection, sale_id: int, quantities: dict[int, int]) -> None:
    """Adds units to each customer's count for the sale (creating the count on a first purchase)."""
    if not quantities:
        return
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = insert(flash_sale_purchases).values(
        [{"flash_sale_id": sale_id, "customer_id": c, "quantity": q} for c, q in sorted(quantities.items())]
    )
    statement = statement.on_conflict_do_update(
        index_elements=["flash_sale_id", "customer_id"],
        set_={"quantity": flash_sale_purchases.c.quantity + statement.excluded.quantity},
    )
    await conn.execute(statement)


async def change_sold(conn: AsyncConnection, sale_id: int, delta: int) -> None:
    await conn.execute(
        flash_sales.update().where(flash_sales.c.id == sale_id).values(sold=flash_sales.c.sold + delta)
    )


async def give_back(conn: AsyncConnection, sale_id: int, customer_id: int, quantity: int) -> None:
    """A cancelled or lapsed flash order returns its units to the sale and to the buyer's allowance."""
    await change_sold(conn, sale_id, -quantity)
    await conn.execute(
        flash_sale_purchases.update()
        .where(flash_sale_purchases.c.flash_sale_id == sale_id, flash_sale_purchases.c.customer_id == customer_id)
        .values(quantity=flash_sale_purchases.c.quantity - quantity)
    )
