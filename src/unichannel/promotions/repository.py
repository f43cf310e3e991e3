"""Flash-sale tables: the sale, its stock pool, and what each customer has bought of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
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
from sqlalchemy.ext.asyncio import AsyncConnection

from unichannel.db import (
    Id,
    UTCDateTime,
    allocate_ids,
    insert_rows,
    metadata,
    upsert_insert,
)
from unichannel.idempotency import claim_many
from unichannel.inventory.model import StockLevel

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

# The tables every order writes (orders, order_lines, reservations, flash_sale_purchases) keep foreign keys only
# within an order; their references to merchants, SKUs, locations, customers and sales are checked by `unichannel
# check` (rule 8) instead of by a locked lookup per row on the order path (migration 0009).
flash_sale_purchases = Table(
    "flash_sale_purchases",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("flash_sale_id", Id, nullable=False),
    Column("customer_id", Id, nullable=False),
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


async def get_sale(conn: AsyncConnection, sale_id: int) -> dict[str, Any] | None:
    row = (await conn.execute(select(flash_sales).where(flash_sales.c.id == sale_id))).mappings().first()
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
    statement = upsert_insert(conn, flash_sale_purchases).values(
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


# --- the coalesced batch -----------------------------------------------------------------------------------------


@dataclass(slots=True)
class BatchState:
    """What a batch decides on (SQLite), read inside the batch's transaction (so no other batch can change it)."""

    sale: dict[str, Any]
    pool: list[int]
    levels: dict[int, StockLevel]
    bought: dict[int, int]
    sku: str
    line_name: str
    reservation_ids: list[int]
    order_ids: list[int]
    claimed: dict[tuple[str, str], int]  # the idempotency keys this batch now owns: (caller, key) -> claim id


@dataclass(slots=True)
class BatchWrite:
    sale_id: int
    variant_id: int
    now: datetime
    units_by_location: dict[int, int] = field(default_factory=dict)
    units_by_customer: dict[int, int] = field(default_factory=dict)
    reservations: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    lines: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    recorded: list[tuple[int, str, int, Any]] = field(default_factory=list)  # (claim id, resource, status, body)
    withdrawn: list[int] = field(default_factory=list)  # claim ids of requests that did not win


async def read_batch_state(
    conn: AsyncConnection, sale_id: int, customer_ids: list[int], batch_size: int, claims: list[dict[str, Any]]
) -> BatchState | None:
    """What a batch decides on (SQLite, whose transaction holds the database's write lock from its first statement,
    so no other batch can change it): the sale, its pool's stock, the buyers' counts; ids for as many orders as the
    batch could place; and the batch's idempotency keys claimed (`claims`, rows for `claim_many`)."""
    sale = await get_sale(conn, sale_id)
    if sale is None:
        return None
    from unichannel.catalog.repository import get_product, get_variant
    from unichannel.inventory.repository import get_level, reservations
    from unichannel.orders.repository import orders

    pool = await pool_of(conn, sale_id)
    levels = {}
    for location_id in pool:
        level = await get_level(conn, sale["variant_id"], location_id)
        if level is not None:
            levels[location_id] = level
    variant = await get_variant(conn, sale["variant_id"])
    product = await get_product(conn, variant["product_id"])
    name = product["name"] if variant["name"] in ("", product["name"]) else f"{product['name']} · {variant['name']}"
    return BatchState(
        sale, pool, levels, await bought(conn, sale_id, customer_ids), variant["sku"], name,
        await allocate_ids(conn, reservations, batch_size), await allocate_ids(conn, orders, batch_size),
        await claim_many(conn, claims) if claims else {},
    )


async def write_batch(conn: AsyncConnection, plan: BatchWrite) -> None:
    """Writes a decided batch (SQLite): holds on the stock rows (conditional: they never oversell), the sale's and
    buyers' counts, holds, orders, lines, history, outbox events, idempotency results; withdraws the losers' key
    claims. Raises if a stock row no longer has the units (the transaction then rolls back)."""
    if not plan.orders and not plan.withdrawn:
        return
    from unichannel.events import outbox_events
    from unichannel.idempotency import idempotency_keys, record_rows
    from unichannel.inventory.repository import reservations, try_reserve
    from unichannel.orders.repository import order_history, order_lines, orders

    for location_id, units in sorted(plan.units_by_location.items()):
        if await try_reserve(conn, plan.variant_id, location_id, units, plan.now) is None:
            raise RuntimeError(f"stock at location {location_id} changed under the sale's lock")
    if plan.orders:
        await change_sold(conn, plan.sale_id, sum(plan.units_by_location.values()))
        await add_purchases(conn, plan.sale_id, plan.units_by_customer)
    for table, rows in ((reservations, plan.reservations), (orders, plan.orders), (order_lines, plan.lines),
                        (order_history, plan.history), (outbox_events, plan.events)):
        await insert_rows(conn, table, rows)
    await record_rows(conn, plan.recorded)
    if plan.withdrawn:
        await conn.execute(idempotency_keys.delete().where(idempotency_keys.c.id.in_(plan.withdrawn)))


# PostgreSQL: the whole batch in one call of `flash_batch_apply` (migrations 0008 to 0011).
_APPLY_PG = "SELECT * FROM flash_batch_apply($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"


@dataclass(slots=True)
class AppliedBatch:
    """What `flash_batch_apply` answered, per request passed to it (see the migration for the kinds)."""

    kinds: list[str]
    bodies: list[str | None]
    statuses: list[int | None]
    exhausted: bool
    sale: dict[str, Any] | None  # only when the sale was closed


async def apply_batch_pg(
    driver: Any, sale_id: int, now: datetime, expires_at: datetime, pay_before: str, columns: list[list[Any]]
) -> AppliedBatch | None:
    """Decides and writes a batch on PostgreSQL in one statement; `driver` is an asyncpg connection, in a
    transaction or not (then the statement commits by itself). `columns`: callers, customers, quantities, channels,
    tills, keys, hashes, one element per request. None if there is no such sale."""
    row = await driver.fetchrow(_APPLY_PG, sale_id, now, expires_at, pay_before, *columns)
    if row is None:
        return None
    sale = row["r_sale"]
    if isinstance(sale, str | bytes):  # SQLAlchemy's asyncpg set-up may already decode json
        sale = orjson.loads(sale)
    if sale is not None:
        for name in ("starts_at", "ends_at", "created_at"):
            sale[name] = datetime.fromisoformat(sale[name]).astimezone(UTC)
    return AppliedBatch(list(row["r_kinds"]), list(row["r_bodies"]), list(row["r_statuses"]), row["r_exhausted"],
                        sale)
