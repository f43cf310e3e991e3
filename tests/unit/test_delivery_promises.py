"""Delivery options (fulfillment.promises.delivery_options): offered only when stock and distance allow, each with
its price and window. Times are Asia/Shanghai local; 2026-11-11 is a Wednesday."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from unichannel.fulfillment.model import Line, Promise, Source, Stock, Strategy
from unichannel.fulfillment.promises import OpeningHours, Station, Terms, delivery_options, next_run

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOME = (30.2590, 120.1500)
TEE = 1
A, B, W1, STATION = 11, 12, 21, 31
HOURS = {A: OpeningHours(time(9), time(22)), B: OpeningHours(time(10), time(21))}
TERMS = Terms()
VILLAGE = (29.6000, 119.3000)  # far from the city: only the station serves it


def at(hour: int, minute: int = 0, day: int = 11) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


def source(location_id: int, kind: str, km_north: float, units: int, **changes) -> Source:
    base = Source(location_id, kind, HOME[0] + km_north * 0.009, HOME[1], {TEE: Stock(units)},
                  courier_capacity_left=3)
    return replace(base, **changes)


def sources(a: int = 5, b: int = 5, w1: int = 50, **changes) -> list[Source]:
    return [source(A, "store", 1, a, **changes), source(B, "store", 5, b), source(W1, "warehouse", 15, w1)]


STATIONS = [Station(STATION, VILLAGE[0], VILLAGE[1], 8.0, (1, 4), time(14))]  # Tuesday and Friday, 14:00


def offered(lines, subtotal, srcs, now, **kwargs):
    options = delivery_options(lines, subtotal, srcs, HOURS, STATIONS, now=now, terms=TERMS,
                               strategy=Strategy.NEAREST_FIRST, **kwargs)
    return {(o.promise, o.location_id): o for o in options}


def test_home_delivery_is_offered_with_its_fee_and_a_window_of_one_to_three_days():
    options = offered([Line(1, TEE, 1)], 5000, sources(), at(12), address=HOME)
    home = options[(Promise.HOME_DELIVERY, None)]
    assert (home.fee_minor, home.currency) == (1000, "CNY")
    assert (home.earliest, home.latest) == (at(12) + timedelta(days=1), at(12) + timedelta(days=3))


def test_home_delivery_is_free_over_the_threshold():
    options = offered([Line(1, TEE, 1)], 9900, sources(), at(12), address=HOME)
    assert options[(Promise.HOME_DELIVERY, None)].fee_minor == 0


def test_thirty_minute_delivery_comes_from_the_open_store_within_its_radius():
    options = offered([Line(1, TEE, 1)], 5000, sources(), at(12), address=HOME)
    express = options[(Promise.EXPRESS, A)]
    assert (express.fee_minor, express.earliest, express.latest) == (800, at(12), at(12, 30))
    assert express.plan.shipments == [A]


def test_thirty_minute_delivery_is_not_offered_when_the_nearby_store_is_closed():
    options = offered([Line(1, TEE, 1)], 5000, sources(), at(23), address=HOME)  # A closes at 22:00
    assert (Promise.EXPRESS, A) not in options
    assert (Promise.HOME_DELIVERY, None) in options  # the warehouse still delivers


def test_thirty_minute_delivery_is_not_offered_beyond_the_stores_radius():
    far = (HOME[0] - 0.05, HOME[1])  # 5.6 km south of home: 6.6 km from A
    assert (Promise.EXPRESS, A) not in offered([Line(1, TEE, 1)], 5000, sources(), at(12), address=far)


def test_thirty_minute_delivery_is_not_offered_when_the_store_lacks_the_units():
    options = offered([Line(1, TEE, 2)], 5000, sources(a=1), at(12), address=HOME)
    assert not any(promise is Promise.EXPRESS for promise, _ in options)


def test_thirty_minute_delivery_is_not_offered_once_the_hours_courier_capacity_is_used():
    options = offered([Line(1, TEE, 1)], 5000, sources(courier_capacity_left=0), at(12), address=HOME)
    assert (Promise.EXPRESS, A) not in options


def test_each_store_with_the_whole_cart_offers_pickup_ready_an_hour_later_or_an_hour_after_it_opens():
    options = offered([Line(1, TEE, 2)], 5000, sources(a=1), at(9, 30), address=HOME)
    assert (Promise.STORE_PICKUP, A) not in options  # only one unit on A's shelf
    pickup = options[(Promise.STORE_PICKUP, B)]  # B opens at 10:00
    assert (pickup.fee_minor, pickup.earliest) == (0, at(11))


def test_a_village_station_is_offered_only_to_addresses_in_its_service_area_with_its_next_run():
    in_village = offered([Line(1, TEE, 1)], 3000, sources(), at(12), address=(VILLAGE[0] + 0.02, VILLAGE[1]))
    station = in_village[(Promise.STATION_PICKUP, STATION)]
    # ordered Wednesday 12:00; a run needs 12 hours' notice: Friday 14:00
    assert (station.fee_minor, station.earliest) == (300, at(14, day=13))
    assert (Promise.STATION_PICKUP, STATION) not in offered([Line(1, TEE, 1)], 3000, sources(), at(12),
                                                            address=HOME)


def test_village_station_pickup_is_free_for_orders_over_the_threshold():
    options = offered([Line(1, TEE, 1)], 5000, sources(), at(12), address=(VILLAGE[0], VILLAGE[1] + 0.02))
    assert options[(Promise.STATION_PICKUP, STATION)].fee_minor == 0


@pytest.mark.parametrize(("ordered", "run"), [(at(1, day=10), at(14, day=10)), (at(3, day=10), at(14, day=13))],
                         ids=["in-time-for-tuesday", "too-late-for-tuesday"])
def test_the_next_station_run_is_the_first_the_order_can_still_make(ordered, run):
    assert next_run(STATIONS[0], ordered.astimezone(SHANGHAI), 12) == run.astimezone(SHANGHAI)


def test_no_option_is_offered_that_stock_cannot_keep():
    assert offered([Line(1, TEE, 500)], 5000, sources(), at(12), address=HOME) == {}


def test_a_till_sale_delivered_home_ships_from_the_tills_own_store_only():
    options = offered([Line(1, TEE, 1)], 5000, sources(), at(12), address=HOME, till_store_id=B)
    assert list(options) == [(Promise.HOME_DELIVERY, B)]
    assert options[(Promise.HOME_DELIVERY, B)].plan.shipments == [B]
    assert offered([Line(1, TEE, 9)], 5000, sources(), at(12), address=HOME, till_store_id=B) == {}
