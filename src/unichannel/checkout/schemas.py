"""Cart request and response models."""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator

from unichannel.api_types import MAX_ID, StrictModel


class AddLineIn(StrictModel):
    sku: str | None = Field(default=None, min_length=1, max_length=64)
    merchant: str | None = Field(default=None, max_length=80, description="merchant slug, when several use the SKU")
    code: str | None = Field(default=None, min_length=1, max_length=512, description="a scanned QR payload or barcode")
    quantity: int = Field(default=1, ge=1, le=10**6, strict=True)
    location_id: int | None = Field(default=None, ge=1, le=MAX_ID, strict=True, description="the store where the code was scanned")

    @model_validator(mode="after")
    def _one_way(self) -> AddLineIn:
        if (self.sku is None) == (self.code is None):
            raise ValueError("give either sku or code")
        return self


class SetQuantityIn(StrictModel):
    quantity: int = Field(ge=0, le=10**6, strict=True, description="0 removes the line")


class SetCurrencyIn(StrictModel):
    currency: str = Field(pattern=r"^[A-Za-z]{3}$")


class CartLineOut(BaseModel):
    id: int
    variant_id: int
    merchant_id: int
    sku: str
    name: str
    quantity: int
    unit_price_minor: int | None
    total_minor: int | None
    is_purchasable: bool


class CartOut(BaseModel):
    id: int
    customer_id: int
    currency: str
    channel: str
    lines: list[CartLineOut]
    subtotal_minor: int
    subtotal_display: str
    is_purchasable: bool
