"""Fulfilment HTTP routes under /api/v1."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request

from unichannel import idempotency
from unichannel.access.model import Principal, Role
from unichannel.api_types import IdPath, OptionalIdQuery
from unichannel.checkout.api import CustomerParam, cart_owner
from unichannel.errors import InvalidInput, NotFound, WrongPickupCode
from unichannel.fulfillment import repository, service
from unichannel.fulfillment.promises import WEEKDAYS, location_terms, next_run
from unichannel.fulfillment.schemas import (
    CollectIn,
    MerchantOptionsOut,
    OptionOut,
    ParcelOut,
    PickOut,
    ShipmentEventOut,
    ShipmentLineOut,
    ShipmentMoveIn,
    ShipmentOut,
    StationOut,
)
from unichannel.fulfillment.tracking import Route, ShipmentStatus, next_states
from unichannel.money import check_locale
from unichannel.orders import service as orders_service
from unichannel.payments import service as payments_service
from unichannel.payments.schemas import AmountOut
from unichannel.uow import UnitOfWork
from unichannel.web import Caller, ErrorOut, IdempotencyKey, claim_or_replay, new_uow

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
    till = caller.location_id if caller.role is Role.CLERK and not caller.is_station_operator else None
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


async def shipment_views(uow: UnitOfWork, principal: Principal, rows: list[dict[str, Any]]) -> list[ShipmentOut]:
    """Shipments with their lines and timeline; the pickup code only for the shopper who collects."""
    ids = [row["id"] for row in rows]
    lines = await repository.lines_of(uow.conn, ids)
    events = await repository.events_of(uow.conn, ids)
    views = []
    for row in rows:
        owner = principal.role is Role.SHOPPER  # visible_shipment / visible_order admitted only the order's shopper
        views.append(ShipmentOut(
            **(row | {"pickup_code": row["pickup_code"] if owner else None}),
            next=sorted(s.value for s in next_states(Route(row["route"]), ShipmentStatus(row["status"]))),
            lines=[ShipmentLineOut(**ln) for ln in lines if ln["shipment_id"] == row["id"]],
            timeline=[ShipmentEventOut(**ev) for ev in events if ev["shipment_id"] == row["id"]],
        ))
    return views


@router.get("/shipments", response_model=list[ShipmentOut])
async def list_shipments(
    request: Request, caller: Caller, status: ShipmentStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50, before_id: OptionalIdQuery = None,
) -> list[ShipmentOut]:
    """Work queues: a merchant's parcels, a store's or station's (leaving from it or collected at it), or all for
    an operator; newest first, by status (`picking` is the picking list)."""
    caller.require(Role.MERCHANT, Role.CLERK, Role.OPERATOR)
    merchant_id = caller.merchant_id if caller.role is Role.MERCHANT else None
    location_id = caller.location_id if caller.role is Role.CLERK else None
    async with new_uow(request, read_only=True) as uow:
        rows = await repository.list_shipments(uow.conn, merchant_id=merchant_id, location_id=location_id,
                                               status=status.value if status else None, limit=limit,
                                               before_id=before_id)
        return await shipment_views(uow, caller, rows)


@router.get("/shipments/{shipment_id}", response_model=ShipmentOut)
async def get_shipment(request: Request, caller: Caller, shipment_id: IdPath) -> ShipmentOut:
    """A parcel with what it carries (and, once packed, which lots) and its tracking timeline."""
    async with new_uow(request, read_only=True) as uow:
        [view] = await shipment_views(uow, caller, [await service.visible_shipment(uow, caller, shipment_id)])
        return view


@router.post("/shipments/{shipment_id}/transitions", response_model=ShipmentOut)
async def move_shipment(request: Request, caller: Caller, shipment_id: IdPath, body: ShipmentMoveIn,
                        idempotency_key: IdempotencyKey = None) -> Any:
    """Scans a parcel one step on: packed (its units leave stock, fresh produce first-expiry-first-out), handed
    over, in transit, at the station or ready for pickup, delivered (to a door), failed delivery, returned
    (undelivered: its units are stock again and its lines refunded), or cancelled before it leaves. The order
    follows: shipped when every parcel is out, delivered when every parcel arrived."""
    async with new_uow(request) as uow:
        claim, replay = await claim_or_replay(uow, caller, idempotency_key, request, body.model_dump(mode="json"))
        if replay is not None:
            return replay
        moved = await orders_service.move_shipment(uow, caller, shipment_id, body.to, note=body.note)
        [view] = await shipment_views(uow, caller, [moved])
        if claim is not None:
            # a parcel may reach a state twice (in transit again after a failed delivery): name the step
            await idempotency.record(uow, claim, f"scan:{shipment_id}:{len(view.timeline)}", 200,
                                     view.model_dump(mode="json"))
    await payments_service.pay_back_processing_refunds(request.app.state.uow_factory, request.app.state.gateway)
    return view


@router.post("/shipments/{shipment_id}/collect", response_model=ShipmentOut,
             responses={422: {"model": ErrorOut, "description": "wrong pickup code: the parcel stays at the counter"}})
async def collect(request: Request, caller: Caller, shipment_id: IdPath, body: CollectIn) -> ShipmentOut:
    """At the pickup counter (store or village station): the shopper gives the six-digit pickup code and takes the
    parcel. Collecting the order's last parcel confirms receipt, which releases the escrow to the merchant. After
    five wrong codes the shopper is given a new one."""
    async with new_uow(request) as uow:
        right = await orders_service.check_pickup_code(uow, caller, shipment_id, body.pickup_code)
    if not right:
        raise WrongPickupCode("that is not this parcel's pickup code", field="pickup_code")
    async with new_uow(request) as uow:
        collected = await orders_service.collect_parcel(uow, caller, shipment_id)
        [view] = await shipment_views(uow, caller, [collected])
        return view


@router.get("/stations", response_model=list[StationOut])
async def list_stations(request: Request, caller: Caller) -> list[StationOut]:
    """Village service stations: where each is, the area it serves, its delivery runs and its next one."""
    async with new_uow(request, read_only=True) as uow:
        rows = await repository.active_locations(uow.conn, ["village_station"])
        now = uow.now()
        zone = ZoneInfo(uow.settings.local_timezone)
        cutoff = service.terms_for(uow, "CNY").station_cutoff_hours
    views = []
    for row in rows:
        terms = location_terms(row["kind"], row["details"] or {})
        station = service.station_of(row, terms)
        views.append(StationOut(
            **{k: row[k] for k in ("id", "code", "name", "address", "city", "latitude", "longitude")},
            service_radius_km=terms.service_radius_km, runs=[WEEKDAYS[d] for d in terms.run_weekdays],
            run_time=terms.run_time.strftime("%H:%M"),
            next_run=next_run(station, now.astimezone(zone), cutoff).astimezone(UTC),
            operator_name=terms.operator_name,
        ))
    return views


@router.get("/stations/{station_id}/parcels", response_model=list[ParcelOut])
async def station_parcels(
    request: Request, caller: Caller, station_id: IdPath,
    status: Annotated[ShipmentStatus | None, Query(description="default: on the way or waiting")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> list[ParcelOut]:
    """The station operator's list: parcels on their way to the station or waiting there for their villagers."""
    caller.require(Role.CLERK, Role.OPERATOR)
    if caller.role is Role.CLERK and caller.location_id != station_id:
        raise NotFound("no such station", field="station_id")
    statuses = [status.value] if status else ["handed_over", "in_transit", "at_station"]
    async with new_uow(request, read_only=True) as uow:
        rows = await repository.parcels_for(uow.conn, station_id, statuses, limit)
    return [ParcelOut(
        shipment_id=r["id"], order_id=r["order_id"], customer_id=r["customer_id"],
        recipient=(r["address"] or {}).get("name"), phone_last_digits=((r["address"] or {}).get("phone") or "")[-4:]
        or None, status=r["status"], tracking_code=r["tracking_code"], updated_at=r["updated_at"],
    ) for r in rows]
