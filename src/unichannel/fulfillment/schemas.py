"""Delivery option response models."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from unichannel.api_types import StrictModel
from unichannel.fulfillment.tracking import ShipmentStatus
from unichannel.payments.schemas import AmountOut


class PickOut(BaseModel):
    location_id: int
    line_id: int
    quantity: int


class OptionOut(BaseModel):
    promise: str  # home_delivery, express_30_min, store_pickup, station_pickup
    location_id: int | None  # the pickup store or station; the store of a 30-minute or till-to-home delivery
    fee: AmountOut
    earliest: datetime
    latest: datetime
    shipments: int  # how many parcels: locations that ship
    picks: list[PickOut]  # which location ships which units of each cart line


class MerchantOptionsOut(BaseModel):
    merchant_id: int
    subtotal: AmountOut
    options: list[OptionOut]


class ShipmentLineOut(BaseModel):
    order_line_id: int
    sku: str
    name: str
    quantity: int
    lots: list[list[int | None]] | None  # once packed: [lot id (None: units in no lot), units]


class ShipmentEventOut(BaseModel):
    from_status: str | None
    to_status: str
    actor: str
    note: str
    at: datetime


class ShipmentOut(BaseModel):
    id: int
    order_id: int
    merchant_id: int
    direction: str  # outbound, or return
    route: str  # door, collect_here, collect_elsewhere, station, return
    location_id: int  # where it leaves from (a return: where it goes back to)
    pickup_location_id: int | None
    status: str
    tracking_code: str
    pickup_code: str | None = Field(default=None, description="shown to the shopper only, to give at the counter")
    return_id: int | None
    next: list[str]  # the moves it may make now
    lines: list[ShipmentLineOut]
    timeline: list[ShipmentEventOut]
    created_at: datetime
    updated_at: datetime


class ShipmentMoveIn(StrictModel):
    to: ShipmentStatus
    note: str = Field(default="", max_length=200)


class CollectIn(StrictModel):
    pickup_code: str = Field(pattern=r"^[0-9]{6}$", description="the six digits the shopper shows")


class StationOut(BaseModel):
    id: int
    code: str
    name: str
    address: str
    city: str
    latitude: float
    longitude: float
    service_radius_km: float
    runs: list[str]
    run_time: str  # local time the run arrives
    next_run: datetime  # UTC: the run an order placed now makes
    operator_name: str | None


class ParcelOut(BaseModel):
    shipment_id: int
    order_id: int
    customer_id: int
    recipient: str | None
    phone_last_digits: str | None
    status: str
    tracking_code: str
    updated_at: datetime
