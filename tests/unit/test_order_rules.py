"""Order rules (`unichannel.orders.model`): the lifecycle, the delivery choice and where stock may come from."""

from __future__ import annotations

from itertools import product

import pytest

from unichannel.errors import IllegalTransition, InvalidInput
from unichannel.orders.model import (
    TRANSITIONS,
    Address,
    DeliveryChoice,
    DeliveryMode,
    OrderStatus,
    Place,
    channel_of,
    check_delivery_choice,
    check_transition,
    distance_km,
)

S = OrderStatus
# The lifecycle written out by hand, independently of TRANSITIONS.
LEGAL_MOVES = {
    (S.PLACED, S.PAID),
    (S.PLACED, S.CANCELLED),
    (S.PAID, S.ALLOCATED),
    (S.PAID, S.CANCELLED),
    (S.ALLOCATED, S.SHIPPED),
    (S.ALLOCATED, S.CANCELLED),
    (S.SHIPPED, S.DELIVERED),
    (S.SHIPPED, S.CANCELLED),  # every parcel came back undelivered
    (S.DELIVERED, S.COMPLETED),
}
ALL_MOVES = list(product(OrderStatus, OrderStatus))


def test_the_legal_moves_are_exactly_the_order_lifecycle() -> None:
    assert {(current, target) for current, targets in TRANSITIONS.items() for target in targets} == LEGAL_MOVES
    assert set(TRANSITIONS) == set(OrderStatus)
    assert TRANSITIONS[S.COMPLETED] == TRANSITIONS[S.CANCELLED] == frozenset()


@pytest.mark.parametrize(
    ("current", "target"), ALL_MOVES, ids=[f"{current.value}->{target.value}" for current, target in ALL_MOVES]
)
def test_an_order_moves_only_along_its_lifecycle_and_a_refusal_names_the_allowed_moves(
    current: OrderStatus, target: OrderStatus
) -> None:
    if (current, target) in LEGAL_MOVES:
        check_transition(current, target)
        return
    allowed = ", ".join(sorted(t.value for c, t in LEGAL_MOVES if c is current)) or "none (final state)"
    with pytest.raises(IllegalTransition) as raised:
        check_transition(current, target)
    assert (raised.value.code, raised.value.field) == ("illegal_transition", "status")
    assert raised.value.message == (
        f"an order that is {current.value} cannot become {target.value}; allowed: {allowed}"
    )


# --- the delivery choice ----------------------------------------------------------------------------------------

ADDRESS = Address(name="Li Wei", phone="+8613800001111", line1="1 Wensan Road", city="Hangzhou")
STORE = Place(id=3, kind="store", latitude=30.2741, longitude=120.1551)
POPUP = Place(id=6, kind="popup", latitude=30.2590, longitude=120.1300)
STATION = Place(id=5, kind="village_station", latitude=29.47478, longitude=119.27148)
WAREHOUSE = Place(id=2, kind="warehouse", latitude=30.3000, longitude=120.2000)
CLOSED_STORE = Place(id=8, kind="store", latitude=30.2741, longitude=120.1551, is_active=False)
VILLAGER = Address(name="Wang Fang", phone="+8613800002222", line1="3 Village Road", city="Jiande",
                   latitude=29.4800, longitude=119.2800)


def _at(mode: DeliveryMode, place: Place) -> tuple[DeliveryChoice, Place]:
    return DeliveryChoice(mode, location_id=place.id), place


@pytest.mark.parametrize(
    ("choice", "place"),
    [
        (DeliveryChoice(DeliveryMode.HOME_DELIVERY, address=ADDRESS), None),
        _at(DeliveryMode.PICKUP, STORE),
        (DeliveryChoice(DeliveryMode.PICKUP, location_id=STATION.id, address=VILLAGER), STATION),
        _at(DeliveryMode.IN_STORE, POPUP),
        (DeliveryChoice(DeliveryMode.EXPRESS, address=VILLAGER), None),
    ],
    ids=["home-delivery-with-address", "pickup-at-store", "pickup-at-village-station", "in-store-at-popup",
         "express-with-coordinates"],
)
def test_a_delivery_choice_is_accepted_where_it_can_be_served(choice: DeliveryChoice, place: Place | None) -> None:
    check_delivery_choice(choice, place)


@pytest.mark.parametrize(
    ("choice", "place", "field", "message"),
    [
        (DeliveryChoice(DeliveryMode.HOME_DELIVERY), None, "delivery.address", "home delivery needs an address"),
        (DeliveryChoice(DeliveryMode.PICKUP), None, "delivery.location_id", "pickup needs a location"),
        (*_at(DeliveryMode.PICKUP, WAREHOUSE), "delivery.location_id", "pickup is not possible at a warehouse"),
        (*_at(DeliveryMode.IN_STORE, STATION), "delivery.location_id",
         "in_store is not possible at a village_station"),
        (*_at(DeliveryMode.PICKUP, CLOSED_STORE), "delivery.location_id", "that location is closed"),
        (*_at(DeliveryMode.PICKUP, POPUP), "delivery.location_id", "pickup is not possible at a popup"),
        (*_at(DeliveryMode.PICKUP, STATION), "delivery.address",
         "pickup at a village station needs the villager's address with coordinates"),
        (DeliveryChoice(DeliveryMode.EXPRESS, address=ADDRESS), None, "delivery.address.latitude",
         "30-minute delivery needs the address's coordinates"),
    ],
    ids=["home-delivery-without-address", "pickup-without-location", "pickup-at-warehouse",
         "in-store-at-village-station", "closed-location", "pickup-at-a-popup", "station-pickup-without-address",
         "express-without-coordinates"],
)
def test_a_delivery_choice_is_refused_where_it_cannot_be_served(
    choice: DeliveryChoice, place: Place | None, field: str, message: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        check_delivery_choice(choice, place)
    assert (raised.value.field, raised.value.message) == (field, message)
