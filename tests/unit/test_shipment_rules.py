"""Shipment rules (`unichannel.fulfillment.tracking`): the route of each delivery, the moves a parcel may make, when
it is out of the location's hands, the steps of a whole-order move; and which lots a picker takes
(`unichannel.inventory.model.pick_first_expiry`, `check_lot`)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from unichannel.errors import ExpiredStock, IllegalTransition, InvalidInput
from unichannel.fulfillment.tracking import (
    FINAL,
    HAPPY_PATHS,
    PICKUP_ROUTES,
    Route,
    ShipmentStatus,
    check_move,
    next_states,
    out_of_hand,
    route_for,
    steps_to,
)
from unichannel.inventory.model import Lot, LotPick, check_lot, pick_first_expiry

S = ShipmentStatus
R = Route

# --- the routes, written out by hand from the module's rules 1 and 2 ------------------------------------------------

# Every move a shipment on each route may make, independently of HAPPY_PATHS and next_states.
LEGAL_MOVES: dict[Route, set[tuple[ShipmentStatus, ShipmentStatus]]] = {
    R.DOOR: {
        (S.PICKING, S.PACKED),
        (S.PICKING, S.CANCELLED),
        (S.PACKED, S.HANDED_OVER),
        (S.PACKED, S.CANCELLED),
        (S.HANDED_OVER, S.IN_TRANSIT),
        (S.IN_TRANSIT, S.DELIVERED),
        (S.IN_TRANSIT, S.FAILED_DELIVERY),  # nobody home
        (S.FAILED_DELIVERY, S.IN_TRANSIT),  # tried again
        (S.FAILED_DELIVERY, S.RETURNED),  # sent back
    },
    R.COLLECT_HERE: {
        (S.PICKING, S.PACKED),
        (S.PICKING, S.CANCELLED),
        (S.PACKED, S.READY_FOR_PICKUP),
        (S.PACKED, S.CANCELLED),
        (S.READY_FOR_PICKUP, S.DELIVERED),
        (S.READY_FOR_PICKUP, S.RETURNED),  # nobody collected it
    },
    R.COLLECT_ELSEWHERE: {
        (S.PICKING, S.PACKED),
        (S.PICKING, S.CANCELLED),
        (S.PACKED, S.HANDED_OVER),
        (S.PACKED, S.CANCELLED),
        (S.HANDED_OVER, S.IN_TRANSIT),
        (S.IN_TRANSIT, S.READY_FOR_PICKUP),
        (S.READY_FOR_PICKUP, S.DELIVERED),
        (S.READY_FOR_PICKUP, S.RETURNED),
    },
    R.STATION: {
        (S.PICKING, S.PACKED),
        (S.PICKING, S.CANCELLED),
        (S.PACKED, S.HANDED_OVER),
        (S.PACKED, S.CANCELLED),
        (S.HANDED_OVER, S.IN_TRANSIT),
        (S.IN_TRANSIT, S.AT_STATION),
        (S.AT_STATION, S.DELIVERED),
        (S.AT_STATION, S.RETURNED),  # nobody collected it
    },
    R.RETURN: {
        (S.PACKED, S.HANDED_OVER),
        (S.HANDED_OVER, S.IN_TRANSIT),
        (S.IN_TRANSIT, S.RETURNED),
    },
}
# The states a shipment on each route can ever be in.
ROUTE_STATES: dict[Route, set[ShipmentStatus]] = {
    R.DOOR: {S.PICKING, S.PACKED, S.HANDED_OVER, S.IN_TRANSIT, S.FAILED_DELIVERY, S.DELIVERED, S.RETURNED,
             S.CANCELLED},
    R.COLLECT_HERE: {S.PICKING, S.PACKED, S.READY_FOR_PICKUP, S.DELIVERED, S.RETURNED, S.CANCELLED},
    R.COLLECT_ELSEWHERE: {S.PICKING, S.PACKED, S.HANDED_OVER, S.IN_TRANSIT, S.READY_FOR_PICKUP, S.DELIVERED,
                          S.RETURNED, S.CANCELLED},
    R.STATION: {S.PICKING, S.PACKED, S.HANDED_OVER, S.IN_TRANSIT, S.AT_STATION, S.DELIVERED, S.RETURNED,
                S.CANCELLED},
    R.RETURN: {S.PACKED, S.HANDED_OVER, S.IN_TRANSIT, S.RETURNED},
}
ROUTES = list(Route)
ROUTE_IDS = [route.value for route in ROUTES]


def test_each_route_has_its_one_happy_path() -> None:
    assert HAPPY_PATHS == {
        R.DOOR: (S.PICKING, S.PACKED, S.HANDED_OVER, S.IN_TRANSIT, S.DELIVERED),
        R.COLLECT_HERE: (S.PICKING, S.PACKED, S.READY_FOR_PICKUP, S.DELIVERED),
        R.COLLECT_ELSEWHERE: (S.PICKING, S.PACKED, S.HANDED_OVER, S.IN_TRANSIT, S.READY_FOR_PICKUP, S.DELIVERED),
        R.STATION: (S.PICKING, S.PACKED, S.HANDED_OVER, S.IN_TRANSIT, S.AT_STATION, S.DELIVERED),
        R.RETURN: (S.PACKED, S.HANDED_OVER, S.IN_TRANSIT, S.RETURNED),
    }


def test_delivered_returned_and_cancelled_are_final_and_three_routes_end_at_a_counter() -> None:
    assert FINAL == {S.DELIVERED, S.RETURNED, S.CANCELLED}
    assert PICKUP_ROUTES == {R.COLLECT_HERE, R.COLLECT_ELSEWHERE, R.STATION}
    assert R.DOOR not in PICKUP_ROUTES and R.RETURN not in PICKUP_ROUTES


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_a_shipment_moves_only_along_its_route_and_a_refusal_names_the_allowed_moves(route: Route) -> None:
    """Every (status, target) pair of every state the route can be in: legal exactly when written out above."""
    legal = LEGAL_MOVES[route]
    assert {(status, target) for status in ROUTE_STATES[route] for target in next_states(route, status)} == legal
    for status in ROUTE_STATES[route]:
        allowed = ", ".join(sorted(t.value for s, t in legal if s is status)) or "none (final state)"
        for target in ShipmentStatus:
            if (status, target) in legal:
                check_move(route, status, target)
                continue
            with pytest.raises(IllegalTransition) as raised:
                check_move(route, status, target)
            assert (raised.value.code, raised.value.field) == ("illegal_transition", "to")
            assert raised.value.message == (
                f"a {route.value} shipment that is {status.value} cannot become {target.value}; allowed: {allowed}"
            )


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_a_state_its_route_never_visits_offers_no_moves(route: Route) -> None:
    """Rule 1, a shipment follows its route: a state the route never visits (a door parcel at a station, a
    collect-here parcel whose delivery failed) offers no way on, least of all to a state off the route."""
    offered = {status: next_states(route, status) for status in ShipmentStatus if status not in ROUTE_STATES[route]}
    assert offered == {status: frozenset() for status in offered}


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_the_states_reachable_from_the_start_of_a_route_are_exactly_its_states(route: Route) -> None:
    start = HAPPY_PATHS[route][0]
    seen, frontier = {start}, [start]
    while frontier:
        for target in next_states(route, frontier.pop()):
            if target not in seen:
                seen.add(target)
                frontier.append(target)
    assert seen == ROUTE_STATES[route]


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
@pytest.mark.parametrize("final", [S.DELIVERED, S.RETURNED, S.CANCELLED], ids=lambda s: s.value)
def test_a_final_state_has_no_moves(route: Route, final: ShipmentStatus) -> None:
    assert next_states(route, final) == frozenset()
    with pytest.raises(IllegalTransition, match=r"allowed: none \(final state\)$"):
        check_move(route, final, S.PICKING)


@pytest.mark.parametrize("status", list(ShipmentStatus), ids=lambda s: s.value)
def test_a_return_can_never_fail_or_be_cancelled(status: ShipmentStatus) -> None:
    assert not next_states(R.RETURN, status) & {S.FAILED_DELIVERY, S.CANCELLED}
    for target in (S.FAILED_DELIVERY, S.CANCELLED):
        with pytest.raises(IllegalTransition):
            check_move(R.RETURN, status, target)


def test_only_a_door_delivery_can_fail() -> None:
    assert {route for route in ROUTES for status in ROUTE_STATES[route]
            if S.FAILED_DELIVERY in next_states(route, status)} == {R.DOOR}


def test_only_a_shipment_not_yet_out_of_the_door_can_be_cancelled() -> None:
    assert {(route, status) for route in ROUTES for status in ShipmentStatus
            if S.CANCELLED in next_states(route, status)} == {
        (route, status) for route in (R.DOOR, R.COLLECT_HERE, R.COLLECT_ELSEWHERE, R.STATION)
        for status in (S.PICKING, S.PACKED)
    }


# --- the route of a delivery ----------------------------------------------------------------------------------------

STORE, OTHER_STORE, WAREHOUSE, STATION = 3, 4, 2, 5


@pytest.mark.parametrize(
    ("delivery_mode", "source_id", "pickup_location_id", "pickup_kind", "route"),
    [
        ("home_delivery", WAREHOUSE, None, None, R.DOOR),
        ("home_delivery", STORE, None, None, R.DOOR),
        ("express", STORE, None, None, R.DOOR),
        ("pickup", STORE, STORE, "store", R.COLLECT_HERE),
        ("pickup", OTHER_STORE, STORE, "store", R.COLLECT_ELSEWHERE),
        ("pickup", WAREHOUSE, STORE, "store", R.COLLECT_ELSEWHERE),
        ("pickup", WAREHOUSE, STATION, "village_station", R.STATION),
        ("pickup", STORE, STATION, "village_station", R.STATION),
    ],
    ids=["home-delivery-from-a-warehouse", "home-delivery-from-a-store", "thirty-minute-delivery",
         "click-and-collect-where-the-units-are", "pickup-at-another-store", "pickup-at-a-store-from-a-warehouse",
         "station-pickup-from-a-warehouse", "station-pickup-from-a-store"],
)
def test_the_delivery_mode_and_pickup_place_decide_the_route(
    delivery_mode: str, source_id: int, pickup_location_id: int | None, pickup_kind: str | None, route: Route
) -> None:
    assert route_for(delivery_mode, source_id, pickup_location_id, pickup_kind) is route


# --- out of the location's hands (rule 4) ---------------------------------------------------------------------------

OUT_OF_HAND_CASES = [
    (R.DOOR, S.PICKING, False),
    (R.DOOR, S.PACKED, False),
    (R.DOOR, S.HANDED_OVER, True),
    (R.DOOR, S.IN_TRANSIT, True),
    (R.DOOR, S.FAILED_DELIVERY, True),
    (R.DOOR, S.DELIVERED, True),
    (R.DOOR, S.RETURNED, True),  # went on from being handed over
    (R.DOOR, S.CANCELLED, False),
    (R.COLLECT_HERE, S.PICKING, False),
    (R.COLLECT_HERE, S.PACKED, False),
    (R.COLLECT_HERE, S.READY_FOR_PICKUP, True),
    (R.COLLECT_HERE, S.DELIVERED, True),
    (R.COLLECT_HERE, S.RETURNED, True),
    (R.COLLECT_HERE, S.CANCELLED, False),
    (R.COLLECT_ELSEWHERE, S.PICKING, False),
    (R.COLLECT_ELSEWHERE, S.PACKED, False),
    (R.COLLECT_ELSEWHERE, S.HANDED_OVER, True),
    (R.COLLECT_ELSEWHERE, S.IN_TRANSIT, True),
    (R.COLLECT_ELSEWHERE, S.READY_FOR_PICKUP, True),
    (R.COLLECT_ELSEWHERE, S.DELIVERED, True),
    (R.COLLECT_ELSEWHERE, S.RETURNED, True),
    (R.COLLECT_ELSEWHERE, S.CANCELLED, False),
    (R.STATION, S.PICKING, False),
    (R.STATION, S.PACKED, False),
    (R.STATION, S.HANDED_OVER, True),
    (R.STATION, S.IN_TRANSIT, True),
    (R.STATION, S.AT_STATION, True),
    (R.STATION, S.DELIVERED, True),
    (R.STATION, S.RETURNED, True),
    (R.STATION, S.CANCELLED, False),
    (R.RETURN, S.PACKED, False),  # a return is never part of an order being shipped
    (R.RETURN, S.HANDED_OVER, False),
    (R.RETURN, S.IN_TRANSIT, False),
    (R.RETURN, S.RETURNED, False),
]


@pytest.mark.parametrize(
    ("route", "status", "expected"), OUT_OF_HAND_CASES,
    ids=[f"{route.value}-{status.value}" for route, status, _ in OUT_OF_HAND_CASES],
)
def test_a_parcel_is_out_of_hand_once_handed_over_or_at_the_counter(
    route: Route, status: ShipmentStatus, expected: bool
) -> None:
    assert out_of_hand(route, status) is expected


def test_the_out_of_hand_table_covers_every_state_of_every_route() -> None:
    assert {(route, status) for route, status, _ in OUT_OF_HAND_CASES} == {
        (route, status) for route in ROUTES for status in ROUTE_STATES[route]
    }


# --- the steps of a whole-order move --------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("route", "status", "target", "steps"),
    [
        (R.DOOR, S.PICKING, S.HANDED_OVER, [S.PACKED, S.HANDED_OVER]),
        (R.DOOR, S.PICKING, S.DELIVERED, [S.PACKED, S.HANDED_OVER, S.IN_TRANSIT, S.DELIVERED]),
        (R.DOOR, S.IN_TRANSIT, S.DELIVERED, [S.DELIVERED]),
        (R.COLLECT_HERE, S.PICKING, S.READY_FOR_PICKUP, [S.PACKED, S.READY_FOR_PICKUP]),
        (R.COLLECT_HERE, S.PACKED, S.DELIVERED, [S.READY_FOR_PICKUP, S.DELIVERED]),
        (R.COLLECT_ELSEWHERE, S.PICKING, S.DELIVERED,
         [S.PACKED, S.HANDED_OVER, S.IN_TRANSIT, S.READY_FOR_PICKUP, S.DELIVERED]),
        (R.STATION, S.PACKED, S.DELIVERED, [S.HANDED_OVER, S.IN_TRANSIT, S.AT_STATION, S.DELIVERED]),
        (R.RETURN, S.PACKED, S.RETURNED, [S.HANDED_OVER, S.IN_TRANSIT, S.RETURNED]),
        (R.RETURN, S.IN_TRANSIT, S.RETURNED, [S.RETURNED]),
        (R.DOOR, S.HANDED_OVER, S.HANDED_OVER, []),  # already there
        (R.DOOR, S.DELIVERED, S.HANDED_OVER, []),  # past it
        (R.STATION, S.AT_STATION, S.HANDED_OVER, []),
        (R.RETURN, S.RETURNED, S.RETURNED, []),
    ],
    ids=["door-to-handed-over", "door-to-delivered", "door-last-step", "collect-here-to-the-counter",
         "collect-here-to-delivered", "collect-elsewhere-to-delivered", "station-to-delivered",
         "return-to-returned", "return-last-step", "already-there", "past-it", "station-past-handed-over",
         "return-already-returned"],
)
def test_a_whole_order_move_takes_each_happy_path_step_in_order(
    route: Route, status: ShipmentStatus, target: ShipmentStatus, steps: list[ShipmentStatus]
) -> None:
    assert steps_to(route, status, target) == steps


@pytest.mark.parametrize(
    ("route", "status", "target"),
    [
        (R.DOOR, S.PICKING, S.CANCELLED),
        (R.STATION, S.PACKED, S.CANCELLED),
        (R.DOOR, S.IN_TRANSIT, S.FAILED_DELIVERY),
        (R.DOOR, S.FAILED_DELIVERY, S.IN_TRANSIT),
        (R.DOOR, S.FAILED_DELIVERY, S.RETURNED),
        (R.COLLECT_HERE, S.READY_FOR_PICKUP, S.RETURNED),
        (R.STATION, S.AT_STATION, S.RETURNED),
    ],
    ids=["cancel-while-picking", "cancel-once-packed", "delivery-fails", "tried-again", "sent-back",
         "uncollected-at-the-store", "uncollected-at-the-station"],
)
def test_a_move_off_the_happy_path_is_one_step(route: Route, status: ShipmentStatus, target: ShipmentStatus) -> None:
    assert steps_to(route, status, target) == [target]


@pytest.mark.parametrize(
    ("route", "status", "target"),
    [
        (R.DOOR, S.HANDED_OVER, S.CANCELLED),  # out of the door: too late to cancel
        (R.DOOR, S.PACKED, S.RETURNED),
        (R.DOOR, S.PICKING, S.FAILED_DELIVERY),
        (R.DOOR, S.FAILED_DELIVERY, S.DELIVERED),  # must go back in transit first
        (R.DOOR, S.CANCELLED, S.DELIVERED),
        (R.COLLECT_HERE, S.PICKING, S.HANDED_OVER),  # not on this route at all
        (R.STATION, S.PICKING, S.READY_FOR_PICKUP),
        (R.RETURN, S.PACKED, S.CANCELLED),
        (R.RETURN, S.PICKING, S.RETURNED),
    ],
    ids=["cancel-after-handover", "return-before-handover", "fail-before-transit", "deliver-a-failed-parcel",
         "deliver-a-cancelled-parcel", "collect-here-handed-over", "station-at-a-store-counter", "cancel-a-return",
         "a-return-is-never-picked"],
)
def test_a_whole_order_move_refuses_an_illegal_step(route: Route, status: ShipmentStatus, target: ShipmentStatus
                                                    ) -> None:
    with pytest.raises(IllegalTransition) as raised:
        steps_to(route, status, target)
    assert raised.value.field == "to"
    assert raised.value.message.startswith(
        f"a {route.value} shipment that is {status.value} cannot become {target.value}; allowed: "
    )


# --- first expiry, first out ----------------------------------------------------------------------------------------

TODAY = date(2025, 6, 10)
YESTERDAY, TOMORROW = TODAY - timedelta(days=1), TODAY + timedelta(days=1)
JUNE_15, JUNE_20 = date(2025, 6, 15), date(2025, 6, 20)


def lot(lot_id: int, best_before: date, remaining: int) -> Lot:
    return Lot(lot_id, f"L{lot_id}", best_before, remaining)


@pytest.mark.parametrize(
    ("lots", "quantity", "untracked", "picks"),
    [
        ([lot(1, JUNE_20, 5), lot(2, JUNE_15, 5)], 3, 0, [LotPick(2, 3)]),
        ([lot(1, JUNE_20, 5), lot(2, JUNE_15, 5)], 7, 0, [LotPick(2, 5), LotPick(1, 2)]),
        ([lot(9, JUNE_15, 4), lot(3, JUNE_15, 4)], 6, 0, [LotPick(3, 4), LotPick(9, 2)]),
        ([lot(1, TODAY, 2)], 2, 0, [LotPick(1, 2)]),
        ([lot(1, YESTERDAY, 5), lot(2, JUNE_20, 5)], 3, 0, [LotPick(2, 3)]),
        ([lot(1, YESTERDAY, 5), lot(2, TODAY, 1), lot(3, TOMORROW, 5)], 4, 0, [LotPick(2, 1), LotPick(3, 3)]),
        ([lot(1, JUNE_15, 2)], 4, 5, [LotPick(1, 2), LotPick(None, 2)]),
        ([lot(1, JUNE_15, 5)], 5, 10, [LotPick(1, 5)]),
        ([lot(1, YESTERDAY, 5)], 3, 3, [LotPick(None, 3)]),
        ([], 4, 4, [LotPick(None, 4)]),
        ([lot(1, TOMORROW, 0), lot(2, JUNE_15, 3)], 2, 0, [LotPick(2, 2)]),
        ([lot(1, TODAY, 2), lot(2, JUNE_15, 0)], 3, 1, [LotPick(1, 2), LotPick(None, 1)]),
    ],
    ids=["earliest-best-before-first", "then-the-next-earliest", "a-tie-goes-to-the-lower-lot-id",
         "good-through-its-best-before-day", "expired-yesterday-is-skipped", "skips-expired-takes-today-then-later",
         "untracked-units-after-the-lots", "untracked-units-only-when-the-lots-fall-short",
         "untracked-units-when-every-lot-has-expired", "no-lots-at-all", "an-empty-lot-is-ignored",
         "exactly-every-good-unit"],
)
def test_packing_takes_the_earliest_best_before_first_and_never_an_expired_lot(
    lots: list[Lot], quantity: int, untracked: int, picks: list[LotPick]
) -> None:
    assert pick_first_expiry(lots, quantity, untracked, TODAY) == picks


@pytest.mark.parametrize(
    ("lots", "quantity", "untracked", "sku", "message"),
    [
        ([lot(1, YESTERDAY, 6), lot(2, TODAY, 2)], 5, 1, "APPLE-1KG",
         "only 3 of 5 units of APPLE-1KG here are within their best-before date (6 expired units are not sent); "
         "write them off"),
        ([lot(1, YESTERDAY, 4)], 1, 0, "",
         "only 0 of 1 units of this SKU here are within their best-before date (4 expired units are not sent); "
         "write them off"),
        ([lot(1, JUNE_15, 0), lot(2, JUNE_20, 2)], 3, 0, "MILK",
         "only 2 of 3 units of MILK here are within their best-before date (0 expired units are not sent); "
         "write them off"),
    ],
    ids=["expired-units-would-be-needed", "only-expired-units", "too-few-good-units-none-expired"],
)
def test_packing_is_refused_rather_than_send_expired_food(
    lots: list[Lot], quantity: int, untracked: int, sku: str, message: str
) -> None:
    with pytest.raises(ExpiredStock) as raised:
        pick_first_expiry(lots, quantity, untracked, TODAY, sku=sku)
    assert (raised.value.code, raised.value.field, raised.value.message) == ("expired_stock", "lots", message)


LOTS = st.lists(
    st.tuples(st.integers(-3, 3), st.integers(0, 6)), max_size=6
).map(lambda rows: [lot(n, TODAY + timedelta(days=days), remaining) for n, (days, remaining) in
                    enumerate(rows, start=1)])


@given(st.randoms(use_true_random=False), LOTS, st.integers(1, 25), st.integers(0, 5))
def test_picks_are_exactly_the_quantity_from_good_lots_earliest_first(random, lots, quantity, untracked) -> None:
    random.shuffle(lots)  # the order lots come in must not matter
    good = [lot for lot in lots if lot.best_before >= TODAY and lot.remaining > 0]
    good_units = sum(lot.remaining for lot in good) + untracked
    try:
        picks = pick_first_expiry(lots, quantity, untracked, TODAY)
    except ExpiredStock:
        assert good_units < quantity
        return
    assert good_units >= quantity
    assert sum(pick.quantity for pick in picks) == quantity
    assert all(pick.quantity > 0 for pick in picks)
    by_id = {lot.id: lot for lot in lots}
    lot_picks = [pick for pick in picks if pick.lot_id is not None]
    assert len({pick.lot_id for pick in lot_picks}) == len(lot_picks)  # each lot at most once
    for pick in lot_picks:
        assert by_id[pick.lot_id].best_before >= TODAY  # never an expired lot
        assert pick.quantity <= by_id[pick.lot_id].remaining  # never more than the lot has
    untracked_picks = [pick for pick in picks if pick.lot_id is None]
    assert sum(pick.quantity for pick in untracked_picks) <= untracked
    if untracked_picks:  # untracked units only after every good lot is used up
        assert picks[-1].lot_id is None and len(untracked_picks) == 1
        assert {pick.lot_id: pick.quantity for pick in lot_picks} == {lot.id: lot.remaining for lot in good}
    picked = {pick.lot_id for pick in lot_picks}
    for pick in lot_picks:  # first expiry first out: no unpicked good lot expires before a picked one
        for other in good:
            if other.id not in picked:
                assert by_id[pick.lot_id].best_before <= other.best_before
    assert [by_id[pick.lot_id].best_before for pick in lot_picks] == sorted(
        by_id[pick.lot_id].best_before for pick in lot_picks)


# --- a lot's label ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("code", "best_before"),
    [("A", TODAY), ("L-2025-06-A", JUNE_15), ("X" * 40, JUNE_20)],
    ids=["one-character", "a-supplier-code", "forty-characters"],
)
def test_a_lot_has_a_code_of_1_to_40_characters_and_a_best_before_date(code: str, best_before: date) -> None:
    check_lot(code, best_before)


@pytest.mark.parametrize(
    ("code", "best_before", "field", "message"),
    [
        ("", TODAY, "lot.code", "a lot code is 1 to 40 characters"),
        ("   ", TODAY, "lot.code", "a lot code is 1 to 40 characters"),
        ("X" * 41, TODAY, "lot.code", "a lot code is 1 to 40 characters"),
        ("L-2025-06-A", None, "lot.best_before", "a lot needs its best-before date"),
    ],
    ids=["empty-code", "blank-code", "41-characters", "no-best-before"],
)
def test_a_lot_without_a_code_or_best_before_date_is_refused(
    code: str, best_before: date | None, field: str, message: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        check_lot(code, best_before)
    assert (raised.value.field, raised.value.message) == (field, message)
