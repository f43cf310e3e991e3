"""Inventory request and response models."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from unichannel.api_types import MAX_ID, StrictModel
from unichannel.inventory.model import LocationKind

MAX_UNITS = 10_000_000


class LocationIn(StrictModel):
    code: str = Field(pattern=r"^[A-Z0-9][A-Z0-9\-]{1,39}$")
    name: str = Field(min_length=1, max_length=200)
    kind: LocationKind
    merchant: str | None = Field(default=None, max_length=80, description="slug of the merchant that runs it")
    address: str = Field(min_length=1, max_length=300)
    city: str = Field(min_length=1, max_length=100)
    region: str = Field(default="", max_length=100)
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    details: dict[str, Any] = Field(default_factory=dict)


class LocationOut(BaseModel):
    id: int
    code: str
    name: str
    kind: LocationKind
    merchant_id: int | None
    address: str
    city: str
    region: str
    latitude: float
    longitude: float
    is_active: bool


class StockLevelOut(BaseModel):
    variant_id: int
    location_id: int
    on_hand: int
    reserved: int
    safety_stock: int
    available: int


class LotIn(StrictModel):
    code: str = Field(min_length=1, max_length=40, description="the supplier's lot code")
    best_before: date


class ReceiveIn(StrictModel):
    variant_id: int = Field(ge=1, le=MAX_ID, strict=True)
    location_id: int = Field(ge=1, le=MAX_ID, strict=True)
    quantity: int = Field(ge=1, le=MAX_UNITS, strict=True)
    reference: str | None = Field(default=None, max_length=80)
    lot: LotIn | None = Field(default=None, description="fresh produce: the lot and its best-before date")


class LotOut(BaseModel):
    id: int
    variant_id: int
    location_id: int
    code: str
    best_before: date
    received: int
    remaining: int
    received_at: datetime


class AdjustIn(StrictModel):
    variant_id: int = Field(ge=1, le=MAX_ID, strict=True)
    location_id: int = Field(ge=1, le=MAX_ID, strict=True)
    delta: int = Field(ge=-MAX_UNITS, le=MAX_UNITS, strict=True)
    reason: str = Field(min_length=1, max_length=200)
    lot_code: str | None = Field(default=None, min_length=1, max_length=40, description="the lot counted or written off")


class TransferIn(StrictModel):
    variant_id: int = Field(ge=1, le=MAX_ID, strict=True)
    from_location_id: int = Field(ge=1, le=MAX_ID, strict=True)
    to_location_id: int = Field(ge=1, le=MAX_ID, strict=True)
    quantity: int = Field(ge=1, le=MAX_UNITS, strict=True)
    lot_code: str | None = Field(default=None, min_length=1, max_length=40, description="units of this lot")


class TransferOut(BaseModel):
    source: StockLevelOut
    destination: StockLevelOut


class SafetyStockIn(StrictModel):
    variant_id: int = Field(ge=1, le=MAX_ID, strict=True)
    location_id: int = Field(ge=1, le=MAX_ID, strict=True)
    safety_stock: int = Field(ge=0, le=MAX_UNITS, strict=True)


class MovementOut(BaseModel):
    id: int
    variant_id: int
    location_id: int
    kind: str
    quantity: int
    reason: str
    reference: str | None
    actor: str | None
    created_at: datetime
