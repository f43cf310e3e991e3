"""Shipments: the states a parcel goes through, the route each delivery takes, and which lots a picker takes.

Pure: no database, HTTP or clock. The rules:

1. **A shipment follows its route.** Every delivery has one happy path, decided when the shipment is created:
   - home delivery and 30-minute delivery: picking → packed → handed over (to the carrier or courier) → in transit
     → delivered;
   - pickup in the store that holds the units (click & collect): picking → packed → ready for pickup → delivered;
   - pickup in another store: picking → packed → handed over → in transit → ready for pickup → delivered;
   - pickup at a village station: picking → packed → handed over → in transit → at station → delivered;
   - a return (from the shopper back to the location): packed → handed over → in transit → returned.
2. **Off the happy path**: a delivery that fails (nobody home) is `failed_delivery`, from which it is tried again
   (in transit) or sent back (`returned`, back at the location it left); a parcel nobody collects at a store or
   station is sent back too; a shipment not yet out of the door is `cancelled` with its order.
3. **Units leave stock once, when packed** (a packed parcel is off the shelf and the lots it took are known);
   packing takes fresh produce first-expiry-first-out (`inventory.model.pick_first_expiry`) and is refused rather
   than send expired food. Units of a parcel that is cancelled or comes back are stock again.
4. **An order is shipped** when each of its parcels is out of the location's hands: handed over to a carrier, or
   ready for pickup at the counter.
"""

from __future__ import annotations

from enum import StrEnum

from unichannel.errors import IllegalTransition


class ShipmentStatus(StrEnum):
    PICKING = "picking"
    PACKED = "packed"
    HANDED_OVER = "handed_over"
    IN_TRANSIT = "in_transit"
    AT_STATION = "at_station"
    READY_FOR_PICKUP = "ready_for_pickup"
    DELIVERED = "delivered"
    FAILED_DELIVERY = "failed_delivery"
    RETURNED = "returned"
    CANCELLED = "cancelled"


class Route(StrEnum):
    DOOR = "door"  # home delivery or 30-minute delivery
    COLLECT_HERE = "collect_here"  # picked up in the store that picked it
    COLLECT_ELSEWHERE = "collect_elsewhere"  # carried to another store for pickup
    STATION = "station"  # carried to a village station for pickup
    RETURN = "return"  # from the shopper back to the location


S = ShipmentStatus
HAPPY_PATHS: dict[Route, tuple[ShipmentStatus, ...]] = {
    Route.DOOR: (S.PICKING, S.PACKED, S.HANDED_OVER, S.IN_TRANSIT, S.DELIVERED),
    Route.COLLECT_HERE: (S.PICKING, S.PACKED, S.READY_FOR_PICKUP, S.DELIVERED),
    Route.COLLECT_ELSEWHERE: (S.PICKING, S.PACKED, S.HANDED_OVER, S.IN_TRANSIT, S.READY_FOR_PICKUP, S.DELIVERED),
    Route.STATION: (S.PICKING, S.PACKED, S.HANDED_OVER, S.IN_TRANSIT, S.AT_STATION, S.DELIVERED),
    Route.RETURN: (S.PACKED, S.HANDED_OVER, S.IN_TRANSIT, S.RETURNED),
}
FINAL = frozenset({S.DELIVERED, S.RETURNED, S.CANCELLED})
PICKUP_ROUTES = frozenset({Route.COLLECT_HERE, Route.COLLECT_ELSEWHERE, Route.STATION})


def route_for(delivery_mode: str, source_id: int, pickup_location_id: int | None, pickup_kind: str | None) -> Route:
    """The route of an order's shipment from `source_id`, for the order's delivery mode and pickup place."""
    if delivery_mode != "pickup":
        return Route.DOOR
    if pickup_kind == "village_station":
        return Route.STATION
    return Route.COLLECT_HERE if pickup_location_id == source_id else Route.COLLECT_ELSEWHERE


def out_of_hand(route: Route, status: ShipmentStatus) -> bool:
    """Rule 4: the parcel has been handed over to a carrier or is at a pickup counter (or went on from there)."""
    if status in (S.PICKING, S.PACKED, S.CANCELLED):
        return False
    return route is not Route.RETURN


def states_of(route: Route) -> frozenset[ShipmentStatus]:
    """Every state a shipment on this route can be in."""
    states = set(HAPPY_PATHS[route])
    if route is not Route.RETURN:
        states |= {S.RETURNED, S.CANCELLED}
    if route is Route.DOOR:
        states.add(S.FAILED_DELIVERY)
    return frozenset(states)


def next_states(route: Route, status: ShipmentStatus) -> frozenset[ShipmentStatus]:
    """The moves a shipment may make from `status` (rules 1 and 2)."""
    path = HAPPY_PATHS[route]
    if status in FINAL or status not in states_of(route):
        return frozenset()
    moves: set[ShipmentStatus] = set()
    if status in path:
        moves.add(path[path.index(status) + 1])
    if route is Route.RETURN:
        return frozenset(moves)
    if status in (S.PICKING, S.PACKED):
        moves.add(S.CANCELLED)
    if route is Route.DOOR and status is S.IN_TRANSIT:
        moves.add(S.FAILED_DELIVERY)
    if status is S.FAILED_DELIVERY:
        moves |= {S.IN_TRANSIT, S.RETURNED}
    if status in (S.AT_STATION, S.READY_FOR_PICKUP):
        moves.add(S.RETURNED)
    return frozenset(moves)


def check_move(route: Route, status: ShipmentStatus, target: ShipmentStatus) -> None:
    allowed = next_states(route, status)
    if target not in allowed:
        names = ", ".join(sorted(s.value for s in allowed)) or "none (final state)"
        raise IllegalTransition(f"a {route.value} shipment that is {status.value} cannot become {target.value}; "
                                f"allowed: {names}", field="to")


def steps_to(route: Route, status: ShipmentStatus, target: ShipmentStatus) -> list[ShipmentStatus]:
    """The happy-path steps from `status` up to and including `target` ([] if already there or past it); a move
    off the happy path is one step. Used when a whole order is moved at once (shipped, delivered)."""
    path = HAPPY_PATHS[route]
    if status in path and target in path:
        here, there = path.index(status), path.index(target)
        return list(path[here + 1: there + 1])
    check_move(route, status, target)
    return [target]
