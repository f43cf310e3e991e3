"""Delivery promises: which delivery options a shopper is offered for a cart, each with its price and window.

Pure: no database, HTTP or clock (the time is passed in). An option is offered only when source selection
(`fulfillment.model.select_sources`) finds stock for the whole cart where that promise may come from, so no promise
is made that stock or distance cannot keep:

- **home delivery**: from warehouses (or stores acting as warehouses), arriving in `home_days` (1-3 days);
- **30-minute delivery**: from one open store within its delivery radius that still has courier capacity this hour;
- **store pickup** (click & collect): at each open store that has the whole cart on its shelf, ready
  `pickup_ready_minutes` after the order (or after it next opens);
- **village station pickup**: at each station whose service area covers the address, delivered with its next
  scheduled run that the order can still make (`station_cutoff_hours` before it); free over a threshold;
- **till to home** (buy in store, deliver home): a till sale shipped home from the till's own store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from unichannel.errors import CannotFulfil, InvalidInput
from unichannel.fulfillment.model import Line, Plan, Promise, Source, Strategy, select_sources
from unichannel.orders.model import distance_km


@dataclass(frozen=True, slots=True)
class OpeningHours:
    opens: time
    closes: time  # the same day; a store open past midnight is not modelled

    def is_open(self, local: datetime) -> bool:
        return self.opens <= local.time() < self.closes

    def next_opening(self, local: datetime) -> datetime:
        """Now if open; else today's opening if still ahead, or tomorrow's."""
        if self.is_open(local):
            return local
        today = local.replace(hour=self.opens.hour, minute=self.opens.minute, second=0, microsecond=0)
        return today if local < today else today + timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Station:
    location_id: int
    latitude: float
    longitude: float
    service_radius_km: float
    run_weekdays: tuple[int, ...]  # 0 = Monday
    run_time: time  # local time the run arrives at the station


@dataclass(frozen=True, slots=True)
class Terms:
    """The platform's delivery terms, from settings."""

    currency: str = "CNY"
    timezone: str = "Asia/Shanghai"
    home_fee_minor: int = 1000
    home_free_over_minor: int = 9900
    home_days: tuple[int, int] = (1, 3)
    express_fee_minor: int = 800
    express_minutes: int = 30
    pickup_ready_minutes: int = 60
    station_fee_minor: int = 300
    station_free_over_minor: int = 5000
    station_cutoff_hours: int = 12


@dataclass(frozen=True, slots=True)
class Option:
    promise: Promise
    location_id: int | None  # the store (express, pickup, till) or the station; None for home delivery
    fee_minor: int
    currency: str
    earliest: datetime  # UTC
    latest: datetime  # UTC
    plan: Plan = field(compare=False)


def open_now(source: Source, hours: OpeningHours | None, local: datetime) -> Source:
    """The source marked open or closed at `local` time (no hours: always open, e.g. a warehouse)."""
    return replace(source, is_open=hours.is_open(local) if hours else True)


def next_run(station: Station, local: datetime, cutoff_hours: int) -> datetime:
    """The station's first run at least `cutoff_hours` after `local` (its local time)."""
    earliest = local + timedelta(hours=cutoff_hours)
    for days in range(0, 15):
        day: date = (earliest + timedelta(days=days)).date()
        if day.weekday() in station.run_weekdays:
            run = datetime.combine(day, station.run_time, tzinfo=local.tzinfo)
            if run >= earliest:
                return run
    raise ValueError("a station runs at least once a week")


def _try(lines: Sequence[Line], sources: Sequence[Source], **how) -> Plan | None:  # noqa: ANN003
    try:
        return select_sources(lines, sources, **how)
    except CannotFulfil:
        return None


def delivery_options(
    lines: Sequence[Line], subtotal_minor: int, sources: Sequence[Source], hours: dict[int, OpeningHours],
    stations: Sequence[Station], *, now: datetime, terms: Terms, strategy: Strategy,
    address: tuple[float, float] | None = None, till_store_id: int | None = None, delivers_home: bool = False,
) -> list[Option]:
    """Every option the cart can have, cheapest and soonest first within each kind (see the module's rules).
    `address` is the delivery address's coordinates; `delivers_home` says there is an address to deliver to even
    without them (home delivery is then planned without distances; 30-minute delivery and stations need them)."""
    delivers_home = delivers_home or address is not None
    tz = ZoneInfo(terms.timezone)
    local = now.astimezone(tz)
    sources = [open_now(s, hours.get(s.location_id), local) for s in sources]
    options: list[Option] = []

    def offer(promise: Promise, location_id: int | None, fee: int, earliest: datetime, latest: datetime,
              plan: Plan) -> None:
        options.append(Option(promise, location_id, fee, terms.currency, earliest.astimezone(UTC),
                              latest.astimezone(UTC), plan))

    home_fee = 0 if subtotal_minor >= terms.home_free_over_minor else terms.home_fee_minor
    if till_store_id is not None:
        plan = _try(lines, sources, promise=Promise.STORE_PICKUP, strategy=strategy, destination=address,
                    pickup_location_id=till_store_id)
        if plan is not None and delivers_home:
            offer(Promise.HOME_DELIVERY, till_store_id, home_fee, local + timedelta(days=terms.home_days[0]),
                  local + timedelta(days=terms.home_days[1]), plan)
        return options
    if delivers_home:
        plan = _try(lines, sources, promise=Promise.HOME_DELIVERY, strategy=strategy, destination=address)
        if plan is not None:
            offer(Promise.HOME_DELIVERY, None, home_fee, local + timedelta(days=terms.home_days[0]),
                  local + timedelta(days=terms.home_days[1]), plan)
    if address is not None:
        plan = _try(lines, sources, promise=Promise.EXPRESS, strategy=Strategy.NEAREST_FIRST, destination=address)
        if plan is not None:
            offer(Promise.EXPRESS, plan.shipments[0], terms.express_fee_minor, local,
                  local + timedelta(minutes=terms.express_minutes), plan)
    for store in sorted((s for s in sources if s.kind == "store"),
                        key=lambda s: distance_km(s.latitude, s.longitude, *address) if address else s.location_id):
        plan = _try(lines, sources, promise=Promise.STORE_PICKUP, strategy=strategy, destination=address,
                    pickup_location_id=store.location_id)
        if plan is not None:
            store_hours = hours.get(store.location_id)
            ready = (store_hours.next_opening(local) if store_hours else local) + timedelta(
                minutes=terms.pickup_ready_minutes)
            offer(Promise.STORE_PICKUP, store.location_id, 0, ready, ready, plan)
    for station in stations:
        if address is None or distance_km(station.latitude, station.longitude, *address) > station.service_radius_km:
            continue
        plan = _try(lines, sources, promise=Promise.STATION_PICKUP, strategy=strategy,
                    destination=(station.latitude, station.longitude))
        if plan is not None:
            run = next_run(station, local, terms.station_cutoff_hours)
            fee = 0 if subtotal_minor >= terms.station_free_over_minor else terms.station_fee_minor
            offer(Promise.STATION_PICKUP, station.location_id, fee, run, run, plan)
    return options


@dataclass(frozen=True, slots=True)
class LocationTerms:
    """What a location's `details` say about delivering from it (each with a default)."""

    hours: OpeningHours | None  # None: no opening hours (a warehouse)
    delivery_radius_km: float
    express_orders_per_hour: int
    shelf_minimum: int
    priority: int
    service_radius_km: float  # a village station's service area
    run_weekdays: tuple[int, ...]
    run_time: time
    operator_name: str | None = None  # a village station's operator


STORE_HOURS = OpeningHours(time(9), time(22))
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _clock_time(value: object, field_name: str) -> time:
    try:
        hour, minute = str(value).split(":")
        return time(int(hour), int(minute))
    except ValueError:
        raise InvalidInput(f"{value!r} is not a time like 09:30", field=f"details.{field_name}") from None


def _number(details: dict, key: str, default: float, low: float, high: float, *, whole: bool = False) -> float:
    value = details.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or (whole and not isinstance(value, int)) \
            or not low <= value <= high:
        kind = "a whole number" if whole else "a number"
        raise InvalidInput(f"{key} is {kind} from {low:g} to {high:g}", field=f"details.{key}")
    return value


def location_terms(kind: str, details: dict) -> LocationTerms:
    """Reads (and checks) a location's delivery details: `opening_hours` {"opens": "09:00", "closes": "22:00"},
    `delivery_radius_km` (3), `express_orders_per_hour` (20), `shelf_minimum` (0), `priority` (100); a village
    station's `service_radius_km` (10), `runs` (["tue", "fri"]), `run_time` ("14:00") and `operator_name`.
    InvalidInput names the bad key."""
    hours = None
    if kind in ("store", "popup"):
        raw = details.get("opening_hours")
        hours = STORE_HOURS
        if raw is not None:
            if not isinstance(raw, dict):
                raise InvalidInput("opening_hours is {\"opens\": \"09:00\", \"closes\": \"22:00\"}",
                                   field="details.opening_hours")
            hours = OpeningHours(_clock_time(raw.get("opens"), "opening_hours.opens"),
                                 _clock_time(raw.get("closes"), "opening_hours.closes"))
            if hours.closes <= hours.opens:
                raise InvalidInput("a store closes after it opens", field="details.opening_hours")
    runs = details.get("runs", ["tue", "fri"])
    if not isinstance(runs, list) or not runs or any(day not in WEEKDAYS for day in runs):
        raise InvalidInput(f"runs is a list of days: {', '.join(WEEKDAYS)}", field="details.runs")
    operator = details.get("operator_name")
    if operator is not None and (not isinstance(operator, str) or not 0 < len(operator) <= 100):
        raise InvalidInput("operator_name is the station operator's name, up to 100 characters",
                           field="details.operator_name")
    return LocationTerms(
        operator_name=operator,
        hours=hours,
        delivery_radius_km=_number(details, "delivery_radius_km", 3.0, 0.1, 50),
        express_orders_per_hour=int(_number(details, "express_orders_per_hour", 20, 0, 10_000, whole=True)),
        shelf_minimum=int(_number(details, "shelf_minimum", 0, 0, 1_000_000, whole=True)),
        priority=int(_number(details, "priority", 100, 0, 1_000_000, whole=True)),
        service_radius_km=_number(details, "service_radius_km", 10.0, 0.1, 100),
        run_weekdays=tuple(sorted(WEEKDAYS.index(day) for day in runs)),
        run_time=_clock_time(details.get("run_time", "14:00"), "run_time"),
    )
