"""Inventory rules: locations, stock per SKU per location, reservations, movements.

Pure: no database, HTTP or clock. The same rules are enforced again by the database (CHECK constraints) and by
`unichannel check`.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Sequence
from datetime import date, datetime
from enum import StrEnum

from unichannel.errors import ExpiredStock, InsufficientStock, InvalidInput


class LocationKind(StrEnum):
    WAREHOUSE = "warehouse"
    STORE = "store"
    VILLAGE_STATION = "village_station"
    POPUP = "popup"


class MovementKind(StrEnum):
    RECEIVE = "receive"  # goods in from a supplier or production
    ADJUST = "adjust"  # a count correction or a write-off (negative), always with a reason
    TRANSFER_OUT = "transfer_out"
    TRANSFER_IN = "transfer_in"
    SHIP = "ship"  # units leave with an order
    RETURN = "return"  # units come back: a parcel unpacked or undeliverable, or goods a shopper returned


class ReservationStatus(StrEnum):
    ACTIVE = "active"  # units held for an order line; may lapse at expires_at
    ALLOCATED = "allocated"  # the paid line is assigned to this location's units; no longer lapses
    CONSUMED = "consumed"  # shipped or handed over: on_hand and reserved went down together
    RELEASED = "released"  # the order was cancelled; the units went back
    EXPIRED = "expired"  # the hold lapsed before payment; the units went back


LIVE_RESERVATION_STATUSES = (ReservationStatus.ACTIVE, ReservationStatus.ALLOCATED)

# The most units of one SKU one location may hold: far beyond any shelf or warehouse bin, and well inside the
# 32-bit columns on every database, so no count can ever overflow.
MAX_ON_HAND = 1_000_000_000


@dataclass(frozen=True, slots=True)
class StockLevel:
    on_hand: int
    reserved: int
    safety_stock: int

    @property
    def available(self) -> int:
        """Units a buyer may still reserve: on hand, less what is reserved and the safety stock kept back."""
        return max(0, self.on_hand - self.reserved - self.safety_stock)

    def check(self) -> None:
        """Invariant 1: 0 <= reserved <= on_hand, and nothing negative."""
        assert 0 <= self.reserved <= self.on_hand, self
        assert self.safety_stock >= 0, self


def check_quantity(quantity: int, maximum: int, *, field: str = "quantity") -> int:
    """A positive whole number of units no larger than `maximum`."""
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise InvalidInput("a quantity is a whole number", field=field)
    if quantity <= 0:
        raise InvalidInput("a quantity must be at least 1", field=field)
    if quantity > maximum:
        raise InvalidInput(f"a quantity may be at most {maximum}", field=field, details={"maximum": maximum})
    return quantity


def check_adjustment(level: StockLevel, delta: int, reason: str, maximum: int) -> None:
    """An adjustment changes on_hand by a non-zero delta, names its reason, and never takes away reserved units."""
    if delta == 0:
        raise InvalidInput("an adjustment changes stock by at least one unit", field="delta")
    if abs(delta) > maximum:
        raise InvalidInput(f"an adjustment may move at most {maximum} units", field="delta",
                           details={"maximum": maximum})
    if not reason.strip():
        raise InvalidInput("an adjustment needs a reason", field="reason")
    if level.on_hand + delta < level.reserved:
        raise InsufficientStock(
            f"only {level.on_hand - level.reserved} unreserved units are on hand; cannot remove {-delta}",
            field="delta", details={"available": level.on_hand - level.reserved, "asked": -delta},
        )


def check_coordinates(latitude: float, longitude: float) -> None:
    if not -90.0 <= latitude <= 90.0:
        raise InvalidInput("latitude must be between -90 and 90", field="latitude")
    if not -180.0 <= longitude <= 180.0:
        raise InvalidInput("longitude must be between -180 and 180", field="longitude")


def has_lapsed(status: str, expires_at: datetime | None, now: datetime) -> bool:
    """An active hold whose expiry has passed no longer holds anything, swept or not."""
    return status == ReservationStatus.ACTIVE and expires_at is not None and expires_at <= now


def order_locations_for_transfer(source_id: int, destination_id: int) -> tuple[int, int]:
    """Stock rows are always locked in location-id order, so two opposite transfers can never deadlock."""
    if source_id == destination_id:
        raise InvalidInput("a transfer needs two different locations", field="to_location_id")
    return (source_id, destination_id) if source_id < destination_id else (destination_id, source_id)


def check_lot(code: str, best_before: date | None) -> None:
    """A lot is named by the supplier's lot code and carries the best-before date printed on it."""
    if not code.strip() or len(code) > 40:
        raise InvalidInput("a lot code is 1 to 40 characters", field="lot.code")
    if best_before is None:
        raise InvalidInput("a lot needs its best-before date", field="lot.best_before")


@dataclass(frozen=True, slots=True)
class Lot:
    id: int
    code: str
    best_before: date
    remaining: int


@dataclass(frozen=True, slots=True)
class LotPick:
    lot_id: int | None  # None: units not tracked in lots
    quantity: int


def pick_first_expiry(lots: Sequence[Lot], quantity: int, untracked: int, today: date, *, sku: str = "") -> list[LotPick]:
    """First expiry, first out: `quantity` units of one SKU at one location from its lots, earliest best-before
    date first, none from a lot past its best-before date (a lot is good through its best-before day), then from
    the `untracked` units (on hand but in no lot). ExpiredStock if the good units do not reach `quantity`."""
    picks, wanted = [], quantity
    for lot in sorted(lots, key=lambda lot: (lot.best_before, lot.id)):
        if wanted == 0:
            break
        if lot.best_before < today or lot.remaining <= 0:
            continue
        take = min(wanted, lot.remaining)
        picks.append(LotPick(lot.id, take))
        wanted -= take
    if wanted and untracked > 0:
        take = min(wanted, untracked)
        picks.append(LotPick(None, take))
        wanted -= take
    if wanted:
        expired = sum(lot.remaining for lot in lots if lot.best_before < today)
        raise ExpiredStock(f"only {quantity - wanted} of {quantity} units of {sku or 'this SKU'} here are within "
                           f"their best-before date ({expired} expired units are not sent); write them off",
                           field="lots", details={"sku": sku or "", "fresh": quantity - wanted, "wanted": quantity,
                                                  "expired": expired})
    return picks
