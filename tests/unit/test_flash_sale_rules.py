"""The flash-sale decision: who wins when a batch of buyers asks for the last units at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from unichannel.errors import InvalidInput, NotStarted, SoldOut
from unichannel.promotions.model import Ask, Decision, FlashSaleTerms, Outcome, allocate_batch, check_open, check_terms

R, S, L = Outcome.RESERVED, Outcome.SOLD_OUT, Outcome.LIMIT_EXCEEDED
OPEN = datetime(2026, 11, 10, 16, 0, tzinfo=UTC)
TERMS = FlashSaleTerms(quantity=100, per_customer_limit=2, starts_at=OPEN, ends_at=OPEN + timedelta(hours=1))


def outcomes(asks, *, left=100, available=((1, 100),), bought=None, limit=100):
    return [d.outcome for d in allocate_batch([Ask(*a) for a in asks], campaign_left=left, available=list(available),
                                              bought=bought or {}, per_customer_limit=limit)]


@pytest.mark.parametrize(
    ("asks", "left", "expected"),
    [
        ([(1, 3), (2, 2), (3, 2), (4, 1)], 5, [R, R, S, S]),
        ([(1, 3), (2, 3), (3, 2)], 5, [R, S, R]),
        ([(1, 6), (2, 5)], 5, [S, R]),
        ([(n, 1) for n in range(1, 8)], 5, [R] * 5 + [S] * 2),
        ([(1, 2), (2, 2), (3, 1), (4, 1)], 5, [R, R, R, S]),
    ],
    ids=["exact-fill-then-nothing", "later-smaller-ask-still-fits", "too-big-first-ask-loses", "one-each-until-gone",
         "mixed-sizes-to-the-last-unit"],
)
def test_earliest_asks_that_fit_win_and_later_smaller_ones_may_still_fit(asks, left, expected):
    assert outcomes(asks, left=left, available=((1, 1000),)) == expected


def test_the_pool_never_gives_more_than_a_location_holds():
    decisions = allocate_batch([Ask(1, 2), Ask(2, 2), Ask(3, 2)], campaign_left=100, available=[(7, 3), (8, 2)],
                               bought={}, per_customer_limit=10)
    assert decisions == [Decision(R, 7), Decision(R, 8), Decision(S)]


def test_a_line_takes_all_its_units_from_one_location():
    decisions = allocate_batch([Ask(1, 3)], campaign_left=100, available=[(7, 2), (8, 2)], bought={},
                               per_customer_limit=10)
    assert decisions == [Decision(S)]


def test_the_per_customer_limit_counts_earlier_purchases_and_the_batch_itself():
    assert outcomes([(1, 1), (1, 1), (2, 2), (2, 1)], bought={1: 1}, limit=2) == [R, L, R, L]


def test_a_till_sale_takes_its_unit_from_its_own_store_only():
    decisions = allocate_batch([Ask(1, 1, only_location_id=8), Ask(2, 1, only_location_id=8), Ask(3, 1)],
                               campaign_left=100, available=[(7, 5), (8, 1)], bought={}, per_customer_limit=5)
    assert decisions == [Decision(R, 8), Decision(S), Decision(R, 7)]


def test_a_till_sale_at_a_store_outside_the_pool_is_sold_out():
    decisions = allocate_batch([Ask(1, 1, only_location_id=9)], campaign_left=100, available=[(7, 5)], bought={},
                               per_customer_limit=5)
    assert decisions == [Decision(S)]


@pytest.mark.parametrize(
    ("now", "sold", "error"),
    [
        (OPEN - timedelta(microseconds=1), 0, NotStarted),
        (OPEN + timedelta(hours=1), 0, SoldOut),
        (OPEN, 100, SoldOut),
    ],
    ids=["a-microsecond-early", "at-the-end", "every-unit-taken"],
)
def test_a_sale_is_open_only_between_its_start_and_end_while_units_are_left(now, sold, error):
    with pytest.raises(error):
        check_open(TERMS, sold, now)


def test_a_sale_is_open_from_its_first_instant():
    check_open(TERMS, 99, OPEN)


@pytest.mark.parametrize(
    ("terms", "field"),
    [
        (FlashSaleTerms(10, 1, OPEN, OPEN), "ends_at"),
        (FlashSaleTerms(0, 1, OPEN, OPEN + timedelta(hours=1)), "quantity"),
        (FlashSaleTerms(10, 11, OPEN, OPEN + timedelta(hours=1)), "per_customer_limit"),
        (FlashSaleTerms(10, 0, OPEN, OPEN + timedelta(hours=1)), "per_customer_limit"),
    ],
    ids=["ends-when-it-starts", "no-units", "limit-above-quantity", "zero-limit"],
)
def test_sale_terms_are_checked(terms, field):
    with pytest.raises(InvalidInput) as refused:
        check_terms(terms, 10_000_000)
    assert refused.value.field == field
