"""Inventory use cases: locations, receiving, adjusting, transferring, reserving and releasing stock.

Every function runs inside the caller's unit of work and never commits. Every change of a stock row records a
movement (when on_hand changes) and emits a `stock.changed` event through the outbox.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from unichannel.access.model import Principal, Role
from unichannel.catalog import repository as catalog_repository
from unichannel.errors import (
    AlreadyExists,
    Conflict,
    InsufficientStock,
    InvalidInput,
    NotFound,
    ReservationExpired,
    SoldOut,
    parse_choice,
)
from unichannel.fulfillment.promises import location_terms
from unichannel.inventory import repository
from unichannel.inventory.model import (
    LIVE_RESERVATION_STATUSES,
    MAX_ON_HAND,
    LocationKind,
    Lot,
    LotPick,
    MovementKind,
    ReservationStatus,
    StockLevel,
    check_adjustment,
    check_coordinates,
    check_lot,
    check_quantity,
    has_lapsed,
    order_locations_for_transfer,
    pick_first_expiry,
)
from unichannel.uow import UnitOfWork


def _stock_event(uow: UnitOfWork, merchant_id: int, variant_id: int, location_id: int, level: StockLevel) -> None:
    level.check()
    uow.emit(
        "stock.changed",
        "stock",
        f"{variant_id}@{location_id}",
        {
            "merchant_id": merchant_id,
            "variant_id": variant_id,
            "location_id": location_id,
            "on_hand": level.on_hand,
            "reserved": level.reserved,
            "available": level.available,
        },
    )


# --- locations ---------------------------------------------------------------------------------------------------


async def create_location(uow: UnitOfWork, values: dict[str, Any]) -> dict[str, Any]:
    """Adds a location with a unique code and valid coordinates."""
    parse_choice(LocationKind, values["kind"], "kind")
    check_coordinates(values["latitude"], values["longitude"])
    location_terms(values["kind"], values.get("details") or {})  # delivery details are checked before they are kept
    if await repository.get_location_by_code(uow.conn, values["code"]) is not None:
        raise AlreadyExists(f"a location with code {values['code']!r} exists", field="code")
    location_id = await repository.insert_location(uow.conn, {**values, "created_at": uow.now()})
    location = await repository.get_location(uow.conn, location_id)
    assert location is not None
    return location


async def get_location(uow: UnitOfWork, location_id: int) -> dict[str, Any]:
    location = await repository.get_location(uow.conn, location_id)
    if location is None:
        raise NotFound("no such location", field="location_id")
    return location


async def _variant(uow: UnitOfWork, variant_id: int, principal: Principal | None) -> dict[str, Any]:
    variant = await catalog_repository.get_variant(uow.conn, variant_id)
    if variant is None:
        raise NotFound("no such SKU", field="variant_id")
    if principal is not None and principal.role is Role.MERCHANT and principal.merchant_id != variant["merchant_id"]:
        raise NotFound("no such SKU", field="variant_id")
    return variant


async def _managed_location(uow: UnitOfWork, location_id: int, principal: Principal | None, field: str) -> dict:
    location = await repository.get_location(uow.conn, location_id)
    if location is None:
        raise NotFound("no such location", field=field)
    if principal is not None:
        principal.check_location(location_id, location["merchant_id"])
    return location


# --- on-hand changes ---------------------------------------------------------------------------------------------


async def _move_on_hand(
    uow: UnitOfWork,
    variant: dict[str, Any],
    location_id: int,
    delta: int,
    kind: MovementKind,
    *,
    reason: str = "",
    reference: str | None = None,
    actor: str | None = None,
) -> StockLevel:
    now = uow.now()
    await repository.ensure_stock_row(uow.conn, variant["merchant_id"], variant["id"], location_id, now)
    level = await repository.change_on_hand(uow.conn, variant["id"], location_id, delta, now)
    if level is None:
        current = await repository.get_level(uow.conn, variant["id"], location_id) or StockLevel(0, 0, 0)
        if current.on_hand + delta > MAX_ON_HAND:
            raise InvalidInput(f"a location holds at most {MAX_ON_HAND} units of one SKU", field="quantity",
                               details={"maximum": MAX_ON_HAND})
        available = current.on_hand - current.reserved
        raise InsufficientStock(f"only {available} unreserved units are on hand", field="quantity",
                                details={"available": available})
    await repository.insert_movement(
        uow.conn,
        {
            "merchant_id": variant["merchant_id"],
            "variant_id": variant["id"],
            "location_id": location_id,
            "kind": kind.value,
            "quantity": delta,
            "reason": reason,
            "reference": reference,
            "actor": actor,
            "created_at": now,
        },
    )
    _stock_event(uow, variant["merchant_id"], variant["id"], location_id, level)
    return level


async def receive(
    uow: UnitOfWork, principal: Principal | None, variant_id: int, location_id: int, quantity: int, reference: str | None,
    lot: tuple[str, date | None] | None = None,
) -> StockLevel:
    """Adds received units to on_hand and records a `receive` movement; with a (lot code, best-before date), the
    units are tracked in that lot (fresh produce is then picked first-expiry-first-out)."""
    check_quantity(quantity, uow.settings.max_stock_quantity)
    variant = await _variant(uow, variant_id, principal)
    await _managed_location(uow, location_id, principal, "location_id")
    actor = principal.key if principal else None
    level = await _move_on_hand(
        uow, variant, location_id, quantity, MovementKind.RECEIVE, reference=reference, actor=actor, reason="received"
    )
    if lot is not None:
        await _into_lot(uow, variant, location_id, lot, quantity)
    return level


async def _into_lot(uow: UnitOfWork, variant: dict[str, Any], location_id: int, lot: tuple[str, date | None],
                    quantity: int) -> dict[str, Any]:
    code, best_before = lot
    check_lot(code, best_before)
    found = await repository.receive_into_lot(uow.conn, {
        "merchant_id": variant["merchant_id"], "variant_id": variant["id"], "location_id": location_id,
        "code": code, "best_before": best_before, "received": quantity, "received_at": uow.now(),
    })
    if found is None:
        raise Conflict(f"lot {code} is here already with another best-before date", field="lot.best_before")
    return found


async def _lot_named(uow: UnitOfWork, variant_id: int, location_id: int, code: str) -> dict[str, Any]:
    found = await repository.get_lot(uow.conn, variant_id, location_id, code)
    if found is None:
        raise NotFound(f"no lot {code} of this SKU here", field="lot_code")
    return found


async def _check_lots_covered(uow: UnitOfWork, variant_id: int, location_id: int, delta: int) -> None:
    """Units taken without naming a lot may only come from units in no lot: lots never count more than is on hand."""
    if delta >= 0:
        return
    level = await repository.get_level(uow.conn, variant_id, location_id) or StockLevel(0, 0, 0)
    in_lots = await repository.units_in_lots(uow.conn, variant_id, location_id)
    if in_lots and level.on_hand + delta < in_lots:
        raise InvalidInput(f"{in_lots} of the {level.on_hand} units here are in lots: name the lot they come from",
                           field="lot_code")


async def adjust(
    uow: UnitOfWork, principal: Principal | None, variant_id: int, location_id: int, delta: int, reason: str,
    lot_code: str | None = None,
) -> StockLevel:
    """Corrects on_hand by a signed delta with a reason (of a named lot, or of units in no lot); never below what
    is reserved."""
    variant = await _variant(uow, variant_id, principal)
    await _managed_location(uow, location_id, principal, "location_id")
    level = await repository.get_level(uow.conn, variant_id, location_id) or StockLevel(0, 0, 0)
    check_adjustment(level, delta, reason, uow.settings.max_stock_quantity)
    if lot_code is None:
        await _check_lots_covered(uow, variant_id, location_id, delta)
    else:
        lot = await _lot_named(uow, variant_id, location_id, lot_code)
        if not await repository.change_lot(uow.conn, lot["id"], delta):
            raise InsufficientStock(f"lot {lot_code} has {lot['remaining']} of the {lot['received']} units it "
                                    "came with", field="delta",
                                    details={"lot": lot_code, "remaining": lot["remaining"]})
    actor = principal.key if principal else None
    return await _move_on_hand(uow, variant, location_id, delta, MovementKind.ADJUST, reason=reason, actor=actor)


async def transfer(
    uow: UnitOfWork,
    principal: Principal | None,
    variant_id: int,
    from_location_id: int,
    to_location_id: int,
    quantity: int,
    lot_code: str | None = None,
) -> tuple[StockLevel, StockLevel]:
    """Moves unreserved units between two locations in one transaction: both sides change, or neither. Units of a
    named lot arrive in the same lot (code and best-before date) at the destination."""
    check_quantity(quantity, uow.settings.max_stock_quantity)
    variant = await _variant(uow, variant_id, principal)
    await _managed_location(uow, from_location_id, principal, "from_location_id")
    destination = await repository.get_location(uow.conn, to_location_id)
    if destination is None:
        raise NotFound("no such location", field="to_location_id")
    first, _ = order_locations_for_transfer(from_location_id, to_location_id)
    if lot_code is None:
        await _check_lots_covered(uow, variant_id, from_location_id, -quantity)
    reference = f"transfer:{from_location_id}->{to_location_id}"
    actor = principal.key if principal else None
    moves = {
        from_location_id: (-quantity, MovementKind.TRANSFER_OUT),
        to_location_id: (quantity, MovementKind.TRANSFER_IN),
    }
    levels: dict[int, StockLevel] = {}
    for location_id in (first, to_location_id if first == from_location_id else from_location_id):
        delta, kind = moves[location_id]
        levels[location_id] = await _move_on_hand(
            uow, variant, location_id, delta, kind, reason="transfer", reference=reference, actor=actor
        )
    if lot_code is not None:
        lot = await _lot_named(uow, variant_id, from_location_id, lot_code)
        if not await repository.change_lot(uow.conn, lot["id"], -quantity):
            raise InsufficientStock(f"lot {lot_code} has {lot['remaining']} units here", field="quantity",
                                    details={"lot": lot_code, "remaining": lot["remaining"]})
        await _into_lot(uow, variant, to_location_id, (lot_code, lot["best_before"]), quantity)
    return levels[from_location_id], levels[to_location_id]


async def set_safety_stock(
    uow: UnitOfWork, principal: Principal | None, variant_id: int, location_id: int, safety_stock: int
) -> StockLevel:
    """Sets how many units of a SKU a location keeps back from sale."""
    if safety_stock < 0 or safety_stock > uow.settings.max_stock_quantity:
        raise InvalidInput("safety stock is between 0 and the largest stock quantity", field="safety_stock")
    variant = await _variant(uow, variant_id, principal)
    await _managed_location(uow, location_id, principal, "location_id")
    now = uow.now()
    await repository.ensure_stock_row(uow.conn, variant["merchant_id"], variant_id, location_id, now)
    level = await repository.set_safety_stock(uow.conn, variant_id, location_id, safety_stock, now)
    assert level is not None
    _stock_event(uow, variant["merchant_id"], variant_id, location_id, level)
    return level


# --- reservations ------------------------------------------------------------------------------------------------


async def reserve(
    uow: UnitOfWork,
    merchant_id: int,
    variant_id: int,
    quantity: int,
    candidate_location_ids: list[int],
    expires_at: datetime | None,
) -> dict[str, Any]:
    """Holds `quantity` units at the first candidate location (in the given order of preference) that has them.

    Each attempt is one conditional UPDATE, so concurrent buyers can never oversell. If no candidate has the units,
    holds that have lapsed at those locations are expired on the spot (a lapsed hold never blocks a buyer) and the
    candidates are tried once more; then SoldOut.
    """
    for attempt in range(2):
        for location_id in candidate_location_ids:
            level = await repository.try_reserve(uow.conn, variant_id, location_id, quantity, uow.now())
            if level is None:
                continue
            _stock_event(uow, merchant_id, variant_id, location_id, level)
            now = uow.now()
            reservation_id = await repository.insert_reservation(
                uow.conn,
                {
                    "merchant_id": merchant_id,
                    "variant_id": variant_id,
                    "location_id": location_id,
                    "quantity": quantity,
                    "status": ReservationStatus.ACTIVE.value,
                    "expires_at": expires_at,
                    "created_at": now,
                    "updated_at": now,
                },
            )
            return {"id": reservation_id, "location_id": location_id, "quantity": quantity}
        if attempt == 0:
            expired = 0
            for location_id in candidate_location_ids:
                expired += len(await expire_lapsed(uow, variant_id=variant_id, location_id=location_id))
            if expired == 0:
                break
    raise SoldOut("not enough units are left where this order can be served from", field="quantity")


async def _give_back(
    uow: UnitOfWork, reservation: dict[str, Any], *, consume: bool, reference: str | None = None
) -> StockLevel:
    now = uow.now()
    level = await repository.unreserve(
        uow.conn, reservation["variant_id"], reservation["location_id"], reservation["quantity"], consume=consume, now=now
    )
    if consume:
        await repository.insert_movement(
            uow.conn,
            {
                "merchant_id": reservation["merchant_id"],
                "variant_id": reservation["variant_id"],
                "location_id": reservation["location_id"],
                "kind": MovementKind.SHIP.value,
                "quantity": -reservation["quantity"],
                "reason": "shipped",
                "reference": reference,
                "created_at": now,
            },
        )
    _stock_event(uow, reservation["merchant_id"], reservation["variant_id"], reservation["location_id"], level)
    return level


async def expire_lapsed(
    uow: UnitOfWork, *, variant_id: int | None = None, location_id: int | None = None, limit: int = 500
) -> list[dict[str, Any]]:
    """Expires holds past their expiry and gives their units back; each hold is expired exactly once."""
    now = uow.now()
    expired = []
    for row in await repository.lapsed_reservations(
        uow.conn, now, variant_id=variant_id, location_id=location_id, limit=limit
    ):
        moved = await repository.move_reservation(
            uow.conn, row["id"], (ReservationStatus.ACTIVE.value,), ReservationStatus.EXPIRED, now
        )
        if moved is not None:
            await _give_back(uow, moved, consume=False)
            expired.append(moved)
    return expired


async def all_held(uow: UnitOfWork, reservation_ids: list[int]) -> bool:
    """Whether every one of these holds is still live (not released, expired, or lapsed unswept)."""
    now = uow.now()
    found = await repository.get_reservations(uow.conn, reservation_ids)
    return len(found) == len(set(reservation_ids)) and all(
        r["status"] == ReservationStatus.ACTIVE.value and not has_lapsed(r["status"], r["expires_at"], now)
        for r in found
    )


async def hold_until_shipped(uow: UnitOfWork, reservation_id: int) -> dict[str, Any]:
    """On payment: a live hold stops lapsing. A hold that has lapsed (swept or not) is gone: ReservationExpired."""
    now = uow.now()
    [reservation] = await repository.get_reservations(uow.conn, [reservation_id])
    if has_lapsed(reservation["status"], reservation["expires_at"], now):
        moved = await repository.move_reservation(
            uow.conn, reservation_id, (ReservationStatus.ACTIVE.value,), ReservationStatus.EXPIRED, now
        )
        if moved is not None:
            await _give_back(uow, moved, consume=False)
        raise ReservationExpired("the stock held for this order was released when the hold lapsed")
    moved = await repository.move_reservation(
        uow.conn, reservation_id, (ReservationStatus.ACTIVE.value,), ReservationStatus.ACTIVE, now, expires_at=None
    )
    if moved is None:
        raise ReservationExpired("the stock held for this order is no longer held")
    return moved


async def allocate(uow: UnitOfWork, reservation_id: int) -> dict[str, Any]:
    """A paid line's hold becomes an allocation at its location."""
    moved = await repository.move_reservation(
        uow.conn, reservation_id, (ReservationStatus.ACTIVE.value,), ReservationStatus.ALLOCATED, uow.now()
    )
    if moved is None:
        raise ReservationExpired("the stock for this line is no longer held")
    return moved


async def consume(uow: UnitOfWork, reservation_id: int, reference: str) -> dict[str, Any]:
    """Shipping: the allocated units leave on_hand and reserved together, recorded as a `ship` movement."""
    moved = await repository.move_reservation(
        uow.conn, reservation_id, (ReservationStatus.ALLOCATED.value,), ReservationStatus.CONSUMED, uow.now()
    )
    if moved is None:
        raise ReservationExpired("the stock for this line is not allocated")
    await _give_back(uow, moved, consume=True, reference=reference)
    return moved


def local_today(uow: UnitOfWork) -> date:
    """Today where the goods are (best-before dates are local dates)."""
    return uow.now().astimezone(ZoneInfo(uow.settings.local_timezone)).date()


async def pack(uow: UnitOfWork, reservation_id: int, reference: str, *, sku: str = "") -> list[LotPick]:
    """Packing an allocated line: its units leave stock (on_hand and reserved together, a `ship` movement), taken
    from its lots first-expiry-first-out and never from an expired lot (ExpiredStock: nothing changes).
    Returns which lots gave how many units (lot None: units in no lot)."""
    [reservation] = await repository.get_reservations(uow.conn, [reservation_id])
    variant_id, location_id = reservation["variant_id"], reservation["location_id"]
    level = await repository.get_level(uow.conn, variant_id, location_id, for_update=True)
    assert level is not None, "a reservation always has its stock row"
    rows = await repository.lots_at(uow.conn, variant_id, location_id)
    lots = [Lot(r["id"], r["code"], r["best_before"], r["remaining"]) for r in rows]
    untracked = level.on_hand - sum(lot.remaining for lot in lots)
    picks = pick_first_expiry(lots, reservation["quantity"], untracked, local_today(uow), sku=sku)
    for pick in picks:
        if pick.lot_id is not None and not await repository.change_lot(uow.conn, pick.lot_id, -pick.quantity):
            raise Conflict("the lots changed meanwhile; retry", field="lots")
    await consume(uow, reservation_id, reference)
    return picks


async def restock(
    uow: UnitOfWork, line: dict[str, Any], quantity: int, picks: list[LotPick], *, reference: str, reason: str
) -> StockLevel:
    """Units of a packed line come back to its location (a parcel unpacked, undeliverable, or returned by the
    shopper): on hand again, as a `return` movement, back into the lots they were packed from (latest best-before
    first) as far as they go."""
    variant = {"id": line["variant_id"], "merchant_id": line["merchant_id"]}
    level = await _move_on_hand(uow, variant, line["location_id"], quantity, MovementKind.RETURN, reason=reason,
                                reference=reference)
    left = quantity
    for pick in reversed(picks):
        if left == 0:
            break
        if pick.lot_id is None:
            continue
        back = min(left, pick.quantity)
        if await repository.change_lot(uow.conn, pick.lot_id, back):
            left -= back
    return level


async def write_off_expired_lots(uow: UnitOfWork, limit: int = 200) -> int:
    """Writes off the units of lots past their best-before date (an `adjust` movement naming the lot), as far as
    they are not held for an order (packing will refuse those). Returns the units written off."""
    written_off = 0
    for lot in await repository.expired_lots(uow.conn, local_today(uow), limit):
        level = await repository.get_level(uow.conn, lot["variant_id"], lot["location_id"], for_update=True)
        units = min(lot["remaining"], level.on_hand - level.reserved) if level else 0
        if units <= 0 or not await repository.change_lot(uow.conn, lot["id"], -units):
            continue
        variant = {"id": lot["variant_id"], "merchant_id": lot["merchant_id"]}
        await _move_on_hand(uow, variant, lot["location_id"], -units, MovementKind.ADJUST,
                            reason=f"lot {lot['code']} past its best-before date {lot['best_before'].isoformat()}",
                            actor="system:sweeper")
        written_off += units
    return written_off


async def release(uow: UnitOfWork, reservation_id: int) -> dict[str, Any] | None:
    """Cancellation: a live hold or allocation gives its units back; one already gone is left as it is."""
    live = tuple(s.value for s in LIVE_RESERVATION_STATUSES)
    moved = await repository.move_reservation(uow.conn, reservation_id, live, ReservationStatus.RELEASED, uow.now())
    if moved is not None:
        await _give_back(uow, moved, consume=False)
    return moved
