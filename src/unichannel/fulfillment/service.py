"""Fulfilment use cases: the delivery options of a member's cart, and the plan of the one chosen at checkout.

(Shipments, receipt and returns arrive with the rest of issue 5.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from unichannel.catalog import repository as catalog_repository
from unichannel.catalog.model import Channel
from unichannel.checkout import service as cart_service
from unichannel.errors import CannotFulfil, EmptyCart, SoldOut
from unichannel.fulfillment import repository
from unichannel.fulfillment.model import Line, Promise, Source, Stock, Strategy, select_sources
from unichannel.fulfillment.promises import Option, OpeningHours, Station, Terms, delivery_options, location_terms
from unichannel.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class MerchantOptions:
    merchant_id: int
    subtotal_minor: int
    currency: str
    options: list[Option]


def terms_for(uow: UnitOfWork, currency: str) -> Terms:
    s = uow.settings
    return Terms(currency=currency, timezone=s.local_timezone, home_fee_minor=s.home_delivery_fee_minor,
                 home_free_over_minor=s.home_delivery_free_over_minor, express_fee_minor=s.express_delivery_fee_minor,
                 station_fee_minor=s.station_delivery_fee_minor,
                 station_free_over_minor=s.station_delivery_free_over_minor)


async def sources_for(uow: UnitOfWork, variant_ids: list[int]) -> tuple[list[Source], dict[int, OpeningHours]]:
    """Every active warehouse and store holding these variants, as source selection sees it now."""
    now = uow.now()
    hour_start = now.replace(minute=0, second=0, microsecond=0)
    taken = await repository.express_orders_since(uow.conn, hour_start)
    by_location: dict[int, dict[str, Any]] = {}
    for row in await repository.stock_at_locations(uow.conn, variant_ids):
        entry = by_location.setdefault(row["id"], {"row": row, "stock": {}})
        entry["stock"][row["variant_id"]] = Stock(row["on_hand"], row["reserved"], row["safety_stock"])
    sources, hours = [], {}
    for location_id, entry in by_location.items():
        row = entry["row"]
        terms = location_terms(row["kind"], row["details"] or {})
        if terms.hours is not None:
            hours[location_id] = terms.hours
        sources.append(Source(
            location_id, row["kind"], row["latitude"], row["longitude"], entry["stock"], priority=terms.priority,
            shelf_minimum=terms.shelf_minimum, delivery_radius_km=terms.delivery_radius_km,
            courier_capacity_left=max(0, terms.express_orders_per_hour - taken.get(location_id, 0)),
        ))
    return sources, hours


async def stations(uow: UnitOfWork) -> list[Station]:
    found = []
    for row in await repository.active_locations(uow.conn, ["village_station"]):
        terms = location_terms(row["kind"], row["details"] or {})
        found.append(Station(row["id"], row["latitude"], row["longitude"], terms.service_radius_km,
                             terms.run_weekdays, terms.run_time))
    return found


async def options_for_cart(
    uow: UnitOfWork, customer_id: int, address: tuple[float, float] | None, *, till_store_id: int | None = None
) -> list[MerchantOptions]:
    """The delivery options of each merchant's part of the cart (each part becomes one order and ships on its own).
    Only options that stock and distance can keep are offered; an empty list means none can."""
    channel = Channel.STORE if till_store_id is not None else Channel.ONLINE
    priced = (await cart_service.view(uow, customer_id, channel)).priced
    if not priced.items:
        raise EmptyCart("the cart is empty", field="cart")
    priced.require_purchasable()
    sources, hours = await sources_for(uow, [p.item.variant_id for p in priced.items])
    all_stations = await stations(uow)
    terms = terms_for(uow, priced.currency)
    result = []
    for merchant_id, items in priced.by_merchant().items():
        lines = [Line(p.item.line_id, p.item.variant_id, p.item.quantity) for p in items]
        subtotal = sum(p.total_minor or 0 for p in items)
        options = delivery_options(lines, subtotal, sources, hours, all_stations, now=uow.now(), terms=terms,
                                   strategy=await strategy_of(uow, merchant_id), address=address,
                                   till_store_id=till_store_id)
        result.append(MerchantOptions(merchant_id, subtotal, priced.currency, options))
    return result


async def strategy_of(uow: UnitOfWork, merchant_id: int) -> Strategy:
    merchant = await catalog_repository.get_merchant(uow.conn, merchant_id)
    return Strategy(merchant["fulfilment_strategy"]) if merchant else Strategy.KEEP_SHELVES_STOCKED


async def plan_for_order(
    uow: UnitOfWork, merchant_id: int, lines: list[Line], subtotal_minor: int, currency: str, promise: Promise, *,
    address: tuple[float, float] | None, location_id: int | None, till_store_id: int | None,
) -> Option:
    """The option of this promise (at this pickup place) for the lines, with its plan and fee, decided at checkout
    from live stock; CannotFulfil if stock or distance cannot keep it (ask for the delivery options again)."""
    sources, hours = await sources_for(uow, [line.variant_id for line in lines])
    all_stations = await stations(uow) if promise is Promise.STATION_PICKUP else []
    options = delivery_options(lines, subtotal_minor, sources, hours, all_stations, now=uow.now(),
                               terms=terms_for(uow, currency), strategy=await strategy_of(uow, merchant_id),
                               address=address, till_store_id=till_store_id,
                               delivers_home=promise is Promise.HOME_DELIVERY)
    at = till_store_id if till_store_id is not None else (
        location_id if promise in (Promise.STORE_PICKUP, Promise.STATION_PICKUP) else None)
    for option in options:
        if option.promise is promise and (at is None or option.location_id == at):
            return option
    if not _stock_anywhere(lines, sources):
        raise SoldOut("sold out: not enough units left anywhere for this cart", field="cart")
    raise CannotFulfil(f"{promise.value.replace('_', ' ')} is not possible for this cart now (stock, distance or "
                       "opening hours); ask for the delivery options again", field="delivery")


def _stock_anywhere(lines: list[Line], sources: list[Source]) -> bool:
    try:
        select_sources(lines, sources, promise=Promise.HOME_DELIVERY, strategy=Strategy.NEAREST_FIRST,
                       destination=None)
    except CannotFulfil:
        return False
    return True


async def is_sold_out(uow: UnitOfWork, lines: list[Line]) -> bool:
    """Whether no location at all has the units of these lines any more (read now, in this transaction)."""
    sources, _ = await sources_for(uow, [line.variant_id for line in lines])
    return not _stock_anywhere(lines, sources)
