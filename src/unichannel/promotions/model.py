"""Flash-sale rules: when a sale is open, and who wins when many buyers ask for the last units at once.

Pure: no database, HTTP or clock. `allocate_batch` is the decision a coalesced batch applies in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from unichannel.errors import InvalidInput, NotStarted, SoldOut


class Outcome(StrEnum):
    RESERVED = "reserved"
    SOLD_OUT = "sold_out"
    LIMIT_EXCEEDED = "limit_exceeded"


@dataclass(frozen=True, slots=True)
class FlashSaleTerms:
    quantity: int  # units the campaign offers in all
    per_customer_limit: int
    starts_at: datetime
    ends_at: datetime


def check_terms(terms: FlashSaleTerms, max_quantity: int) -> None:
    if terms.starts_at.tzinfo is None or terms.ends_at.tzinfo is None:
        raise InvalidInput("sale times carry a time zone (UTC)", field="starts_at")
    if terms.ends_at <= terms.starts_at:
        raise InvalidInput("a sale ends after it starts", field="ends_at")
    if not 1 <= terms.quantity <= max_quantity:
        raise InvalidInput(f"a sale offers 1 to {max_quantity} units", field="quantity")
    if not 1 <= terms.per_customer_limit <= terms.quantity:
        raise InvalidInput("the per-customer limit is at least 1 and at most the sale quantity", field="per_customer_limit")


def check_open(terms: FlashSaleTerms, sold: int, now: datetime) -> None:
    """Before the start: NotStarted. After the end, or once every unit is sold: SoldOut."""
    if now < terms.starts_at:
        raise NotStarted(f"the sale opens at {terms.starts_at.isoformat()}", field="flash_sale_id")
    if now >= terms.ends_at or sold >= terms.quantity:
        raise SoldOut("the sale is over: every unit is sold or the time is up", field="flash_sale_id")


@dataclass(frozen=True, slots=True)
class Ask:
    """One buyer's request in a batch, in arrival order."""

    customer_id: int
    quantity: int
    only_location_id: int | None = None  # a till sale hands over a unit from its own store's shelf


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    location_id: int | None = None


def allocate_batch(
    asks: list[Ask],
    *,
    campaign_left: int,
    available: list[tuple[int, int]],
    bought: dict[int, int],
    per_customer_limit: int,
) -> list[Decision]:
    """Decides a batch in arrival order: each ask wins if the buyer stays within the per-customer limit and the
    campaign and one pool location still have its units; otherwise it loses, and later, smaller asks may still fit.

    `available` is [(location_id, units)] in the pool's order of preference; a winning ask takes all its units from
    the first location that has them (a line ships from one location). Nothing here can oversell: every win is
    subtracted from the campaign, the location and the buyer's allowance before the next ask is decided.
    """
    left = campaign_left
    units = dict(available)
    order = [location_id for location_id, _ in available]
    spent = dict(bought)
    decisions = []
    for ask in asks:
        if spent.get(ask.customer_id, 0) + ask.quantity > per_customer_limit:
            decisions.append(Decision(Outcome.LIMIT_EXCEEDED))
            continue
        choices = order if ask.only_location_id is None else [ask.only_location_id] if ask.only_location_id in units else []
        location = next((loc for loc in choices if units[loc] >= ask.quantity), None)
        if ask.quantity > left or location is None:
            decisions.append(Decision(Outcome.SOLD_OUT))
            continue
        left -= ask.quantity
        units[location] -= ask.quantity
        spent[ask.customer_id] = spent.get(ask.customer_id, 0) + ask.quantity
        decisions.append(Decision(Outcome.RESERVED, location))
    return decisions
