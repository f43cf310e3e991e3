"""API tokens: only an argon2 hash of each secret is stored."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CheckConstraint, Column, ForeignKey, String, Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from unichannel.db import Id, UTCDateTime, metadata
from unichannel.inventory.repository import locations

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("public_id", String(32), nullable=False, unique=True),
    Column("secret_hash", String(255), nullable=False),
    Column("role", String(16), nullable=False),
    Column("name", String(120), nullable=False),
    Column("customer_id", Id, ForeignKey("customers.id"), nullable=True),
    Column("merchant_id", Id, ForeignKey("merchants.id"), nullable=True),
    Column("location_id", Id, ForeignKey("locations.id"), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
    CheckConstraint("role IN ('shopper', 'clerk', 'merchant', 'operator')", name="role_known"),
)


async def insert_token(conn: AsyncConnection, values: dict[str, Any]) -> int:
    return (await conn.execute(api_tokens.insert().values(**values).returning(api_tokens.c.id))).scalar_one()


async def get_token_by_public_id(conn: AsyncConnection, public_id: str) -> dict[str, Any] | None:
    """The token with the kind of the location it is bound to (a clerk's store or village station)."""
    query = (
        select(api_tokens, locations.c.kind.label("location_kind"))
        .outerjoin(locations, locations.c.id == api_tokens.c.location_id)
        .where(api_tokens.c.public_id == public_id)
    )
    row = (await conn.execute(query)).mappings().first()
    return dict(row) if row else None


async def revoke_token(conn: AsyncConnection, token_id: int, at: Any) -> int:
    result = await conn.execute(
        api_tokens.update().where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None)).values(revoked_at=at)
    )
    return result.rowcount
