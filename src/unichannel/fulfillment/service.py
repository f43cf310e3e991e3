"""Fulfilment use cases: the delivery options of a member's cart, the plan of the one chosen at checkout, and the
shipments that carry an allocated order (their stock effects and tracking timeline).

The order's own status follows its shipments in `orders.service`; this module never changes an order.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from unichannel.catalog import repository as catalog_repository
from unichannel.catalog.model import Channel
from unichannel.checkout import service as cart_service
from unichannel.access.model import Principal, Role
from unichannel.errors import CannotFulfil, Conflict, EmptyCart, Forbidden, NotFound, SoldOut
from unichannel.fulfillment import repository
from unichannel.fulfillment.tracking import (
    PICKUP_ROUTES,
    Route,
    ShipmentStatus,
    check_move,
    route_for,
)
from unichannel.inventory import repository as inventory_repository
from unichannel.inventory import service as inventory
from unichannel.inventory.model import LotPick
from unichannel.fulfillment.model import Line, Promise, Source, Stock, Strategy, select_sources
from unichannel.fulfillment.promises import (
    LocationTerms,
    OpeningHours,
    Option,
    Station,
    Terms,
    delivery_options,
    location_terms,
)
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


def station_of(row: dict[str, Any], terms: LocationTerms) -> Station:
    return Station(row["id"], row["latitude"], row["longitude"], terms.service_radius_km, terms.run_weekdays,
                   terms.run_time)


async def stations(uow: UnitOfWork) -> list[Station]:
    return [station_of(row, location_terms(row["kind"], row["details"] or {}))
            for row in await repository.active_locations(uow.conn, ["village_station"])]


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


# --- shipments ---------------------------------------------------------------------------------------------------

WRONG_CODES_BEFORE_NEW_CODE = 5


def _tracking_code() -> str:
    return "UC" + secrets.token_hex(6).upper()


def _pickup_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


async def _record(uow: UnitOfWork, shipment: dict[str, Any], before: ShipmentStatus | None, after: ShipmentStatus,
                  actor: str, note: str) -> None:
    await repository.insert_event(uow.conn, {
        "shipment_id": shipment["id"], "from_status": before.value if before else None, "to_status": after.value,
        "actor": actor, "note": note[:200], "at": uow.now(),
    })
    uow.emit(f"shipment.{after.value}", "shipment", shipment["id"], {
        "shipment_id": shipment["id"], "order_id": shipment["order_id"], "merchant_id": shipment["merchant_id"],
        "direction": shipment["direction"], "route": shipment["route"], "location_id": shipment["location_id"],
        "pickup_location_id": shipment["pickup_location_id"], "tracking_code": shipment["tracking_code"],
        "from": before.value if before else None, "to": after.value,
    })


async def _create(uow: UnitOfWork, values: dict[str, Any], lines: list[dict[str, Any]], actor: str, note: str
                  ) -> int:
    now = uow.now()
    values = values | {"tracking_code": _tracking_code(), "wrong_codes": 0, "created_at": now, "updated_at": now}
    shipment_id = await repository.insert_shipment(uow.conn, values, lines)
    await _record(uow, values | {"id": shipment_id}, None, ShipmentStatus(values["status"]), actor, note)
    return shipment_id


async def create_shipments(uow: UnitOfWork, order: dict[str, Any], lines: list[dict[str, Any]], actor: str
                           ) -> list[int]:
    """An allocated order gets one parcel per location its lines are held at (a line ships from exactly one), each
    on the route of the order's delivery; a parcel to be collected gets the pickup code the shopper will show."""
    pickup_kind = None
    pickup_id = order["location_id"] if order["delivery_mode"] == "pickup" else None
    if pickup_id is not None:
        pickup_kind = (await inventory_repository.get_location(uow.conn, pickup_id))["kind"]
    created = []
    for location_id in sorted({line["location_id"] for line in lines}):
        route = route_for(order["delivery_mode"], location_id, pickup_id, pickup_kind)
        created.append(await _create(uow, {
            "order_id": order["id"], "merchant_id": order["merchant_id"], "direction": "outbound",
            "route": route.value, "location_id": location_id, "pickup_location_id": pickup_id,
            "status": ShipmentStatus.PICKING.value,
            "pickup_code": _pickup_code() if route in PICKUP_ROUTES else None,
        }, [{"order_line_id": line["id"], "quantity": line["quantity"]}
            for line in lines if line["location_id"] == location_id], actor, "to be picked"))
    return created


async def create_return_shipments(uow: UnitOfWork, order: dict[str, Any], return_id: int,
                                  lines: list[dict[str, Any]], actor: str) -> list[int]:
    """A return travels back to each location its lines were shipped from: one return parcel per location, packed
    by the shopper and waiting to be handed to the courier or at a station."""
    created = []
    for location_id in sorted({line["location_id"] for line in lines}):
        created.append(await _create(uow, {
            "order_id": order["id"], "merchant_id": order["merchant_id"], "direction": "return",
            "route": Route.RETURN.value, "location_id": location_id, "pickup_location_id": None,
            "status": ShipmentStatus.PACKED.value, "pickup_code": None, "return_id": return_id,
        }, [{"order_line_id": line["order_line_id"], "quantity": line["quantity"]}
            for line in lines if line["location_id"] == location_id], actor, "return requested"))
    return created


def lot_picks(line: dict[str, Any]) -> list[LotPick]:
    return [LotPick(lot_id, quantity) for lot_id, quantity in (line["lots"] or [])]


async def advance(uow: UnitOfWork, shipment: dict[str, Any], target: ShipmentStatus, *, actor: str, note: str = ""
                  ) -> dict[str, Any]:
    """Moves a shipment one legal step with its stock effects: packing takes the units out of stock (lots first
    expiry first out); an outbound parcel cancelled once packed, or back undelivered, puts them back."""
    route, status = Route(shipment["route"]), ShipmentStatus(shipment["status"])
    check_move(route, status, target)
    outbound = shipment["direction"] == "outbound"
    lines = await repository.lines_of(uow.conn, [shipment["id"]])
    reference = f"order:{shipment['order_id']}"
    if outbound and target is ShipmentStatus.PACKED:
        for line in lines:
            picks = await inventory.pack(uow, line["reservation_id"], reference, sku=line["sku"])
            await repository.set_lots(uow.conn, line["id"], [[p.lot_id, p.quantity] for p in picks])
    elif outbound and (target is ShipmentStatus.RETURNED or (target is ShipmentStatus.CANCELLED
                                                             and status is ShipmentStatus.PACKED)):
        reason = "parcel came back undelivered" if target is ShipmentStatus.RETURNED else "parcel unpacked"
        for line in lines:
            await inventory.restock(uow, line, line["quantity"], lot_picks(line), reference=reference, reason=reason)
    values = {"status": target.value, "updated_at": uow.now()}
    if not await repository.update_shipment(uow.conn, shipment["id"], status.value, values):
        raise Conflict("the shipment changed meanwhile; reload it", field="shipment_id")
    await _record(uow, shipment, status, target, actor, note)
    return shipment | values


async def visible_shipment(uow: UnitOfWork, principal: Principal, shipment_id: int) -> dict[str, Any]:
    """The shipment if this caller may see it: its merchant, the clerks of the location it leaves from or is
    collected at, an operator, and the shopper whose order it carries (read only). Others: NotFound."""
    shipment = await repository.get_shipment(uow.conn, shipment_id)
    if shipment is None or not await _may_see(uow, principal, shipment):
        raise NotFound("no such shipment", field="shipment_id")
    return shipment


async def _may_see(uow: UnitOfWork, principal: Principal, shipment: dict[str, Any]) -> bool:
    match principal.role:
        case Role.OPERATOR:
            return True
        case Role.MERCHANT:
            return shipment["merchant_id"] == principal.merchant_id
        case Role.CLERK:
            return principal.location_id in (shipment["location_id"], shipment["pickup_location_id"])
        case Role.SHOPPER:
            owner = await repository.customer_of_order(uow.conn, shipment["order_id"])
            return owner == principal.customer_id
    return False


def check_may_move(principal: Principal, shipment: dict[str, Any], target: ShipmentStatus) -> None:
    """Who scans what: the location's clerks pick, pack and hand over; the pickup counter's clerks take parcels in
    and send uncollected ones back; the merchant (its carrier integration) and operators may do any step. A parcel
    to be collected is delivered only with its pickup code, and a return is taken in by receiving it."""
    if principal.role is Role.SHOPPER:
        raise Forbidden("a shopper follows a shipment; the merchant and the stores move it")
    route = Route(shipment["route"])
    if target is ShipmentStatus.CANCELLED:
        raise Forbidden("a parcel is cancelled with its order (POST /orders/{id}/cancel)", field="to")
    if target is ShipmentStatus.DELIVERED and route in PICKUP_ROUTES:
        raise Forbidden("a parcel for pickup is delivered when collected with its pickup code", field="to")
    if target is ShipmentStatus.RETURNED and route is Route.RETURN:
        raise Forbidden("a return is taken in by receiving it (POST /returns/{id}/receive)", field="to")
    if principal.role is not Role.CLERK:
        return
    at_counter = principal.location_id == shipment["pickup_location_id"]
    counter_moves = (ShipmentStatus.AT_STATION, ShipmentStatus.READY_FOR_PICKUP, ShipmentStatus.RETURNED)
    if at_counter and target in counter_moves and principal.location_id != shipment["location_id"]:
        return
    if principal.location_id != shipment["location_id"]:
        raise Forbidden("a clerk at the pickup counter takes parcels in, or sends them back", field="to")


async def check_pickup_code(uow: UnitOfWork, shipment: dict[str, Any], code: str) -> bool:
    """Whether `code` is the parcel's pickup code. Wrong codes are counted; after a few, the parcel gets a new code
    (shown to the shopper), so guessing one is hopeless. Commit this even when it says False."""
    if secrets.compare_digest(code.encode(), (shipment["pickup_code"] or "").encode()):
        return True
    if await repository.count_wrong_code(uow.conn, shipment["id"]) >= WRONG_CODES_BEFORE_NEW_CODE:
        await repository.update_shipment(uow.conn, shipment["id"], shipment["status"],
                                         {"pickup_code": _pickup_code(), "wrong_codes": 0, "updated_at": uow.now()})
        await repository.insert_event(uow.conn, {
            "shipment_id": shipment["id"], "from_status": shipment["status"], "to_status": shipment["status"],
            "actor": "system", "note": "too many wrong pickup codes: the shopper was given a new one", "at": uow.now(),
        })
        uow.emit("shipment.pickup_code_renewed", "shipment", shipment["id"], {
            "shipment_id": shipment["id"], "order_id": shipment["order_id"], "merchant_id": shipment["merchant_id"],
        })
    return False
