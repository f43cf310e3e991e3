"""Catalog tables and the SQL that reads and writes them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from unichannel.db import Id, Json, UTCDateTime, metadata

merchants = Table(
    "merchants",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("slug", String(80), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("country", String(2), nullable=False),
    Column("currency", String(3), nullable=False),
    # Which location ships an online order first (fulfillment.model.Strategy)
    Column("fulfilment_strategy", String(24), nullable=False, server_default="keep_shelves_stocked"),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint(
        "kind IN ('brand', 'overseas_brand', 'farm_cooperative', 'store_operator')", name="kind_known"
    ),
    CheckConstraint(
        "fulfilment_strategy IN ('nearest_first', 'priority_order', 'keep_shelves_stocked')", name="strategy_known"
    ),
)

categories = Table(
    "categories",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("slug", String(200), nullable=False, unique=True),
    Column("name", String(120), nullable=False),
    Column("parent_id", Id, ForeignKey("categories.id"), nullable=True),
)

products = Table(
    "products",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("merchant_id", Id, ForeignKey("merchants.id"), nullable=False),
    Column("handle", String(200), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("category_id", Id, ForeignKey("categories.id"), nullable=True),
    Column("tags", Json, nullable=False, default=list),
    Column("image_urls", Json, nullable=False, default=list),
    Column("is_active", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("merchant_id", "handle", name="uq_products_merchant_handle"),
)

variants = Table(
    "variants",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("merchant_id", Id, ForeignKey("merchants.id"), nullable=False),
    Column("product_id", Id, ForeignKey("products.id"), nullable=False, index=True),
    Column("sku", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("options", Json, nullable=False, default=dict),
    Column("barcode", String(32), nullable=True, index=True),
    Column("grams", Integer, nullable=True),
    Column("position", Integer, nullable=False, default=0),
    Column("is_active", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("merchant_id", "sku", name="uq_variants_merchant_sku"),
    CheckConstraint("grams IS NULL OR grams >= 0", name="grams_not_negative"),
)
Index("ix_variants_sku", variants.c.sku)

prices = Table(
    "prices",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("merchant_id", Id, ForeignKey("merchants.id"), nullable=False),
    Column("variant_id", Id, ForeignKey("variants.id"), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount_minor", Id, nullable=False),
    Column("compare_at_minor", Id, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("variant_id", "channel", "currency", name="uq_prices_variant_channel_currency"),
    CheckConstraint("amount_minor >= 0", name="amount_not_negative"),
    CheckConstraint("channel IN ('online', 'store')", name="channel_known"),
)

# A product CSV being applied in the background (catalog.model.ImportJob): its progress and report live here, not in
# the memory of the process that runs it, so every server process can show them and they outlive a restart.
import_jobs = Table(
    "import_jobs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("merchant_id", Id, ForeignKey("merchants.id"), nullable=False),
    Column("started_by", String(64), nullable=False),  # the principal's key
    Column("source", String(16), nullable=False),
    Column("file_name", String(120), nullable=False),
    Column("location_id", Id, ForeignKey("locations.id"), nullable=True),  # where the file's stock counts go
    Column("status", String(16), nullable=False),
    Column("rows_read", Integer, nullable=False),
    Column("products_total", Integer, nullable=False),
    Column("products_done", Integer, nullable=False, default=0),
    Column("products_created", Integer, nullable=False, default=0),
    Column("products_updated", Integer, nullable=False, default=0),
    Column("variants_created", Integer, nullable=False, default=0),
    Column("variants_updated", Integer, nullable=False, default=0),
    Column("issues", Json, nullable=False, default=list),  # [{"line", "reason", "handle"}], by line
    Column("started_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    CheckConstraint("source IN ('woocommerce', 'shopify')", name="source_known"),
    CheckConstraint("status IN ('running', 'done', 'failed')", name="status_known"),
    CheckConstraint("(status = 'running') = (finished_at IS NULL)", name="finished_unless_running"),
    CheckConstraint("products_done >= 0 AND products_done <= products_total", name="done_within_total"),
    CheckConstraint(
        "rows_read >= 0 AND products_created >= 0 AND products_updated >= 0 AND variants_created >= 0 "
        "AND variants_updated >= 0 AND products_created + products_updated <= products_done",
        name="counts_consistent",
    ),
)
Index("ix_import_jobs_merchant", import_jobs.c.merchant_id, import_jobs.c.id)


# --- merchants ---------------------------------------------------------------------------------------------------


async def insert_merchant(conn: AsyncConnection, values: dict[str, Any]) -> int:
    return (await conn.execute(merchants.insert().values(**values).returning(merchants.c.id))).scalar_one()


async def get_merchant(conn: AsyncConnection, merchant_id: int) -> dict[str, Any] | None:
    row = (await conn.execute(select(merchants).where(merchants.c.id == merchant_id))).mappings().first()
    return dict(row) if row else None


async def get_merchant_by_slug(conn: AsyncConnection, slug: str) -> dict[str, Any] | None:
    row = (await conn.execute(select(merchants).where(merchants.c.slug == slug))).mappings().first()
    return dict(row) if row else None


async def list_merchants(conn: AsyncConnection) -> list[dict[str, Any]]:
    return [dict(r) for r in (await conn.execute(select(merchants).order_by(merchants.c.id))).mappings()]


# --- categories --------------------------------------------------------------------------------------------------


async def get_category_by_slug(conn: AsyncConnection, slug: str) -> dict[str, Any] | None:
    row = (await conn.execute(select(categories).where(categories.c.slug == slug))).mappings().first()
    return dict(row) if row else None


async def insert_category(conn: AsyncConnection, slug: str, name: str, parent_id: int | None) -> int:
    statement = categories.insert().values(slug=slug, name=name, parent_id=parent_id).returning(categories.c.id)
    return (await conn.execute(statement)).scalar_one()


async def list_categories(conn: AsyncConnection) -> list[dict[str, Any]]:
    return [dict(r) for r in (await conn.execute(select(categories).order_by(categories.c.slug))).mappings()]


# --- products and variants ---------------------------------------------------------------------------------------


async def get_product(conn: AsyncConnection, product_id: int) -> dict[str, Any] | None:
    row = (await conn.execute(select(products).where(products.c.id == product_id))).mappings().first()
    return dict(row) if row else None


async def get_product_by_handle(conn: AsyncConnection, merchant_id: int, handle: str) -> dict[str, Any] | None:
    query = select(products).where(products.c.merchant_id == merchant_id, products.c.handle == handle)
    row = (await conn.execute(query)).mappings().first()
    return dict(row) if row else None


async def insert_product(conn: AsyncConnection, values: dict[str, Any]) -> int:
    return (await conn.execute(products.insert().values(**values).returning(products.c.id))).scalar_one()


async def update_product(conn: AsyncConnection, product_id: int, values: dict[str, Any]) -> None:
    await conn.execute(products.update().where(products.c.id == product_id).values(**values))


async def search_products(
    conn: AsyncConnection,
    *,
    text: str | None,
    category_ids: list[int] | None,
    merchant_id: int | None,
    only_active: bool,
    limit: int,
    offset: int,
) -> list[dict[str, Any]]:
    query = select(products).order_by(products.c.id).limit(limit).offset(offset)
    if text:
        needle = text.lower()  # matched literally: '%' and '_' are escaped, not wildcards
        sku_match = select(variants.c.product_id).where(
            or_(func.lower(variants.c.sku).contains(needle, autoescape=True), variants.c.barcode == text)
        )
        query = query.where(
            or_(
                func.lower(products.c.name).contains(needle, autoescape=True),
                func.lower(products.c.description).contains(needle, autoescape=True),
                products.c.id.in_(sku_match),
            )
        )
    if category_ids is not None:
        query = query.where(products.c.category_id.in_(category_ids))
    if merchant_id is not None:
        query = query.where(products.c.merchant_id == merchant_id)
    if only_active:
        query = query.where(products.c.is_active.is_(True))
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def variants_of(conn: AsyncConnection, product_ids: list[int]) -> list[dict[str, Any]]:
    if not product_ids:
        return []
    query = select(variants).where(variants.c.product_id.in_(product_ids)).order_by(variants.c.position, variants.c.id)
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def get_variant(conn: AsyncConnection, variant_id: int) -> dict[str, Any] | None:
    row = (await conn.execute(select(variants).where(variants.c.id == variant_id))).mappings().first()
    return dict(row) if row else None


async def find_variants_by_code(conn: AsyncConnection, code: str) -> list[dict[str, Any]]:
    """Variants whose SKU or barcode is exactly `code` (a SKU is unique per merchant, so there may be several)."""
    query = select(variants).where(or_(variants.c.sku == code, variants.c.barcode == code)).order_by(variants.c.id)
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def get_variant_by_sku(conn: AsyncConnection, merchant_id: int, sku: str) -> dict[str, Any] | None:
    query = select(variants).where(variants.c.merchant_id == merchant_id, variants.c.sku == sku)
    row = (await conn.execute(query)).mappings().first()
    return dict(row) if row else None


async def insert_variant(conn: AsyncConnection, values: dict[str, Any]) -> int:
    return (await conn.execute(variants.insert().values(**values).returning(variants.c.id))).scalar_one()


async def update_variant(conn: AsyncConnection, variant_id: int, values: dict[str, Any]) -> None:
    await conn.execute(variants.update().where(variants.c.id == variant_id).values(**values))


# --- prices ------------------------------------------------------------------------------------------------------


async def prices_of(conn: AsyncConnection, variant_ids: list[int]) -> list[dict[str, Any]]:
    if not variant_ids:
        return []
    query = select(prices).where(prices.c.variant_id.in_(variant_ids)).order_by(prices.c.id)
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def upsert_price(conn: AsyncConnection, values: dict[str, Any]) -> None:
    """Insert or replace the price of a variant for one channel and currency."""
    existing = (
        await conn.execute(
            select(prices.c.id).where(
                prices.c.variant_id == values["variant_id"],
                prices.c.channel == values["channel"],
                prices.c.currency == values["currency"],
            )
        )
    ).scalar_one_or_none()
    if existing is None:
        await conn.execute(prices.insert().values(**values))
    else:
        await conn.execute(prices.update().where(prices.c.id == existing).values(**values))


async def delete_price(conn: AsyncConnection, variant_id: int, channel: str, currency: str) -> int:
    result = await conn.execute(
        prices.delete().where(
            prices.c.variant_id == variant_id, prices.c.channel == channel, prices.c.currency == currency
        )
    )
    return result.rowcount


async def set_fulfilment_strategy(conn: AsyncConnection, merchant_id: int, strategy: str) -> None:
    await conn.execute(merchants.update().where(merchants.c.id == merchant_id).values(fulfilment_strategy=strategy))


# --- import jobs -------------------------------------------------------------------------------------------------


async def insert_import_job(conn: AsyncConnection, values: dict[str, Any]) -> int:
    return (await conn.execute(import_jobs.insert().values(**values).returning(import_jobs.c.id))).scalar_one()


def _issue_count(conn: AsyncConnection) -> Any:
    length = func.jsonb_array_length if conn.dialect.name == "postgresql" else func.json_array_length
    return length(import_jobs.c.issues).label("issue_count")


def _summary_columns(conn: AsyncConnection) -> list[Any]:
    return [*(c for c in import_jobs.c if c.name != "issues"), _issue_count(conn)]


async def get_import_job(conn: AsyncConnection, job_id: int, *, with_issues: bool) -> dict[str, Any] | None:
    """The job's row with its issue count; its report (`issues`) only when asked, as it can be long."""
    columns = [*_summary_columns(conn), *([import_jobs.c.issues] if with_issues else [])]
    row = (await conn.execute(select(*columns).where(import_jobs.c.id == job_id))).mappings().first()
    return dict(row) if row else None


async def list_import_jobs(conn: AsyncConnection, *, merchant_id: int | None, limit: int) -> list[dict[str, Any]]:
    """The newest jobs first (of one merchant, or of all), without their reports."""
    query = select(*_summary_columns(conn)).order_by(import_jobs.c.id.desc()).limit(limit)
    if merchant_id is not None:
        query = query.where(import_jobs.c.merchant_id == merchant_id)
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def add_import_progress(conn: AsyncConnection, job_id: int, counts: dict[str, int], now: datetime) -> bool:
    """Adds `counts` (products_done, products_created, ...) to a running job's, in one atomic UPDATE; False when
    the job is not running."""
    statement = (
        import_jobs.update()
        .where(import_jobs.c.id == job_id, import_jobs.c.status == "running")
        .values(updated_at=now, **{name: import_jobs.c[name] + amount for name, amount in counts.items()})
    )
    return (await conn.execute(statement)).rowcount == 1


async def get_import_issues(conn: AsyncConnection, job_id: int) -> list[dict[str, Any]]:
    return (await conn.execute(select(import_jobs.c.issues).where(import_jobs.c.id == job_id))).scalar_one()


async def set_import_issues(conn: AsyncConnection, job_id: int, issues: list[dict[str, Any]]) -> None:
    await conn.execute(import_jobs.update().where(import_jobs.c.id == job_id).values(issues=issues))


async def finish_import_job(conn: AsyncConnection, job_id: int, status: str, now: datetime) -> bool:
    """Ends a running job with `status`; False when it was not running."""
    statement = (
        import_jobs.update()
        .where(import_jobs.c.id == job_id, import_jobs.c.status == "running")
        .values(status=status, updated_at=now, finished_at=now)
    )
    return (await conn.execute(statement)).rowcount == 1
