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
    source_candidates,
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


def _at(mode: DeliveryMode, place: Place) -> tuple[DeliveryChoice, Place]:
    return DeliveryChoice(mode, location_id=place.id), place


@pytest.mark.parametrize(
    ("choice", "place"),
    [
        (DeliveryChoice(DeliveryMode.HOME_DELIVERY, address=ADDRESS), None),
        _at(DeliveryMode.PICKUP, STORE),
        _at(DeliveryMode.PICKUP, STATION),
        _at(DeliveryMode.IN_STORE, POPUP),
    ],
    ids=["home-delivery-with-address", "pickup-at-store", "pickup-at-village-station", "in-store-at-popup"],
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
    ],
    ids=["home-delivery-without-address", "pickup-without-location", "pickup-at-warehouse",
         "in-store-at-village-station", "closed-location"],
)
def test_a_delivery_choice_is_refused_where_it_cannot_be_served(
    choice: DeliveryChoice, place: Place | None, field: str, message: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        check_delivery_choice(choice, place)
    assert (raised.value.field, raised.value.message) == (field, message)


# --- where the goods come from ----------------------------------------------------------------------------------

HANGZHOU = (30.2741, 120.1551)
SHANGHAI = (31.2304, 121.4737)
NINGBO = (29.8683, 121.5440)
# Ids deliberately disagree with distance order, so "nearest first" and "by id" give different answers.
WORLD = [
    Place(id=1, kind="warehouse", latitude=SHANGHAI[0], longitude=SHANGHAI[1]),
    Place(id=2, kind="warehouse", latitude=30.3000, longitude=120.2000),  # Hangzhou north-east
    Place(id=3, kind="store", latitude=HANGZHOU[0], longitude=HANGZHOU[1]),
    Place(id=4, kind="store", latitude=NINGBO[0], longitude=NINGBO[1]),
    STATION,  # id 5, Jiande
    POPUP,  # id 6, Hangzhou
    Place(id=7, kind="warehouse", latitude=HANGZHOU[0], longitude=HANGZHOU[1], is_active=False),
]


def _home_delivery(latitude: float | None, longitude: float | None) -> DeliveryChoice:
    address = Address(name="Li Wei", phone="+8613800001111", line1="1 Road", city="X", latitude=latitude,
                      longitude=longitude)
    return DeliveryChoice(DeliveryMode.HOME_DELIVERY, address=address)


@pytest.mark.parametrize("mode", [DeliveryMode.IN_STORE, DeliveryMode.PICKUP], ids=["in-store", "store-pickup"])
def test_a_till_sale_or_store_pickup_takes_the_goods_off_that_stores_shelf_only(mode: DeliveryMode) -> None:
    assert source_candidates(DeliveryChoice(mode, location_id=3), STORE, WORLD) == [3]


@pytest.mark.parametrize(
    ("coordinates", "expected"),
    [
        (SHANGHAI, [1, 2, 4, 3]),  # warehouses: 0 km, ~160 km; stores: Ningbo ~152 km, Hangzhou ~165 km
        (HANGZHOU, [2, 1, 3, 4]),  # warehouses: ~5 km, ~165 km; stores: 0 km, ~141 km
        ((None, None), [1, 2, 3, 4]),
    ],
    ids=["address-in-shanghai", "address-in-hangzhou", "address-without-coordinates-by-id"],
)
def test_home_delivery_ships_from_warehouses_before_stores_nearest_first(
    coordinates: tuple[float | None, float | None], expected: list[int]
) -> None:
    assert source_candidates(_home_delivery(*coordinates), None, WORLD) == expected


def test_village_station_pickup_ships_from_the_warehouses_nearest_the_station() -> None:
    # From Jiande: warehouse 2 ~128 km before warehouse 1 ~288 km; store 3 ~123 km before store 4 ~224 km.
    choice = DeliveryChoice(DeliveryMode.PICKUP, location_id=STATION.id)
    assert source_candidates(choice, STATION, WORLD) == [2, 1, 3, 4]


def test_village_stations_popups_and_closed_locations_never_ship() -> None:
    shelfless = [STATION, POPUP, Place(id=7, kind="warehouse", latitude=30.0, longitude=120.0, is_active=False)]
    assert source_candidates(_home_delivery(*HANGZHOU), None, shelfless) == []


def test_distance_km_is_the_great_circle_distance() -> None:
    # Hangzhou to Shanghai: central angle 0.025879 rad (spherical law of cosines) on the 6371.0088 km mean radius.
    assert distance_km(*HANGZHOU, *SHANGHAI) == pytest.approx(164.874, abs=0.5)


@pytest.mark.parametrize(
    ("mode", "channel"),
    [(DeliveryMode.IN_STORE, "store"), (DeliveryMode.PICKUP, "online"), (DeliveryMode.HOME_DELIVERY, "online")],
    ids=["in-store", "pickup", "home-delivery"],
)
def test_only_a_till_sale_is_a_store_channel_sale(mode: DeliveryMode, channel: str) -> None:
    assert channel_of(mode) == channel
