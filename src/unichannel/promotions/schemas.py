"""Flash-sale request and response models."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, Field

from unichannel.api_types import MAX_ID, StrictModel


class FlashSaleIn(StrictModel):
    merchant: str | None = Field(default=None, max_length=80, description="merchant slug (operators name one)")
    variant_id: int = Field(ge=1, le=MAX_ID, strict=True)
    locations: list[str] = Field(min_length=1, max_length=50, description="codes of the pool's locations, preferred first")
    name: str = Field(min_length=1, max_length=200)
    currency: str = Field(pattern=r"^[A-Za-z]{3}$")
    price_minor: int = Field(ge=0, le=10**12, strict=True)
    quantity: int = Field(ge=1, le=10_000_000, strict=True)
    per_customer_limit: int = Field(ge=1, le=10_000_000, strict=True)
    starts_at: AwareDatetime
    ends_at: AwareDatetime


class FlashSaleOut(BaseModel):
    id: int
    merchant_id: int
    variant_id: int
    name: str
    currency: str
    price_minor: int
    quantity: int
    sold: int
    left: int
    per_customer_limit: int
    starts_at: datetime
    ends_at: datetime
    state: str  # upcoming | open | sold_out | ended
    location_ids: list[int]


class FlashOrderIn(StrictModel):
    quantity: int = Field(default=1, ge=1, le=10_000, strict=True)


class FlashOrderOut(BaseModel):
    order_id: int
    flash_sale_id: int
    status: str
    customer_id: int
    sku: str
    quantity: int
    unit_price_minor: int
    total_minor: int
    currency: str
    location_id: int
    channel: str
    pay_before: datetime
