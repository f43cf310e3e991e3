"""Source selection (fulfillment.model.select_sources): one case per rule, on real-world distances in Hangzhou.

The shopper's home is near West Lake; store A is 1 km away, store B 5 km, warehouse W1 15 km, warehouse W2 40 km.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from unichannel.errors import CannotFulfil
from unichannel.fulfillment.model import Line, Promise, Source, Stock, Strategy, select_sources

HOME = (30.2590, 120.1500)
TEE, MUG, CAP = 1, 2, 3
A, B, W1, W2 = 11, 12, 21, 22


def place(location_id: int, kind: str, km_north: float, **stock: int) -> Source:
    """A location `km_north` of the home (0.009 degrees of latitude is 1.0 km), with units per variant name."""
    variants = {"tee": TEE, "mug": MUG, "cap": CAP}
    return Source(location_id, kind, HOME[0] + km_north * 0.009, HOME[1],
                  {variants[name]: Stock(units) for name, units in stock.items()}, courier_capacity_left=5)


def world(**overrides: Source) -> list[Source]:
    base = {
        "a": place(A, "store", 1, tee=5, mug=5, cap=5),
        "b": place(B, "store", 5, tee=5, mug=5, cap=5),
        "w1": place(W1, "warehouse", 15, tee=50, mug=50, cap=50),
        "w2": place(W2, "warehouse", 40, tee=50, mug=50, cap=50),
    }
    return list((base | overrides).values())


def tee(quantity: int = 1, line_id: int = 1) -> Line:
    return Line(line_id, TEE, quantity)


HOME_NEAREST = {"promise": Promise.HOME_DELIVERY, "strategy": Strategy.NEAREST_FIRST, "destination": HOME}

CASES = [
    pytest.param([tee()], world(), HOME_NEAREST, {(A, 1, 1)},
                 id="the-nearest-location-that-has-the-whole-order-ships-it"),
    pytest.param([tee(), Line(2, MUG, 1)], world(a=place(A, "store", 1, tee=5), b=place(B, "store", 5, tee=5)),
                 HOME_NEAREST, {(W1, 1, 1), (W1, 2, 1)},
                 id="one-shipment-from-further-away-beats-two-from-nearby"),
    pytest.param([tee()], world(w2=replace(place(W2, "warehouse", 40, tee=50), priority=1)),
                 HOME_NEAREST | {"strategy": Strategy.PRIORITY_ORDER}, {(W2, 1, 1)},
                 id="priority-order-follows-the-merchants-ranking-over-distance"),
    pytest.param([tee()], world(), HOME_NEAREST | {"strategy": Strategy.KEEP_SHELVES_STOCKED}, {(W1, 1, 1)},
                 id="keep-shelves-stocked-ships-from-warehouses-before-stores"),
    pytest.param([tee(2)], world(a=replace(place(A, "store", 1, tee=3), shelf_minimum=2),
                                 b=replace(place(B, "store", 5, tee=4), shelf_minimum=2),
                                 w1=place(W1, "warehouse", 15), w2=place(W2, "warehouse", 40)),
                 HOME_NEAREST | {"strategy": Strategy.KEEP_SHELVES_STOCKED}, {(B, 1, 2)},
                 id="keep-shelves-stocked-never-takes-a-store-below-its-shelf-minimum"),
    pytest.param([tee(2)], world(a=Source(A, "store", HOME[0] + 0.009, HOME[1], {TEE: Stock(2, safety_stock=1)})),
                 HOME_NEAREST, {(B, 1, 2)}, id="safety-stock-is-never-promised"),
    pytest.param([tee(2)], world(a=Source(A, "store", HOME[0] + 0.009, HOME[1], {TEE: Stock(5, reserved=4)})),
                 HOME_NEAREST, {(B, 1, 2)}, id="units-already-reserved-are-never-promised"),
    pytest.param([tee(), Line(2, MUG, 1), Line(3, CAP, 1)],
                 world(a=place(A, "store", 1, tee=1), b=place(B, "store", 5, mug=1, cap=1),
                       w1=place(W1, "warehouse", 15, tee=1, mug=1), w2=place(W2, "warehouse", 40, cap=1)),
                 HOME_NEAREST, {(A, 1, 1), (B, 2, 1), (B, 3, 1)},
                 id="the-fewest-shipments-when-no-single-location-has-everything"),
    pytest.param([tee(5)], world(a=place(A, "store", 1, tee=2), b=place(B, "store", 5, tee=3),
                                 w1=place(W1, "warehouse", 15), w2=place(W2, "warehouse", 40)),
                 HOME_NEAREST, {(A, 1, 2), (B, 1, 3)},
                 id="a-line-is-split-only-when-no-location-has-all-of-it"),
    pytest.param([tee()], world(a=replace(place(A, "store", 1, tee=5), is_open=False)),
                 HOME_NEAREST | {"promise": Promise.EXPRESS}, CannotFulfil,
                 id="thirty-minute-delivery-never-from-a-closed-store-or-beyond-a-stores-radius"),
    pytest.param([tee()], world(), HOME_NEAREST | {"promise": Promise.EXPRESS}, {(A, 1, 1)},
                 id="thirty-minute-delivery-from-an-open-store-within-its-radius"),
    pytest.param([tee()], world(a=replace(place(A, "store", 1, tee=5), courier_capacity_left=0)),
                 HOME_NEAREST | {"promise": Promise.EXPRESS}, CannotFulfil,
                 id="thirty-minute-delivery-only-while-the-store-has-courier-capacity-this-hour"),
    pytest.param([tee(), Line(2, MUG, 1)],
                 world(a=place(A, "store", 1, tee=5), b=replace(place(B, "store", 2, mug=5), delivery_radius_km=5)),
                 HOME_NEAREST | {"promise": Promise.EXPRESS}, CannotFulfil,
                 id="thirty-minute-delivery-is-never-split-across-stores"),
    pytest.param([tee()], world(), HOME_NEAREST | {"promise": Promise.STORE_PICKUP, "pickup_location_id": B},
                 {(B, 1, 1)}, id="store-pickup-takes-the-units-off-that-stores-shelf-only"),
    pytest.param([tee()], world(b=place(B, "store", 5, mug=5)),
                 HOME_NEAREST | {"promise": Promise.STORE_PICKUP, "pickup_location_id": B}, CannotFulfil,
                 id="store-pickup-is-refused-when-that-store-lacks-the-units"),
    pytest.param([tee(200)], world(), HOME_NEAREST, CannotFulfil,
                 id="not-enough-units-anywhere-is-refused-naming-the-line"),
    pytest.param([tee()], world(), HOME_NEAREST | {"promise": Promise.STATION_PICKUP,
                                                   "destination": (HOME[0] + 0.35, HOME[1])}, {(W2, 1, 1)},
                 id="station-pickup-ships-from-the-location-nearest-the-station"),
    pytest.param([tee()], world(a=place(A, "store", 1), b=place(B, "store", 5), w1=place(W1, "warehouse", 15),
                                w2=place(W2, "warehouse", 40)), HOME_NEAREST, CannotFulfil,
                 id="no-stock-at-all-is-refused"),
]


@pytest.mark.parametrize(("lines", "sources", "how", "expected"), CASES)
def test_source_selection_rules(lines, sources, how, expected):
    if expected is CannotFulfil:
        with pytest.raises(CannotFulfil) as refused:
            select_sources(lines, sources, **how)
        assert refused.value.status_code == 409 and refused.value.code == "cannot_fulfil"
        return
    plan = select_sources(lines, sources, **how)
    assert {(p.location_id, p.line_id, p.quantity) for p in plan.picks} == expected


def test_a_refusal_for_lack_of_units_names_the_line():
    with pytest.raises(CannotFulfil) as refused:
        select_sources([tee(), Line(7, MUG, 999)], world(), **HOME_NEAREST)
    assert refused.value.field == "lines.7"


@given(
    st.lists(st.tuples(st.sampled_from([TEE, MUG, CAP]), st.integers(1, 6)), min_size=1, max_size=4),
    st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6), st.integers(0, 6)), min_size=4, max_size=4),
    st.sampled_from(list(Strategy)),
)
def test_a_plan_ships_exactly_each_line_never_more_than_a_location_can_sell(lines, stocks, strategy):
    lines = [Line(n, variant, quantity) for n, (variant, quantity) in enumerate(lines, start=1)]
    sources = [Source(location_id, kind, HOME[0] + km * 0.009, HOME[1],
                      {TEE: Stock(t), MUG: Stock(m), CAP: Stock(c)})
               for (location_id, kind, km), (t, m, c) in zip(
                   [(A, "store", 1), (B, "store", 5), (W1, "warehouse", 15), (W2, "warehouse", 40)], stocks)]
    try:
        plan = select_sources(lines, sources, promise=Promise.HOME_DELIVERY, strategy=strategy, destination=HOME)
    except CannotFulfil:
        wanted: dict[int, int] = {}
        for line in lines:
            wanted[line.variant_id] = wanted.get(line.variant_id, 0) + line.quantity
        assert any(sum(s.stock[v].sellable for s in sources) < n for v, n in wanted.items())
        return
    for line in lines:  # each line exactly, never a unit more or less
        assert sum(p.quantity for p in plan.picks if p.line_id == line.line_id) == line.quantity
    for source in sources:  # no location gives more than it can sell
        for variant in (TEE, MUG, CAP):
            given_units = sum(p.quantity for p in plan.picks if p.location_id == source.location_id
                              and p.variant_id == variant)
            assert given_units <= source.stock[variant].sellable
    if not plan.split_lines():  # fewest shipments: no smaller set of locations could serve every line whole
        assert all(len(plan.shipments) <= 1 or not _one_location_serves(lines, s) for s in sources)


def _one_location_serves(lines: list[Line], source: Source) -> bool:
    needed: dict[int, int] = {}
    for line in lines:
        needed[line.variant_id] = needed.get(line.variant_id, 0) + line.quantity
    return all(source.stock[v].sellable >= n for v, n in needed.items())
