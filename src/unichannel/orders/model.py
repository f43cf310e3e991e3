"""Order rules: the lifecycle state machine and the delivery choice that decides where stock is held.

Pure: no database, HTTP or clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from unichannel.errors import IllegalTransition, InvalidInput


class OrderStatus(StrEnum):
    PLACED = "placed"  # stock held, awaiting payment (the hold lapses after the hold time)
    PAID = "paid"
    ALLOCATED = "allocated"  # each line assigned to units at its location
    SHIPPED = "shipped"  # handed to the carrier, or over the counter
    DELIVERED = "delivered"
    COMPLETED = "completed"  # receipt confirmed
    CANCELLED = "cancelled"


TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PLACED: frozenset({OrderStatus.PAID, OrderStatus.CANCELLED}),
    OrderStatus.PAID: frozenset({OrderStatus.ALLOCATED, OrderStatus.CANCELLED}),
    OrderStatus.ALLOCATED: frozenset({OrderStatus.SHIPPED, OrderStatus.CANCELLED}),
    # A shipped order is cancelled only when every parcel of it came back undelivered (never on request).
    OrderStatus.SHIPPED: frozenset({OrderStatus.DELIVERED, OrderStatus.CANCELLED}),
    OrderStatus.DELIVERED: frozenset({OrderStatus.COMPLETED}),
    OrderStatus.COMPLETED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
}

# Orders whose lines still hold stock: each line holds exactly one live reservation (design invariant 3).
LIVE_STATUSES = (OrderStatus.PLACED, OrderStatus.PAID, OrderStatus.ALLOCATED)


def check_transition(current: OrderStatus, target: OrderStatus) -> None:
    """Only the moves in TRANSITIONS are legal; anything else is refused with the moves that are."""
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[current])) or "none (final state)"
        raise IllegalTransition(
            f"an order that is {current.value} cannot become {target.value}; allowed: {allowed}", field="status"
        )


class DeliveryMode(StrEnum):
    HOME_DELIVERY = "home_delivery"  # shipped to an address from a warehouse (or a store acting as one)
    EXPRESS = "express"  # within 30 minutes from a nearby store
    PICKUP = "pickup"  # collected at a store (click & collect) or a village service station
    IN_STORE = "in_store"  # sold and handed over at a store till


@dataclass(frozen=True, slots=True)
class Address:
    name: str
    phone: str
    line1: str
    city: str
    region: str = ""
    postal_code: str = ""
    country: str = "CN"
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True, slots=True)
class Place:
    """A location as source selection sees it."""

    id: int
    kind: str
    latitude: float
    longitude: float
    is_active: bool = True


@dataclass(frozen=True, slots=True)
class DeliveryChoice:
    mode: DeliveryMode
    location_id: int | None = None
    address: Address | None = None


def check_delivery_choice(choice: DeliveryChoice, place: Place | None) -> None:
    """Home delivery needs an address, 30-minute delivery one with coordinates; pickup needs an active store or
    village station (a station, the villager's address with coordinates, to check its service area); a till sale
    needs its store."""
    if choice.mode in (DeliveryMode.HOME_DELIVERY, DeliveryMode.EXPRESS):
        if choice.address is None:
            name = "home delivery" if choice.mode is DeliveryMode.HOME_DELIVERY else "30-minute delivery"
            raise InvalidInput(f"{name} needs an address", field="delivery.address")
        if choice.mode is DeliveryMode.EXPRESS and choice.address.latitude is None:
            raise InvalidInput("30-minute delivery needs the address's coordinates", field="delivery.address.latitude")
        return
    if choice.location_id is None or place is None:
        raise InvalidInput(f"{choice.mode.value} needs a location", field="delivery.location_id")
    if not place.is_active:
        raise InvalidInput("that location is closed", field="delivery.location_id")
    allowed = ("store", "popup") if choice.mode is DeliveryMode.IN_STORE else ("store", "village_station")
    if place.kind not in allowed:
        raise InvalidInput(f"{choice.mode.value} is not possible at a {place.kind}", field="delivery.location_id")
    if place.kind == "village_station" and (choice.address is None or choice.address.latitude is None):
        raise InvalidInput("pickup at a village station needs the villager's address with coordinates",
                           field="delivery.address")


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in kilometres."""
    radius_km = 6371.0088
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi, d_lambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * radius_km * math.asin(math.sqrt(a))


def channel_of(mode: DeliveryMode) -> str:
    """A till sale is a store-channel sale; everything else was bought online (web or phone)."""
    return "store" if mode is DeliveryMode.IN_STORE else "online"
