"""Flash-sale use cases: create a sale, and apply a batch of buyers' requests in one short transaction.

`apply_batch` is the whole hot path's database work: one locked read of the sale, one read of the buyers' counts and
of the pool's stock, one conditional UPDATE per stock row used, and bulk INSERTs of every hold, checkout, order, line,
history row, outbox event and idempotency result. The caller commits (the unit of work) before anyone is answered.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, select, update

from unichannel import idempotency
from unichannel.catalog import repository as catalog_repository
from unichannel.errors import InvalidInput, NotFound, NotStarted, SoldOut
from unichannel.idempotency import idempotency_keys
from unichannel.inventory import repository as inventory_repository
from unichannel.inventory.model import ReservationStatus, StockLevel
from unichannel.inventory.repository import reservations, stock
from unichannel.money import check_currency
from unichannel.orders.model import OrderStatus
from unichannel.orders.repository import checkouts, order_history, order_lines, orders
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
    body: dict[str, Any]
    sale_exhausted: bool = False  # no online buyer can get a unit now: the process may answer sold_out from memory


def _error(status: int, code: str, message: str, field: str | None = None) -> FlashResult:
    return FlashResult(status, {"code": code, "message": message, "field": field})


SOLD_OUT = FlashResult(409, {"code": "sold_out", "message": "every unit of this sale is taken",
                              "field": "flash_sale_id"}, sale_exhausted=True)
SHELF_EMPTY = _error(409, "sold_out", "this store has no unit of the sale left on its shelf", "flash_sale_id")
LIMIT = _error(409, "limit_exceeded", "you already have as many units of this sale as one customer may buy", "quantity")


@dataclass(slots=True)
class _Claims:
    """Which requests own a fresh idempotency claim, and the answers already known for the rest."""

    owned: dict[int, int] = field(default_factory=dict)  # request index -> claim id
    known: dict[int, FlashResult] = field(default_factory=dict)  # request index -> replay or refusal
    same_as: dict[int, int] = field(default_factory=dict)  # request index -> index of the identical earlier request


async def _claim_keys(uow: UnitOfWork, batch: list[FlashRequest]) -> _Claims:
    claims = _Claims()
    first: dict[tuple[str, str], int] = {}
    for index, request in enumerate(batch):
        if request.idempotency_key is None:
            continue
        key = (request.caller_key, request.idempotency_key)
        if key in first:
            earlier = batch[first[key]]
            if earlier.fingerprint == request.fingerprint:
                claims.same_as[index] = first[key]
            else:
                claims.known[index] = _error(409, "idempotency_key_reused",
                                             "this Idempotency-Key was used for a different request", "Idempotency-Key")
            continue
        first[key] = index
    if not first:
        return claims
    rows = [
        {"caller": k[0], "key": k[1], "request_hash": batch[i].fingerprint, "created_at": uow.now()}
        for k, i in first.items()
    ]
    inserted = await idempotency.claim_many(uow, rows)
    for key, index in first.items():
        if key in inserted:
            claims.owned[index] = inserted[key]
            continue
        earlier = await idempotency.earlier(uow, *key)
        if earlier["request_hash"] != batch[index].fingerprint:
            claims.known[index] = _error(409, "idempotency_key_reused",
                                         "this Idempotency-Key was used for a different request", "Idempotency-Key")
        else:
            claims.known[index] = FlashResult(earlier["status_code"], earlier["response"])
    return claims


async def apply_batch(uow: UnitOfWork, sale_id: int, batch: list[FlashRequest]) -> list[FlashResult]:
    """Decides and writes a whole batch in the caller's transaction; returns each request's answer, in order.

    Winners are the earliest requests that fit (see `allocate_batch`). Losers leave no trace (their idempotency
    claims are withdrawn, so a retry is decided afresh). If anything raises, the caller's rollback undoes it all.
    """
    claims = await _claim_keys(uow, batch)
    sale = await repository.get_sale(uow.conn, sale_id, lock=True)
    if sale is None:
        raise NotFound("no such flash sale", field="flash_sale_id")
    now = uow.now()
    pending = [i for i in range(len(batch)) if i not in claims.known and i not in claims.same_as]
    results: dict[int, FlashResult] = dict(claims.known)
    try:
        check_open(terms_of(sale), sale["sold"], now)
    except (NotStarted, SoldOut) as closed:  # the whole batch gets the same answer
        answer = _error(closed.status_code, closed.code, closed.message, closed.field)
        answer.sale_exhausted = isinstance(closed, SoldOut)
        results.update({i: answer for i in pending})
        pending = []
    if pending:
        results.update(await _decide_and_write(uow, sale, batch, pending, claims, now))
    losers = [claims.owned[i] for i in claims.owned if results[i].status_code != 201]
    if losers:
        await uow.conn.execute(delete(idempotency_keys).where(idempotency_keys.c.id.in_(losers)))
    return [results[claims.same_as.get(i, i)] for i in range(len(batch))]


async def _decide_and_write(
    uow: UnitOfWork, sale: dict[str, Any], batch: list[FlashRequest], pending: list[int], claims: _Claims,
    now: datetime,
) -> dict[int, FlashResult]:
    conn = uow.conn
    pool = await repository.pool_of(conn, sale["id"])
    customers = sorted({batch[i].customer_id for i in pending})
    already = await repository.bought(conn, sale["id"], customers)
    level_query = select(stock.c.location_id, stock.c.on_hand, stock.c.reserved, stock.c.safety_stock).where(
        stock.c.variant_id == sale["variant_id"], stock.c.location_id.in_(pool)
    )
    if conn.dialect.name == "postgresql":
        level_query = level_query.with_for_update()
    levels = {r.location_id: StockLevel(r.on_hand, r.reserved, r.safety_stock) for r in await conn.execute(level_query)}
    available = [(loc, levels[loc].available) for loc in pool if loc in levels]
    decisions = allocate_batch(
        [Ask(batch[i].customer_id, batch[i].quantity, batch[i].location_id if batch[i].channel == "store" else None)
         for i in pending],
        campaign_left=sale["quantity"] - sale["sold"], available=available, bought=already,
        per_customer_limit=sale["per_customer_limit"],
    )
    results: dict[int, FlashResult] = {}
    winners = []
    for index, decision in zip(pending, decisions, strict=True):
        if decision.outcome is Outcome.RESERVED:
            winners.append((index, decision.location_id))
        else:
            if decision.outcome is Outcome.LIMIT_EXCEEDED:
                results[index] = LIMIT
            else:
                results[index] = SHELF_EMPTY if batch[index].channel == "store" else SOLD_OUT
    if winners:
        results.update(await _write_winners(uow, sale, batch, winners, claims, now))
    return results


async def _write_winners(
    uow: UnitOfWork, sale: dict[str, Any], batch: list[FlashRequest], winners: list[tuple[int, int]],
    claims: _Claims, now: datetime,
) -> dict[int, FlashResult]:
    conn = uow.conn
    variant = await catalog_repository.get_variant(conn, sale["variant_id"])
    product = await catalog_repository.get_product(conn, variant["product_id"])
    per_location: Counter[int] = Counter()
    for index, location_id in winners:
        per_location[location_id] += batch[index].quantity
    for location_id, units in sorted(per_location.items()):  # stock rows in location order: a fixed lock order
        level = await inventory_repository.try_reserve(conn, sale["variant_id"], location_id, units, now)
        if level is None:  # cannot happen under the locks taken above; refuse loudly rather than oversell
            raise RuntimeError(f"stock at location {location_id} changed under the batch lock")
        uow.emit("stock.changed", "stock", f"{sale['variant_id']}@{location_id}", {
            "merchant_id": sale["merchant_id"], "variant_id": sale["variant_id"], "location_id": location_id,
            "on_hand": level.on_hand, "reserved": level.reserved, "available": level.available})
    await repository.change_sold(conn, sale["id"], sum(per_location.values()))
    bought_now: Counter[int] = Counter()
    for index, _ in winners:
        bought_now[batch[index].customer_id] += batch[index].quantity
    await repository.add_purchases(conn, sale["id"], dict(bought_now))
    expires_at = now + timedelta(minutes=uow.settings.flash_hold_minutes)
    hold_ids = await _insert_returning(conn, reservations, [
        {"merchant_id": sale["merchant_id"], "variant_id": sale["variant_id"], "location_id": location_id,
         "quantity": batch[index].quantity, "status": ReservationStatus.ACTIVE.value, "expires_at": expires_at,
         "created_at": now, "updated_at": now}
        for index, location_id in winners
    ])
    checkout_ids = await _insert_returning(conn, checkouts, [
        {"customer_id": batch[index].customer_id, "currency": sale["currency"],
         "total_minor": sale["price_minor"] * batch[index].quantity, "created_at": now}
        for index, _ in winners
    ])
    order_rows = []
    for (index, location_id), checkout_id in zip(winners, checkout_ids, strict=True):
        request = batch[index]
        total = sale["price_minor"] * request.quantity
        order_rows.append({
            "checkout_id": checkout_id, "customer_id": request.customer_id, "merchant_id": sale["merchant_id"],
            "channel": request.channel, "status": OrderStatus.PLACED.value, "currency": sale["currency"],
            "subtotal_minor": total, "delivery_minor": 0, "total_minor": total,
            "delivery_mode": "in_store" if request.channel == "store" else "home_delivery",
            "location_id": request.location_id, "address": None, "placed_by": request.caller_key,
            "flash_sale_id": sale["id"], "placed_at": now, "updated_at": now,
        })
    order_ids = await _insert_returning(conn, orders, order_rows)
    name = product["name"] if variant["name"] in ("", product["name"]) else f"{product['name']} · {variant['name']}"
    await conn.execute(order_lines.insert(), [
        {"order_id": order_id, "merchant_id": sale["merchant_id"], "variant_id": sale["variant_id"],
         "sku": variant["sku"], "name": name, "quantity": batch[index].quantity,
         "unit_price_minor": sale["price_minor"], "total_minor": sale["price_minor"] * batch[index].quantity,
         "location_id": location_id, "reservation_id": hold_id}
        for (index, location_id), order_id, hold_id in zip(winners, order_ids, hold_ids, strict=True)
    ])
    await conn.execute(order_history.insert(), [
        {"order_id": order_id, "from_status": None, "to_status": OrderStatus.PLACED.value,
         "actor": batch[index].caller_key, "note": f"flash sale {sale['id']}", "at": now}
        for (index, _), order_id in zip(winners, order_ids, strict=True)
    ])
    results = {}
    recorded = []
    for (index, location_id), order_id, checkout_id in zip(winners, order_ids, checkout_ids, strict=True):
        request = batch[index]
        body = {
            "order_id": order_id, "checkout_id": checkout_id, "flash_sale_id": sale["id"], "status": "placed",
            "customer_id": request.customer_id, "sku": variant["sku"], "quantity": request.quantity,
            "unit_price_minor": sale["price_minor"], "total_minor": sale["price_minor"] * request.quantity,
            "currency": sale["currency"], "location_id": location_id, "channel": request.channel,
            "pay_before": expires_at.isoformat().replace("+00:00", "Z"),
        }
        results[index] = FlashResult(201, body)
        uow.emit("order.placed", "order", order_id, {
            "order_id": order_id, "merchant_id": sale["merchant_id"], "customer_id": request.customer_id,
            "channel": request.channel, "total_minor": body["total_minor"], "currency": sale["currency"],
            "location_id": request.location_id, "flash_sale_id": sale["id"],
            "lines": [{"variant_id": sale["variant_id"], "quantity": request.quantity}]})
        if index in claims.owned:
            recorded.append({"b_id": claims.owned[index], "b_resource": f"checkout:{checkout_id}", "b_status": 201,
                             "b_response": body})
    if recorded:
        await conn.execute(
            update(idempotency_keys).where(idempotency_keys.c.id == bindparam("b_id")).values(
                resource=bindparam("b_resource"), status_code=bindparam("b_status"), response=bindparam("b_response")),
            recorded,
        )
    return results


async def _insert_returning(conn, table, rows: list[dict[str, Any]]) -> list[int]:  # noqa: ANN001
    """Bulk INSERT returning the new ids in the order of `rows` (one round trip for the whole list)."""
    statement = table.insert().returning(table.c.id, sort_by_parameter_order=True)
    return list((await conn.execute(statement, rows)).scalars())
