"""Cart tables."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CheckConstraint, Column, ForeignKey, Integer, String, Table, UniqueConstraint, select
from sqlalchemy.ext.asyncio import AsyncConnection

from unichannel.catalog.repository import products, variants
from unichannel.checkout.model import CartItem
from unichannel.db import Id, UTCDateTime, metadata, upsert_insert

carts = Table(
    "carts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("customer_id", Id, ForeignKey("customers.id"), nullable=False, unique=True),
    Column("currency", String(3), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

cart_lines = Table(
    "cart_lines",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("cart_id", Id, ForeignKey("carts.id", ondelete="CASCADE"), nullable=False),
    Column("variant_id", Id, ForeignKey("variants.id"), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("added_via", String(16), nullable=False),  # online | store: where the shopper put it in
    Column("location_id", Id, ForeignKey("locations.id"), nullable=True),  # the store where it was scanned, if any
    Column("added_at", UTCDateTime, nullable=False),
    UniqueConstraint("cart_id", "variant_id", name="uq_cart_lines_cart_variant"),
    CheckConstraint("quantity > 0", name="quantity_positive"),
)


async def get_or_create_cart(conn: AsyncConnection, customer_id: int, currency: str, now: Any) -> dict[str, Any]:
    """The customer's one cart, created on first use; concurrent first uses still make only one."""
    query = select(carts).where(carts.c.customer_id == customer_id)
    row = (await conn.execute(query)).mappings().first()
    if row is not None:
        return dict(row)
    await conn.execute(
        upsert_insert(conn, carts)
        .values(customer_id=customer_id, currency=currency, updated_at=now)
        .on_conflict_do_nothing(index_elements=["customer_id"])
    )
    return dict((await conn.execute(query)).mappings().one())


async def touch_cart(conn: AsyncConnection, cart_id: int, now: Any, currency: str | None = None) -> None:
    values: dict[str, Any] = {"updated_at": now}
    if currency is not None:
        values["currency"] = currency
    await conn.execute(carts.update().where(carts.c.id == cart_id).values(**values))


async def cart_items(conn: AsyncConnection, cart_id: int) -> list[CartItem]:
    query = (
        select(
            cart_lines.c.id,
            cart_lines.c.variant_id,
            cart_lines.c.quantity,
            variants.c.merchant_id,
            variants.c.product_id,
            variants.c.sku,
            variants.c.name.label("variant_name"),
            variants.c.is_active.label("variant_active"),
            products.c.name.label("product_name"),
            products.c.is_active.label("product_active"),
        )
        .join(variants, variants.c.id == cart_lines.c.variant_id)
        .join(products, products.c.id == variants.c.product_id)
        .where(cart_lines.c.cart_id == cart_id)
        .order_by(cart_lines.c.id)
    )
    items = []
    for row in await conn.execute(query):
        name = row.product_name if row.variant_name in ("", row.product_name) else f"{row.product_name} · {row.variant_name}"
        items.append(
            CartItem(
                line_id=row.id,
                variant_id=row.variant_id,
                merchant_id=row.merchant_id,
                product_id=row.product_id,
                sku=row.sku,
                name=name,
                quantity=row.quantity,
                is_active=bool(row.variant_active and row.product_active),
            )
        )
    return items


async def find_line(conn: AsyncConnection, cart_id: int, *, line_id: int | None = None, variant_id: int | None = None):
    query = select(cart_lines).where(cart_lines.c.cart_id == cart_id)
    query = query.where(cart_lines.c.id == line_id) if line_id is not None else query.where(
        cart_lines.c.variant_id == variant_id
    )
    row = (await conn.execute(query)).mappings().first()
    return dict(row) if row else None


async def insert_line(conn: AsyncConnection, values: dict[str, Any]) -> int:
    return (await conn.execute(cart_lines.insert().values(**values).returning(cart_lines.c.id))).scalar_one()


async def set_line_quantity(conn: AsyncConnection, line_id: int, quantity: int) -> None:
    await conn.execute(cart_lines.update().where(cart_lines.c.id == line_id).values(quantity=quantity))


async def delete_lines(conn: AsyncConnection, cart_id: int, line_ids: list[int]) -> int:
    if not line_ids:
        return 0
    result = await conn.execute(
        cart_lines.delete().where(cart_lines.c.cart_id == cart_id, cart_lines.c.id.in_(line_ids))
    )
    return result.rowcount
