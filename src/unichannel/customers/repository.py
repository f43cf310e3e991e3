"""Customer tables."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CheckConstraint, Column, String, Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from unichannel.db import Id, UTCDateTime, metadata

customers = Table(
    "customers",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("phone", String(16), nullable=True, unique=True),
    Column("email", String(254), nullable=True, unique=True),
    Column("name", String(120), nullable=False, default=""),
    Column("password_hash", String(255), nullable=True),
    Column("locale", String(10), nullable=False, default="zh_CN"),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("phone IS NOT NULL OR email IS NOT NULL", name="has_identity"),
)


async def insert_customer(conn: AsyncConnection, values: dict[str, Any]) -> int:
    return (await conn.execute(customers.insert().values(**values).returning(customers.c.id))).scalar_one()


async def get_customer(conn: AsyncConnection, customer_id: int) -> dict[str, Any] | None:
    row = (await conn.execute(select(customers).where(customers.c.id == customer_id))).mappings().first()
    return dict(row) if row else None


async def find_customer(conn: AsyncConnection, *, phone: str | None = None, email: str | None = None) -> dict | None:
    column, value = (customers.c.phone, phone) if phone else (customers.c.email, email)
    row = (await conn.execute(select(customers).where(column == value))).mappings().first()
    return dict(row) if row else None


async def update_customer(conn: AsyncConnection, customer_id: int, values: dict[str, Any]) -> None:
    await conn.execute(customers.update().where(customers.c.id == customer_id).values(**values))
