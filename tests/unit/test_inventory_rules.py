"""Inventory rules (`unichannel.inventory.model`): availability, the stock invariant, quantities, adjustments,
coordinates, lapsed holds and the lock order of transfers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from unichannel.errors import DomainError, InsufficientStock, InvalidInput
from unichannel.inventory.model import (
    ReservationStatus,
    StockLevel,
    check_adjustment,
    check_coordinates,
    check_quantity,
    has_lapsed,
    order_locations_for_transfer,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
MAXIMUM = 999


@pytest.mark.parametrize(
    ("on_hand", "reserved", "safety_stock", "available"),
    [
        (10, 3, 2, 5),
        (10, 8, 2, 0),
        (10, 8, 5, 0),
    ],
    ids=["both-held-back", "exactly-none-left", "never-negative"],
)
def test_available_excludes_reserved_and_safety_stock_and_is_never_negative(
    on_hand: int, reserved: int, safety_stock: int, available: int
) -> None:
    assert StockLevel(on_hand, reserved, safety_stock).available == available


@pytest.mark.parametrize(
    "level", [StockLevel(0, 0, 0), StockLevel(5, 5, 9)], ids=["empty", "all-reserved-safety-above-on-hand"]
)
def test_stock_level_check_accepts_reserved_within_on_hand(level: StockLevel) -> None:
    level.check()


@pytest.mark.parametrize(
    "level",
    [StockLevel(5, 6, 0), StockLevel(5, -1, 0), StockLevel(5, 0, -1)],
    ids=["reserved-above-on-hand", "negative-reserved", "negative-safety-stock"],
)
def test_stock_level_check_refuses_reserved_above_on_hand_and_negatives(level: StockLevel) -> None:
    with pytest.raises(AssertionError):
        level.check()


@pytest.mark.parametrize("quantity", [1, MAXIMUM], ids=["one", "maximum"])
def test_check_quantity_accepts_whole_units_up_to_the_maximum(quantity: int) -> None:
    assert check_quantity(quantity, MAXIMUM) == quantity


@pytest.mark.parametrize(
    "quantity",
    [0, -1, MAXIMUM + 1, 10**12, True, 1.5, "3"],
    ids=["zero", "negative", "maximum-plus-one", "huge", "bool", "float", "string"],
)
def test_check_quantity_refuses_anything_but_a_positive_whole_number_up_to_the_maximum(quantity: object) -> None:
    with pytest.raises(InvalidInput) as raised:
        check_quantity(quantity, MAXIMUM)  # type: ignore[arg-type]
    assert (raised.value.code, raised.value.field) == ("invalid_input", "quantity")


# on_hand 10, of which 4 reserved, 2 safety stock; adjustments may move up to 100 units.
LEVEL = StockLevel(on_hand=10, reserved=4, safety_stock=2)
ADJUSTMENT_MAXIMUM = 100


@pytest.mark.parametrize(
    ("delta", "reason"),
    [(5, "found in the back room"), (-6, "water damage"), (ADJUSTMENT_MAXIMUM, "count")],
    ids=["add", "remove-every-unreserved-unit-safety-stock-included", "maximum"],
)
def test_check_adjustment_accepts_a_reasoned_change_that_leaves_reserved_units(delta: int, reason: str) -> None:
    check_adjustment(LEVEL, delta, reason, ADJUSTMENT_MAXIMUM)


@pytest.mark.parametrize(
    ("delta", "reason", "error", "field"),
    [
        (0, "count", InvalidInput, "delta"),
        (ADJUSTMENT_MAXIMUM + 1, "count", InvalidInput, "delta"),
        (-(ADJUSTMENT_MAXIMUM + 1), "count", InvalidInput, "delta"),
        (5, "", InvalidInput, "reason"),
        (5, "   ", InvalidInput, "reason"),
        (-7, "water damage", InsufficientStock, "delta"),
    ],
    ids=["zero-delta", "above-maximum", "below-minus-maximum", "no-reason", "blank-reason", "takes-reserved-units"],
)
def test_check_adjustment_refuses_zero_unreasoned_oversized_or_reserved_eating_changes(
    delta: int, reason: str, error: type[DomainError], field: str
) -> None:
    with pytest.raises(error) as raised:
        check_adjustment(LEVEL, delta, reason, ADJUSTMENT_MAXIMUM)
    assert (raised.value.code, raised.value.field) == (error.code, field)


def test_removing_reserved_units_says_how_many_unreserved_units_there_are() -> None:
    with pytest.raises(InsufficientStock) as raised:
        check_adjustment(LEVEL, -7, "water damage", ADJUSTMENT_MAXIMUM)
    assert raised.value.message == "only 6 unreserved units are on hand; cannot remove 7"


@pytest.mark.parametrize(
    ("latitude", "longitude"),
    [(90.0, 180.0), (-90.0, -180.0)],
    ids=["upper-bounds", "lower-bounds"],
)
def test_check_coordinates_accepts_points_on_earth(latitude: float, longitude: float) -> None:
    check_coordinates(latitude, longitude)


@pytest.mark.parametrize(
    ("latitude", "longitude", "field"),
    [
        (90.0001, 0.0, "latitude"),
        (float("nan"), 0.0, "latitude"),
        (0.0, -180.5, "longitude"),
        (0.0, float("inf"), "longitude"),
    ],
    ids=["latitude-above-90", "latitude-nan", "longitude-below-minus-180", "longitude-infinite"],
)
def test_check_coordinates_refuses_points_off_earth_naming_the_field(
    latitude: float, longitude: float, field: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        check_coordinates(latitude, longitude)
    assert raised.value.field == field


@pytest.mark.parametrize(
    ("status", "expires_at", "lapsed"),
    [
        (ReservationStatus.ACTIVE, NOW - timedelta(seconds=1), True),
        (ReservationStatus.ACTIVE, NOW, True),
        (ReservationStatus.ACTIVE, NOW + timedelta(seconds=1), False),
        (ReservationStatus.ACTIVE, None, False),
        (ReservationStatus.ALLOCATED, NOW - timedelta(days=1), False),
        (ReservationStatus.RELEASED, NOW - timedelta(days=1), False),
    ],
    ids=["active-past-expiry", "active-exactly-at-expiry", "active-before-expiry", "active-without-expiry",
         "allocated-never", "released-is-not-a-hold"],
)
def test_only_an_active_hold_at_or_past_its_expiry_has_lapsed(
    status: ReservationStatus, expires_at: datetime | None, lapsed: bool
) -> None:
    assert has_lapsed(status, expires_at, NOW) is lapsed


def test_a_transfer_needs_two_different_locations() -> None:
    with pytest.raises(InvalidInput) as raised:
        order_locations_for_transfer(7, 7)
    assert raised.value.field == "to_location_id"


@pytest.mark.parametrize(("source_id", "destination_id"), [(3, 7), (7, 3)], ids=["ascending", "descending"])
def test_transfer_locks_are_taken_in_ascending_location_id_order_either_direction(
    source_id: int, destination_id: int
) -> None:
    assert order_locations_for_transfer(source_id, destination_id) == (3, 7)
