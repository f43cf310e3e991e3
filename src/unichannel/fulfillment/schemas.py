"""Delivery option response models."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

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
