"""Source selection: which locations fulfil an order's lines, for the promise the shopper chose.

Pure: no database, HTTP or clock. The rules, in the order they apply:

1. **The promise decides who may ship.** Home delivery and village-station pickup ship from warehouses and from stores
   acting as warehouses; 30-minute delivery only from an open store within its delivery radius of the address that
   still has courier capacity this hour, and from one store (one courier, never split); store pickup only from the
   chosen store's own shelf (never split either).
2. **Only sellable units count**: on hand minus reserved minus safety stock; with the "keep shelves stocked" strategy
   a store also keeps its shelf minimum.
3. **The strategy ranks the locations**: nearest first (distance to the destination, haversine); the merchant's
   priority order (then distance); or keep shelves stocked (warehouses before stores, each nearest first).
4. **Fewest shipments first**: one location serving the whole order is always preferred, the best-ranked one;
   otherwise the smallest set of locations that serves every line whole (among sets of the same size, the one whose
   locations rank best, compared best first); a line is split across locations only when no set of up to
   `MAX_SHIPMENTS_WITHOUT_SPLIT` locations can serve every line whole, and then it is filled from the best-ranked
   locations, those already shipping first.
5. **Nothing is promised that stock cannot keep**: if the eligible locations together lack units of a line, the
   selection fails naming that line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import combinations

from unichannel.errors import CannotFulfil
from unichannel.orders.model import distance_km

MAX_SHIPMENTS_WITHOUT_SPLIT = 4  # sets up to this size are searched exhaustively (C(20, 4) = 4,845 sets at most)


class Promise(StrEnum):
    HOME_DELIVERY = "home_delivery"  # days, from a warehouse or a store acting as one
    EXPRESS = "express_30_min"  # half an hour, from a nearby store
    STORE_PICKUP = "store_pickup"  # click & collect, off that store's shelf
    STATION_PICKUP = "station_pickup"  # with the village station's scheduled run


class Strategy(StrEnum):
    NEAREST_FIRST = "nearest_first"
    PRIORITY_ORDER = "priority_order"
    KEEP_SHELVES_STOCKED = "keep_shelves_stocked"


@dataclass(frozen=True, slots=True)
class Stock:
    on_hand: int
    reserved: int = 0
    safety_stock: int = 0

    @property
    def sellable(self) -> int:
        return max(0, self.on_hand - self.reserved - self.safety_stock)


@dataclass(frozen=True, slots=True)
class Source:
    """A location as source selection sees it: where it is, what it can sell, and the merchant's view of it."""

    location_id: int
    kind: str  # warehouse | store
    latitude: float
    longitude: float
    stock: Mapping[int, Stock] = field(default_factory=dict)  # variant id -> stock
    priority: int = 100  # the merchant's ranking, lower first
    shelf_minimum: int = 0  # units a store keeps on its shelf under KEEP_SHELVES_STOCKED
    delivery_radius_km: float = 3.0  # 30-minute delivery reaches this far
    is_open: bool = True  # open now (30-minute delivery only from an open store)
    courier_capacity_left: int = 0  # 30-minute orders it can still take this hour


@dataclass(frozen=True, slots=True)
class Line:
    line_id: int
    variant_id: int
    quantity: int


@dataclass(frozen=True, slots=True)
class Pick:
    location_id: int
    line_id: int
    variant_id: int
    quantity: int


@dataclass(frozen=True, slots=True)
class Plan:
    picks: tuple[Pick, ...]

    @property
    def shipments(self) -> list[int]:
        """The locations that ship, each once, in the order of the picks."""
        return list(dict.fromkeys(pick.location_id for pick in self.picks))

    def split_lines(self) -> set[int]:
        seen: dict[int, set[int]] = {}
        for pick in self.picks:
            seen.setdefault(pick.line_id, set()).add(pick.location_id)
        return {line_id for line_id, locations in seen.items() if len(locations) > 1}


def eligible(sources: Sequence[Source], promise: Promise, destination: tuple[float, float] | None,
             pickup_location_id: int | None = None) -> list[Source]:
    """Rule 1: the locations that may fulfil this promise."""
    if promise is Promise.STORE_PICKUP:
        return [s for s in sources if s.location_id == pickup_location_id and s.kind == "store"]
    if promise is Promise.EXPRESS:
        if destination is None:
            return []
        return [s for s in sources if s.kind == "store" and s.is_open and s.courier_capacity_left > 0
                and distance_km(s.latitude, s.longitude, *destination) <= s.delivery_radius_km]
    return [s for s in sources if s.kind in ("warehouse", "store")]


def sellable(source: Source, variant_id: int, strategy: Strategy) -> int:
    """Rule 2: the units of a variant this location may promise."""
    stock = source.stock.get(variant_id)
    if stock is None:
        return 0
    keep = source.shelf_minimum if strategy is Strategy.KEEP_SHELVES_STOCKED and source.kind == "store" else 0
    return max(0, stock.sellable - keep)


def ranked(sources: Sequence[Source], strategy: Strategy, destination: tuple[float, float] | None) -> list[Source]:
    """Rule 3: the locations in the strategy's order of preference."""
    def distance(source: Source) -> float:
        return distance_km(source.latitude, source.longitude, *destination) if destination else 0.0

    def key(source: Source) -> tuple:
        if strategy is Strategy.PRIORITY_ORDER:
            return (source.priority, distance(source), source.location_id)
        if strategy is Strategy.KEEP_SHELVES_STOCKED:
            return (0 if source.kind == "warehouse" else 1, distance(source), source.location_id)
        return (distance(source), source.location_id)

    return sorted(sources, key=key)


def select_sources(
    lines: Sequence[Line], sources: Sequence[Source], *, promise: Promise, strategy: Strategy,
    destination: tuple[float, float] | None, pickup_location_id: int | None = None,
) -> Plan:
    """Which locations ship which units of each line (rules 1-5 of the module). CannotFulfil if stock cannot."""
    candidates = ranked(eligible(sources, promise, destination, pickup_location_id), strategy, destination)
    units = {(s.location_id, line.variant_id): sellable(s, line.variant_id, strategy)
             for s in candidates for line in lines}
    wanted: dict[int, int] = {}
    for line in lines:
        wanted[line.variant_id] = wanted.get(line.variant_id, 0) + line.quantity
    for line in lines:  # rule 5
        if sum(units[(s.location_id, line.variant_id)] for s in candidates) < wanted[line.variant_id]:
            raise CannotFulfil(f"not enough units of line {line.line_id} where this delivery can come from",
                               field=f"lines.{line.line_id}")
    single_only = promise in (Promise.EXPRESS, Promise.STORE_PICKUP)
    most = 1 if single_only else min(MAX_SHIPMENTS_WITHOUT_SPLIT, len(candidates))
    for size in range(1, most + 1):  # rule 4: fewest shipments, best-ranked sets first
        for chosen in combinations(candidates, size):
            picks = _whole_lines(lines, chosen, units)
            if picks is not None:
                return Plan(picks)
    if single_only:
        raise CannotFulfil(f"no single store can serve the whole order for {promise.value}", field="delivery")
    return Plan(_split(lines, candidates, units))


def _whole_lines(lines: Sequence[Line], chosen: Sequence[Source], units: dict[tuple[int, int], int]
                 ) -> tuple[Pick, ...] | None:
    """Every line whole from one of the chosen locations (the best-ranked that has it), each location used; or None."""
    left = dict(units)
    picks = []
    for line in lines:
        source = next((s for s in chosen if left[(s.location_id, line.variant_id)] >= line.quantity), None)
        if source is None:
            return None
        left[(source.location_id, line.variant_id)] -= line.quantity
        picks.append(Pick(source.location_id, line.line_id, line.variant_id, line.quantity))
    if {p.location_id for p in picks} != {s.location_id for s in chosen}:
        return None  # a smaller set serves it: that set is found (or was) on its own
    return tuple(picks)


def _split(lines: Sequence[Line], candidates: Sequence[Source], units: dict[tuple[int, int], int]
           ) -> tuple[Pick, ...]:
    """Lines filled from the best-ranked locations, those already shipping first; a line splits only if it must."""
    left = dict(units)
    shipping: list[int] = []
    picks = []
    for line in sorted(lines, key=lambda ln: -ln.quantity):
        whole = next((s for s in candidates if left[(s.location_id, line.variant_id)] >= line.quantity
                      and s.location_id in shipping), None) or next(
            (s for s in candidates if left[(s.location_id, line.variant_id)] >= line.quantity), None)
        order = [whole] if whole else sorted(candidates, key=lambda s: s.location_id not in shipping)
        needed = line.quantity
        for source in order:
            take = min(needed, left[(source.location_id, line.variant_id)])
            if take <= 0:
                continue
            left[(source.location_id, line.variant_id)] -= take
            picks.append(Pick(source.location_id, line.line_id, line.variant_id, take))
            if source.location_id not in shipping:
                shipping.append(source.location_id)
            needed -= take
            if needed == 0:
                break
    return tuple(sorted(picks, key=lambda p: (shipping.index(p.location_id), p.line_id)))
