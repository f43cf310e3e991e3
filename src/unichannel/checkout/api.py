"""Cart HTTP routes under /api/v1: the shopper's own cart, or a member's cart at the till."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from unichannel.access.model import Principal, Role
from unichannel.api_types import MAX_ID, IdPath
from unichannel.catalog.model import Channel
from unichannel.checkout import service
from unichannel.checkout.schemas import AddLineIn, CartLineOut, CartOut, SetCurrencyIn, SetQuantityIn
from unichannel.errors import InvalidInput
from unichannel.money import Money
from unichannel.web import Caller, new_uow

router = APIRouter(tags=["cart"])
CustomerParam = Annotated[int | None, Query(ge=1, le=MAX_ID, description="the member's id, when a clerk works their cart")]


def cart_owner(caller: Principal, customer_id: int | None) -> tuple[int, Channel]:
    """Whose cart and which channel: a shopper's own (online); a member's identified at the till (store); a
    villager's at a village station, whose operator orders for them at the online prices (an assisted order)."""
    if caller.role is Role.SHOPPER:
        if customer_id not in (None, caller.customer_id):
            raise InvalidInput("a shopper works only their own cart", field="customer_id")
        assert caller.customer_id is not None
        return caller.customer_id, Channel.ONLINE
    caller.require(Role.CLERK, Role.OPERATOR)
    if customer_id is None:
        raise InvalidInput("identify the member first (customer_id)", field="customer_id")
    at_till = caller.role is Role.CLERK and not caller.is_station_operator
    return customer_id, Channel.STORE if at_till else Channel.ONLINE


def cart_out(view: service.CartView) -> CartOut:
    priced = view.priced
    return CartOut(
        id=view.cart["id"],
        customer_id=view.cart["customer_id"],
        currency=priced.currency,
        channel=priced.channel.value,
        lines=[
            CartLineOut(
                id=p.item.line_id, variant_id=p.item.variant_id, merchant_id=p.item.merchant_id, sku=p.item.sku,
                name=p.item.name, quantity=p.item.quantity, unit_price_minor=p.unit_price_minor,
                total_minor=p.total_minor, is_purchasable=p.unit_price_minor is not None and p.item.is_active,
            )
            for p in priced.items
        ],
        subtotal_minor=priced.subtotal_minor,
        subtotal_display=Money(priced.subtotal_minor, priced.currency).display(),
        is_purchasable=priced.is_purchasable,
    )


@router.get("/cart", response_model=CartOut)
async def get_cart(request: Request, caller: Caller, customer_id: CustomerParam = None) -> CartOut:
    owner, channel = cart_owner(caller, customer_id)
    async with new_uow(request) as uow:
        return cart_out(await service.view(uow, owner, channel))


@router.post("/cart/lines", response_model=CartOut, status_code=201)
async def add_line(request: Request, caller: Caller, body: AddLineIn, customer_id: CustomerParam = None) -> CartOut:
    """Adds by SKU, or by the payload of a scanned QR code or barcode; the server prices it."""
    owner, channel = cart_owner(caller, customer_id)
    location_id = caller.location_id if channel is Channel.STORE else body.location_id
    async with new_uow(request) as uow:
        variant = await service.resolve_variant(uow, sku=body.sku, merchant_slug=body.merchant, code=body.code)
        via = Channel.STORE if (channel is Channel.STORE or location_id is not None) else Channel.ONLINE
        view = await service.add_item(
            uow, owner, variant, body.quantity, added_via=via, channel=channel, location_id=location_id
        )
        return cart_out(view)


@router.patch("/cart/lines/{line_id}", response_model=CartOut)
async def set_quantity(
    request: Request, caller: Caller, line_id: IdPath, body: SetQuantityIn, customer_id: CustomerParam = None
) -> CartOut:
    owner, channel = cart_owner(caller, customer_id)
    async with new_uow(request) as uow:
        return cart_out(await service.set_quantity(uow, owner, line_id, body.quantity, channel))


@router.delete("/cart/lines/{line_id}", response_model=CartOut)
async def remove_line(request: Request, caller: Caller, line_id: IdPath, customer_id: CustomerParam = None) -> CartOut:
    owner, channel = cart_owner(caller, customer_id)
    async with new_uow(request) as uow:
        return cart_out(await service.set_quantity(uow, owner, line_id, 0, channel))


@router.put("/cart/currency", response_model=CartOut)
async def set_currency(
    request: Request, caller: Caller, body: SetCurrencyIn, customer_id: CustomerParam = None
) -> CartOut:
    owner, channel = cart_owner(caller, customer_id)
    async with new_uow(request) as uow:
        return cart_out(await service.set_currency(uow, owner, body.currency, channel))
