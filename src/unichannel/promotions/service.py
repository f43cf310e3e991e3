"""Flash-sale use cases: create a sale, and apply a batch of buyers' requests in one short transaction.

A batch is the whole hot path's database work: under the sale's lock, claim the requests' idempotency keys, read the
pool's stock and the buyers' counts, decide who wins (`model.allocate_batch`), then one conditional UPDATE per stock
row used and bulk INSERTs of every hold, order, line, history row, outbox event and idempotency result. Nobody is
answered before it commits.

On PostgreSQL all of it is one statement, the function `flash_batch_apply` (migrations 0008 to 0011):
`apply_batch_at_once` calls it, and on a connection outside a transaction block it commits by itself, so the sale is
locked for the function's run and the commit only. It decides the batch once on what is committed before taking the
lock and writes the would-be winners' rows then, while another process's batch holds the lock; under the lock it
decides again and removes or moves the rows of any request the second decision placed differently. On SQLite
(`apply_batch`), Python decides and writes in the unit of work's transaction, which holds the database's write lock
from its first statement. Tests run the same cases through both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson

from unichannel import idempotency
from unichannel.catalog import repository as catalog_repository
from unichannel.db import pg_driver
from unichannel.errors import InvalidInput, NotFound, NotStarted, SoldOut
from unichannel.inventory import repository as inventory_repository
from unichannel.inventory.model import ReservationStatus, StockLevel
from unichannel.money import check_currency
from unichannel.orders.model import OrderStatus
from unichannel.promotions import repository
from unichannel.promotions.model import Ask, FlashSaleTerms, Outcome, allocate_batch, check_open, check_terms
from unichannel.uow import UnitOfWork


def terms_of(sale: dict[str, Any]) -> FlashSaleTerms:
    return FlashSaleTerms(sale["quantity"], sale["per_customer_limit"], sale["starts_at"], sale["ends_at"])


async def create_sale(
    uow: UnitOfWork,
    merchant_id: int,
    *,
    variant_id: int,
    location_ids: list[int],
    name: str,
    currency: str,
    price_minor: int,
    quantity: int,
    per_customer_limit: int,
    starts_at: datetime,
    ends_at: datetime,
) -> dict[str, Any]:
    """Creates a flash sale of one of the merchant's SKUs, sold from a pool of locations in the given order."""
    variant = await catalog_repository.get_variant(uow.conn, variant_id)
    if variant is None or variant["merchant_id"] != merchant_id:
        raise NotFound("no such SKU", field="variant_id")
    if not location_ids or len(set(location_ids)) != len(location_ids):
        raise InvalidInput("name each pool location once", field="locations")
    for location_id in location_ids:
        if await inventory_repository.get_location(uow.conn, location_id) is None:
            raise InvalidInput(f"no location {location_id}", field="locations")
    terms = FlashSaleTerms(quantity, per_customer_limit, starts_at, ends_at)
    check_terms(terms, uow.settings.max_stock_quantity)
    values = {
        "merchant_id": merchant_id, "variant_id": variant_id, "name": name, "currency": check_currency(currency),
        "price_minor": price_minor, "quantity": quantity, "sold": 0, "per_customer_limit": per_customer_limit,
        "starts_at": starts_at, "ends_at": ends_at, "created_at": uow.now(),
    }
    sale_id = await repository.insert_sale(uow.conn, values, location_ids)
    uow.emit("flash_sale.created", "flash_sale", sale_id, {"flash_sale_id": sale_id, "variant_id": variant_id})
    return {**values, "id": sale_id, "location_ids": location_ids}


@dataclass(slots=True)
class FlashRequest:
    """One buyer's ask as the coalescer holds it until its batch commits."""

    caller_key: str
    customer_id: int
    quantity: int
    channel: str  # online | store
    location_id: int | None  # the till's store for a store sale
    idempotency_key: str | None = None
    fingerprint: str = ""


@dataclass(slots=True)
class FlashResult:
    status_code: int
    payload: bytes  # the JSON answer, encoded once (on PostgreSQL, by the database)
    sale_exhausted: bool = False  # no online buyer can get a unit now: the process may answer sold_out from memory

    @property
    def body(self) -> dict[str, Any]:
        return orjson.loads(self.payload)


def _error(status: int, code: str, message: str, field: str | None = None, *, exhausted: bool = False) -> FlashResult:
    return FlashResult(status, orjson.dumps({"code": code, "message": message, "field": field}), exhausted)


SOLD_OUT = _error(409, "sold_out", "every unit of this sale is taken", "flash_sale_id", exhausted=True)
TOO_FEW_LEFT = _error(409, "sold_out", "fewer units of this sale are left than you asked for", "flash_sale_id")
KEY_REUSED = _error(409, "idempotency_key_reused", "this Idempotency-Key was used for a different request",
                    "Idempotency-Key")
SHELF_EMPTY = _error(409, "sold_out", "this store has no unit of the sale left on its shelf", "flash_sale_id")
LIMIT = _error(409, "limit_exceeded", "you already have as many units of this sale as one customer may buy", "quantity")


def _closed(sale: dict[str, Any], now: datetime) -> FlashResult | None:
    """The answer for every request while the sale is not open (not started, ended or sold out), else None."""
    try:
        check_open(terms_of(sale), sale["sold"], now)
    except (NotStarted, SoldOut) as closed:
        return _error(closed.status_code, closed.code, closed.message, closed.field,
                      exhausted=isinstance(closed, SoldOut))
    return None


def _pay_before(now: datetime, hold_minutes: int) -> tuple[datetime, str]:
    expires_at = now + timedelta(minutes=hold_minutes)
    return expires_at, expires_at.isoformat().replace("+00:00", "Z")


@dataclass(slots=True)
class _Claims:
    """Which requests own a fresh idempotency claim, and the answers already known for the rest."""

    owned: dict[int, int] = field(default_factory=dict)  # request index -> claim id
    known: dict[int, FlashResult] = field(default_factory=dict)  # request index -> replay or refusal
    same_as: dict[int, int] = field(default_factory=dict)  # request index -> index of the identical earlier request


def _keys_to_claim(batch: list[FlashRequest]) -> tuple[_Claims, dict[tuple[str, str], int]]:
    """The batch's idempotency keys, each once: answers for requests repeating a key within the batch, and the first
    request of each key, to be claimed."""
    claims = _Claims()
    first: dict[tuple[str, str], int] = {}
    for index, request in enumerate(batch):
        if request.idempotency_key is None:
            continue
        key = (request.caller_key, idempotency.check_key(request.idempotency_key))
        if key in first:
            earlier = batch[first[key]]
            if earlier.fingerprint == request.fingerprint:
                claims.same_as[index] = first[key]
            else:
                claims.known[index] = KEY_REUSED
            continue
        first[key] = index
    return claims, first


async def _settle_claims(
    uow: UnitOfWork, batch: list[FlashRequest], claims: _Claims, first: dict[tuple[str, str], int],
    claimed: dict[tuple[str, str], int],
) -> None:
    """A key the batch claimed is its own to record; a key claimed before answers with that request's result, or is
    refused if it was used for another request (one more round trip each: rare, a client retrying)."""
    for key, index in first.items():
        if key in claimed:
            claims.owned[index] = claimed[key]
            continue
        earlier = await idempotency.earlier(uow, *key)
        if earlier["request_hash"] != batch[index].fingerprint or earlier["status_code"] is None:
            claims.known[index] = KEY_REUSED
        else:
            claims.known[index] = FlashResult(earlier["status_code"], orjson.dumps(earlier["response"]))


async def apply_batch(uow: UnitOfWork, sale_id: int, batch: list[FlashRequest]) -> list[FlashResult]:
    """Decides and writes a whole batch in the caller's transaction; returns each request's answer, in order.

    Winners are the earliest requests that fit (see `allocate_batch`). Losers leave no trace (their idempotency
    claims are withdrawn, so a retry is decided afresh). If anything raises, the caller's rollback undoes it all.
    """
    now = uow.now()
    if uow.conn.dialect.name == "postgresql":
        results, placed = await apply_batch_at_once(
            await pg_driver(uow.conn), now, uow.settings.flash_hold_minutes, sale_id, batch)
        if placed:
            uow.outbox_written()
        return results
    claims, first = _keys_to_claim(batch)
    rows = [{"caller": k[0], "key": k[1], "request_hash": batch[i].fingerprint, "created_at": now}
            for k, i in first.items()]
    customers = sorted({request.customer_id for request in batch})
    state = await repository.read_batch_state(uow.conn, sale_id, customers, len(batch), rows)
    if state is None:
        raise NotFound("no such flash sale", field="flash_sale_id")
    await _settle_claims(uow, batch, claims, first, state.claimed)
    pending = [i for i in range(len(batch)) if i not in claims.known and i not in claims.same_as]
    results: dict[int, FlashResult] = dict(claims.known)
    closed = _closed(state.sale, now)
    if closed is not None:  # the whole batch gets the same answer
        results.update({i: closed for i in pending})
        pending = []
    winners = _decide(state, batch, pending, results)
    plan = _plan(uow, state, batch, winners, claims, now, results)
    plan.withdrawn = [claims.owned[i] for i in claims.owned if results[i].status_code != 201]
    await repository.write_batch(uow.conn, plan)
    if plan.events:
        uow.outbox_written()
    return [results[claims.same_as.get(i, i)] for i in range(len(batch))]


async def apply_batch_at_once(
    driver: Any, now: datetime, hold_minutes: int, sale_id: int, batch: list[FlashRequest]
) -> tuple[list[FlashResult], bool]:
    """PostgreSQL: the batch decided and written by one call of `flash_batch_apply` on `driver` (an asyncpg
    connection; outside a transaction block the call commits by itself). Returns each request's answer, in order, and
    whether any order was placed (so outbox events were written)."""
    claims, first = _keys_to_claim(batch)
    keyed = set(first.values())
    pending = [i for i in range(len(batch)) if i not in claims.known and i not in claims.same_as]
    expires_at, pay_before = _pay_before(now, hold_minutes)
    asks = [batch[i] for i in pending]
    columns = [
        [r.caller_key for r in asks], [r.customer_id for r in asks], [r.quantity for r in asks],
        [r.channel for r in asks], [r.location_id for r in asks],
        [r.idempotency_key if i in keyed else None for i, r in zip(pending, asks, strict=True)],
        [r.fingerprint for r in asks],
    ]
    applied = await repository.apply_batch_pg(driver, sale_id, now, expires_at, pay_before, columns)
    if applied is None:
        raise NotFound("no such flash sale", field="flash_sale_id")
    closed = _closed(applied.sale, now) if applied.sale is not None else None
    fixed = {"sold_out": SOLD_OUT if applied.exhausted else TOO_FEW_LEFT, "shelf_empty": SHELF_EMPTY, "limit": LIMIT,
             "key_reused": KEY_REUSED, "closed": closed}
    results: dict[int, FlashResult] = dict(claims.known)
    placed = False
    for index, kind, body, status in zip(pending, applied.kinds, applied.bodies, applied.statuses, strict=True):
        if kind == "placed":
            results[index] = FlashResult(201, body.encode())
            placed = True
        elif kind == "replay":
            results[index] = FlashResult(status, body.encode())
        else:
            results[index] = fixed[kind]
    return [results[claims.same_as.get(i, i)] for i in range(len(batch))], placed


def _decide(
    state: repository.BatchState, batch: list[FlashRequest], pending: list[int], results: dict[int, FlashResult]
) -> list[tuple[int, int]]:
    """Runs `allocate_batch` over the pending requests; fills in the losers' answers, returns (index, location)."""
    sale = state.sale
    available = [(loc, state.levels[loc].available) for loc in state.pool if loc in state.levels]
    decisions = allocate_batch(
        [Ask(batch[i].customer_id, batch[i].quantity, batch[i].location_id if batch[i].channel == "store" else None)
         for i in pending],
        campaign_left=sale["quantity"] - sale["sold"], available=available, bought=state.bought,
        per_customer_limit=sale["per_customer_limit"],
    )
    winners = [(i, d.location_id) for i, d in zip(pending, decisions, strict=True) if d.outcome is Outcome.RESERVED]
    left = dict(available)
    for index, location_id in winners:
        left[location_id] -= batch[index].quantity
    exhausted = (sale["quantity"] - sale["sold"] == sum(batch[i].quantity for i, _ in winners)
                 or not any(left.values()))
    for index, decision in zip(pending, decisions, strict=True):
        if decision.outcome is Outcome.LIMIT_EXCEEDED:
            results[index] = LIMIT
        elif decision.outcome is Outcome.SOLD_OUT:
            online = batch[index].channel != "store"
            results[index] = (SOLD_OUT if exhausted else TOO_FEW_LEFT) if online else SHELF_EMPTY
    return winners


def _plan(
    uow: UnitOfWork, state: repository.BatchState, batch: list[FlashRequest], winners: list[tuple[int, int]],
    claims: _Claims, now: datetime, results: dict[int, FlashResult],
) -> repository.BatchWrite:
    """Every row the winners need, with their ids already allocated, and each winner's answer."""
    sale = state.sale
    plan = repository.BatchWrite(sale_id=sale["id"], variant_id=sale["variant_id"], now=now)
    if not winners:
        return plan
    expires_at, pay_before = _pay_before(now, uow.settings.flash_hold_minutes)
    for index, location_id in winners:
        request = batch[index]
        plan.units_by_location[location_id] = plan.units_by_location.get(location_id, 0) + request.quantity
        plan.units_by_customer[request.customer_id] = (
            plan.units_by_customer.get(request.customer_id, 0) + request.quantity
        )
    placed = []
    for (index, location_id), hold_id, order_id in zip(winners, state.reservation_ids, state.order_ids, strict=False):
        request = batch[index]
        total = sale["price_minor"] * request.quantity
        plan.reservations.append({
            "id": hold_id, "merchant_id": sale["merchant_id"], "variant_id": sale["variant_id"],
            "location_id": location_id, "quantity": request.quantity, "status": ReservationStatus.ACTIVE.value,
            "expires_at": expires_at, "created_at": now, "updated_at": now})
        plan.orders.append({
            "id": order_id, "checkout_id": None, "customer_id": request.customer_id, "merchant_id": sale["merchant_id"],
            "channel": request.channel, "status": OrderStatus.PLACED.value, "currency": sale["currency"],
            "subtotal_minor": total, "delivery_minor": 0, "total_minor": total,
            "delivery_mode": "in_store" if request.channel == "store" else "home_delivery",
            "location_id": request.location_id, "address": None, "placed_by": request.caller_key,
            "flash_sale_id": sale["id"], "placed_at": now, "updated_at": now})
        plan.lines.append({
            "order_id": order_id, "merchant_id": sale["merchant_id"], "variant_id": sale["variant_id"],
            "sku": state.sku, "name": state.line_name, "quantity": request.quantity,
            "unit_price_minor": sale["price_minor"], "total_minor": total, "location_id": location_id,
            "reservation_id": hold_id})
        plan.history.append({"order_id": order_id, "from_status": None, "to_status": OrderStatus.PLACED.value,
                             "actor": request.caller_key, "note": f"flash sale {sale['id']}", "at": now})
        body = {
            "order_id": order_id, "flash_sale_id": sale["id"], "status": "placed", "customer_id": request.customer_id,
            "sku": state.sku, "quantity": request.quantity, "unit_price_minor": sale["price_minor"],
            "total_minor": total, "currency": sale["currency"], "location_id": location_id,
            "channel": request.channel, "pay_before": pay_before,
        }
        results[index] = FlashResult(201, orjson.dumps(body))
        placed.append({"order_id": order_id, "customer_id": request.customer_id, "channel": request.channel,
                       "location_id": request.location_id or location_id, "quantity": request.quantity,
                       "total_minor": total})
        if index in claims.owned:
            plan.recorded.append((claims.owned[index], f"order:{order_id}", 201, body))
    for location_id, units in sorted(plan.units_by_location.items()):
        level = state.levels[location_id]
        after = StockLevel(level.on_hand, level.reserved + units, level.safety_stock)
        after.check()
        plan.events.append({"topic": "stock.changed", "aggregate_type": "stock",
                            "aggregate_id": f"{sale['variant_id']}@{location_id}", "created_at": now, "payload": {
                                "merchant_id": sale["merchant_id"], "variant_id": sale["variant_id"],
                                "location_id": location_id, "on_hand": after.on_hand, "reserved": after.reserved,
                                "available": after.available}})
    # One event for the whole batch (not one per order): the same facts in one outbox row instead of hundreds.
    plan.events.append({"topic": "flash_sale.orders_placed", "aggregate_type": "flash_sale",
                        "aggregate_id": str(sale["id"]), "created_at": now, "payload": {
                            "flash_sale_id": sale["id"], "merchant_id": sale["merchant_id"],
                            "variant_id": sale["variant_id"], "currency": sale["currency"], "orders": placed}})
    return plan
