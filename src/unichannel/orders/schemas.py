"""Order request and response models."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator
from pydantic_core import PydanticCustomError

from unichannel.api_types import MAX_ID, StrictModel
from unichannel.fulfillment.schemas import ShipmentOut
from unichannel.orders.model import DeliveryMode, OrderStatus


class AddressIn(StrictModel):
    name: str = Field(min_length=1, max_length=120)
    phone: str = Field(min_length=5, max_length=32)
    line1: str = Field(min_length=1, max_length=300)
    city: str = Field(min_length=1, max_length=100)
    region: str = Field(default="", max_length=100)
    postal_code: str = Field(default="", max_length=20)
    country: str = Field(default="CN", pattern=r"^[A-Z]{2}$")
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)

    @model_validator(mode="after")
    def _both_coordinates_or_neither(self) -> AddressIn:
        if (self.latitude is None) != (self.longitude is None):
            raise PydanticCustomError("coordinates", "give both latitude and longitude, or neither")
        return self


class DeliveryIn(StrictModel):
    mode: DeliveryMode
    location_id: int | None = Field(default=None, ge=1, le=MAX_ID, strict=True, description="pickup store or station; the till's store")
    address: AddressIn | None = None


class PlaceOrderIn(StrictModel):
    delivery: DeliveryIn


class PayIn(StrictModel):
    method: str = Field(default="card", pattern=r"^(card|cash|wallet|instalments)$")
    token: str | None = Field(default=None, max_length=200, description="card token from the gateway's client side")
    months: Literal[3, 6, 12] | None = Field(default=None, description="with method=instalments: the plan's length")


class TransitionIn(StrictModel):
    to: OrderStatus
    note: str = Field(default="", max_length=200)


class CancelIn(StrictModel):
    reason: str = Field(default="", max_length=200)


class OrderLineOut(BaseModel):
    id: int
    variant_id: int
    sku: str
    name: str
    quantity: int
    unit_price_minor: int
    total_minor: int
    location_id: int


class HistoryOut(BaseModel):
    from_status: str | None
    to_status: str
    actor: str
    note: str
    at: datetime


class ReturnLineIn(StrictModel):
    line_id: int = Field(ge=1, le=MAX_ID, strict=True, description="the order line")
    quantity: int = Field(ge=1, le=100_000, strict=True)


class ReturnIn(StrictModel):
    lines: list[ReturnLineIn] = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=200)


class ReceivedLineIn(StrictModel):
    line_id: int = Field(ge=1, le=MAX_ID, strict=True, description="the order line")
    sellable: int = Field(ge=0, le=100_000, strict=True, description="units fit to sell again")


class ReceiveReturnIn(StrictModel):
    lines: list[ReceivedLineIn] = Field(default_factory=list, max_length=200,
                                        description="lines not named are all sellable")


class ReturnLineOut(BaseModel):
    order_line_id: int
    sku: str
    quantity: int
    sellable: int | None


class ReturnOut(BaseModel):
    id: int
    order_id: int
    status: str  # open (on its way back), received (restocked and refunded)
    reason: str
    refund_minor: int
    refund_id: int | None
    lines: list[ReturnLineOut]
    shipment_ids: list[int]
    created_at: datetime
    updated_at: datetime


class OrderOut(BaseModel):
    id: int
    checkout_id: int | None
    customer_id: int
    merchant_id: int
    flash_sale_id: int | None = None
    channel: str
    status: OrderStatus
    currency: str
    subtotal_minor: int
    delivery_minor: int
    total_minor: int
    total_display: str
    delivery_mode: DeliveryMode
    location_id: int | None
    address: dict[str, Any] | None
    payment_reference: str | None
    cancel_reason: str | None
    placed_at: datetime
    updated_at: datetime
    assisted_by_location_id: int | None = None  # the village station that placed it for the villager
    lines: list[OrderLineOut]
    history: list[HistoryOut] | None = None
    shipments: list[ShipmentOut] | None = None
    returns: list[ReturnOut] | None = None


class CheckoutOut(BaseModel):
    checkout_id: int
    currency: str
    total_minor: int
    total_display: str
    orders: list[OrderOut]
