"""Catalog request and response models."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from unichannel.api_types import StrictModel
from unichannel.catalog.model import Channel, MerchantKind

Slug = Field(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", min_length=1, max_length=80)
Currency = Field(pattern=r"^[A-Za-z]{3}$")
MAX_MINOR = 10**12  # a price above ten billion in major units is a typo, not a product


class MerchantIn(StrictModel):
    slug: str = Slug
    name: str = Field(min_length=1, max_length=200)
    kind: MerchantKind
    country: str = Field(pattern=r"^[A-Za-z]{2}$")
    currency: str = Currency


class MerchantOut(BaseModel):
    id: int
    slug: str
    name: str
    kind: MerchantKind
    country: str
    currency: str
    fulfilment_strategy: str = "keep_shelves_stocked"


class FulfilmentStrategyIn(StrictModel):
    strategy: Literal["nearest_first", "priority_order", "keep_shelves_stocked"] = Field(
        description="nearest_first: the closest location that can serve; priority_order: the merchant's ranking of "
        "its locations (details.priority), then distance; keep_shelves_stocked: warehouses before stores, and a "
        "store keeps its shelf minimum")


class CategoryOut(BaseModel):
    id: int
    slug: str
    name: str
    parent_id: int | None


class PriceIn(StrictModel):
    channel: Channel = Channel.ONLINE
    currency: str = Currency
    amount_minor: int = Field(ge=0, le=MAX_MINOR, strict=True)
    compare_at_minor: int | None = Field(default=None, ge=0, le=MAX_MINOR)


class PriceOut(BaseModel):
    channel: Channel
    currency: str
    amount_minor: int
    compare_at_minor: int | None = None
    display: str


class VariantIn(StrictModel):
    sku: str = Field(min_length=1, max_length=64)
    name: str = Field(default="", max_length=200)
    options: dict[str, str] = Field(default_factory=dict, max_length=10)
    barcode: str | None = Field(default=None, max_length=32)
    grams: int | None = Field(default=None, ge=0, le=10_000_000)
    prices: list[PriceIn] = Field(default_factory=list, max_length=20)


class ProductIn(StrictModel):
    merchant: str | None = Field(default=None, description="merchant slug; staff tokens default to their merchant")
    handle: str | None = Field(default=None, max_length=200, description="the product's key; defaults to a slug")
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=20_000)
    category_path: list[str] = Field(default_factory=list, max_length=6)
    tags: list[str] = Field(default_factory=list, max_length=50)
    is_active: bool = True
    variants: list[VariantIn] = Field(min_length=1, max_length=200)


class LocationStock(BaseModel):
    location_id: int
    location_code: str
    location_name: str
    location_kind: str
    city: str
    available: int


class VariantOut(BaseModel):
    id: int
    sku: str
    name: str
    options: dict[str, str]
    barcode: str | None
    grams: int | None
    is_active: bool
    prices: list[PriceOut]
    available: int | None = None
    availability: list[LocationStock] | None = None
    scan_url: str
    qr_svg_url: str


class ProductOut(BaseModel):
    id: int
    merchant_id: int
    handle: str
    name: str
    description: str
    category_id: int | None
    tags: list[str]
    image_urls: list[str]
    is_active: bool
    updated_at: datetime
    variants: list[VariantOut]


class ProductPage(BaseModel):
    items: list[ProductOut]
    limit: int
    offset: int


class PriceSet(StrictModel):
    channel: Channel = Channel.ONLINE
    currency: str = Currency
    amount_minor: int | None = Field(ge=0, le=MAX_MINOR, strict=True, description="null removes the price")


class ImportIssueOut(BaseModel):
    line: int
    reason: str
    handle: str | None


class ImportReportOut(BaseModel):
    rows_read: int
    products_created: int
    products_updated: int
    variants_created: int
    variants_updated: int
    issues: list[ImportIssueOut]
