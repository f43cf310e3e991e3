"""Delivery options on the demo's named places: what `unichannel demo` shows a newcomer after seeding.

The options come from the use case behind `GET /api/v1/cart/delivery-options` (`fulfillment.service.options_for_cart`),
for a one-item cart of a stand-in member, in a transaction that is always rolled back: no member, cart or cart line
is left behind, and no real member's cart is touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from unichannel.catalog.model import Channel
from unichannel.checkout import service as cart_service
from unichannel.customers import service as customers
from unichannel.demo import places, world
from unichannel.fulfillment.service import MerchantOptions, options_for_cart
from unichannel.inventory import repository as inventory_repository
from unichannel.uow import UnitOfWork, UnitOfWorkFactory

# Sandu mandarins: on the shelf of both Hangzhou stores and in the cooperative's cold store near the stations. At
# ¥49.80 the cart pays every fee (home delivery is free from ¥99.00, station pickup from ¥50.00), so all show.
DEMO_CART_MERCHANT = places.COOPERATIVE
DEMO_CART_SKU = "XAJ-MANDARIN-2500"
STAND_IN_EMAIL = "delivery-tour@example.com"  # the stand-in member exists only inside the rolled-back transaction


@dataclass(frozen=True, slots=True)
class PlaceOptions:
    place: world.NamedPlaceSeed
    parts: list[MerchantOptions]  # one per merchant in the cart; the demo cart has one


@dataclass(frozen=True, slots=True)
class DeliveryTour:
    cart: str  # what the cart holds, e.g. "1 × 三都蜜橘 2.5 kg box (XAJ-MANDARIN-2500)"
    asked_at: datetime  # UTC
    places: list[PlaceOptions]
    locations: dict[int, dict[str, Any]]  # every location by id, to name the options' stores and stations


class _Discard(Exception):
    """Leaves the tour's unit of work by its rollback path, carrying what it found."""

    def __init__(self, tour: DeliveryTour) -> None:
        super().__init__("delivery tour done; rolling back")
        self.tour = tour


async def locations_by_id(uow: UnitOfWork) -> dict[int, dict[str, Any]]:
    """Every location (active or not) by id, to name the stores and stations of options."""
    return {row["id"]: row for row in await inventory_repository.list_locations(uow.conn)}


async def delivery_tour(uow_factory: UnitOfWorkFactory) -> DeliveryTour:
    """The delivery options of a one-item demo cart at each named place, now; nothing it writes is kept (the stand-in
    member and its cart are rolled back)."""
    try:
        async with uow_factory() as uow:
            member = await customers.register(uow, phone=None, email=STAND_IN_EMAIL, name="Demo", password=None)
            variant = await cart_service.resolve_variant(
                uow, sku=DEMO_CART_SKU, merchant_slug=DEMO_CART_MERCHANT, code=None
            )
            view = await cart_service.add_item(
                uow, member["id"], variant, 1, added_via=Channel.ONLINE, channel=Channel.ONLINE
            )
            found = [
                PlaceOptions(place, await options_for_cart(uow, member["id"], (place.latitude, place.longitude)))
                for place in world.named_places()
            ]
            raise _Discard(DeliveryTour(cart_summary(view), uow.now(), found, await locations_by_id(uow)))
    except _Discard as discarded:
        return discarded.tour


def cart_summary(view: cart_service.CartView) -> str:
    """The cart's lines in one line of text: "1 × name (SKU), 2 × ..."."""
    return ", ".join(f"{p.item.quantity} × {p.item.name} ({p.item.sku})" for p in view.priced.items)
