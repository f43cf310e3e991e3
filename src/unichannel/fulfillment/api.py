"""Fulfilment HTTP routes under /api/v1."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from unichannel.access.model import Role
from unichannel.checkout.api import CustomerParam, cart_owner
from unichannel.errors import InvalidInput
from unichannel.fulfillment import service
from unichannel.fulfillment.schemas import MerchantOptionsOut, OptionOut, PickOut
from unichannel.money import check_locale
from unichannel.payments.schemas import AmountOut
from unichannel.web import Caller, new_uow

router = APIRouter(tags=["fulfilment"])


@router.get("/cart/delivery-options", response_model=list[MerchantOptionsOut])
async def delivery_options(
    request: Request, caller: Caller,
    latitude: Annotated[float | None, Query(ge=-90, le=90, description="the delivery address")] = None,
    longitude: Annotated[float | None, Query(ge=-180, le=180)] = None,
    customer_id: CustomerParam = None,
    locale: Annotated[str, Query(max_length=20)] = "zh_CN",
) -> list[MerchantOptionsOut]:
    """The delivery options of the cart, per merchant (each merchant's goods are one order): home delivery,
    30-minute delivery from a nearby store, pickup in a store, pickup at a village station; for a clerk's till,
    delivery home from the store. Each with its fee and promised window, and only if stock and distance can keep it.
    Give the address's coordinates for home, 30-minute and village station delivery."""
    if (latitude is None) != (longitude is None):
        raise InvalidInput("give both latitude and longitude, or neither", field="latitude")
    locale = check_locale(locale)
    owner, _ = cart_owner(caller, customer_id)
    till = caller.location_id if caller.role is Role.CLERK else None
    address = (latitude, longitude) if latitude is not None and longitude is not None else None
    async with new_uow(request, read_only=True) as uow:
        parts = await service.options_for_cart(uow, owner, address, till_store_id=till)
    return [
        MerchantOptionsOut(
            merchant_id=part.merchant_id, subtotal=AmountOut.of(part.subtotal_minor, part.currency, locale),
            options=[OptionOut(
                promise=o.promise.value, location_id=o.location_id, fee=AmountOut.of(o.fee_minor, o.currency, locale),
                earliest=o.earliest, latest=o.latest, shipments=len(o.plan.shipments),
                picks=[PickOut(location_id=p.location_id, line_id=p.line_id, quantity=p.quantity)
                       for p in o.plan.picks]) for o in part.options],
        )
        for part in parts
    ]
