"""PostgreSQL: a flash-sale batch writes its winners' rows before it takes the sale's lock (migration 0011), decided on
what was committed then; under the lock it decides again. Here another transaction holds the lock while the batch
writes, and changes the sale before letting go (as a batch of another server process would, or a delivery of stock):
the rows left must be exactly those of the decision under the lock, and each answer, stored key and row must agree.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import orjson
import pytest

from tests.conftest import OPENING
from tests.integration.flash import build_flash_world
from unichannel import idempotency
from unichannel.clock import FixedClock
from unichannel.db import create_engine
from unichannel.promotions import service
from unichannel.promotions.service import FlashRequest
from unichannel.settings import Settings
from unichannel.uow import UnitOfWorkFactory

pytestmark = pytest.mark.postgres

Change = Callable[[asyncpg.Connection, Any], Awaitable[None]]


async def _take(conn: asyncpg.Connection, world: Any, location: int, units: int) -> None:
    """What another batch committing `units` at `location` leaves behind (its holds and orders do not matter here)."""
    await conn.execute("UPDATE stock SET reserved = reserved + $3 WHERE variant_id = $1 AND location_id = $2",
                       world.variant_id, location, units)
    await conn.execute("UPDATE flash_sales SET sold = sold + $2 WHERE id = $1", world.sale_id, units)


async def _waiting_for_a_lock(conn: asyncpg.Connection) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        await conn.execute("SELECT pg_stat_clear_snapshot()")  # inside a transaction the view is read once otherwise
        if await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                               "AND query LIKE '%flash_batch_apply%'"):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the batch never waited for the sale's lock")


async def _race(url: str, *, warehouse: int, store: int, units: int, before: Change | None, meanwhile: Change,
                asks: list[tuple[int, int, str | None]]) -> dict[str, Any]:
    """Builds a sale (pool: warehouse, then store), applies `before`, then runs one batch of `asks` (buyer, quantity,
    key) while another transaction holds the sale's lock and applies `meanwhile`. Returns the answers and rows."""
    settings = Settings(database_url=url)
    factory = UnitOfWorkFactory(create_engine(settings), FixedClock(OPENING), settings)
    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    try:
        world = await build_flash_world(factory, OPENING, units=units, warehouse_units=warehouse, store_units=store,
                                        limit=2, buyers=3, tokens=False)
    finally:
        await factory.engine.dispose()
    other, driver = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
    try:
        if before is not None:
            await before(other, world)
        batch = []
        for buyer, quantity, key in asks:
            customer = world.buyers[buyer]
            request = FlashRequest(f"customer:{customer}", customer, quantity, "online", None, key)
            request.fingerprint = idempotency.request_hash("POST", "/flash-sales/1/orders", [customer, quantity])
            batch.append(request)
        holding = other.transaction()
        await holding.start()
        await other.execute("SELECT 1 FROM flash_sales WHERE id = $1 FOR NO KEY UPDATE", world.sale_id)
        applying = asyncio.ensure_future(service.apply_batch_at_once(driver, OPENING, 15, world.sale_id, batch))
        await _waiting_for_a_lock(other)
        await meanwhile(other, world)
        await holding.commit()
        results, _ = await applying

        lines = await other.fetch("SELECT o.id, o.customer_id, l.location_id, l.reservation_id FROM orders o "
                                  "JOIN order_lines l ON l.order_id = o.id ORDER BY o.id")
        return {
            "world": world,
            "answers": [(r.status_code, r.body) for r in results],
            "orders": [dict(row) for row in lines],
            "counts": {table: await other.fetchval(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed names
                       for table in ("orders", "order_lines", "reservations", "order_history")},
            "holds": sorted(tuple(r) for r in await other.fetch("SELECT id, location_id, quantity FROM reservations")),
            "keys": {r["key"]: (r["status_code"], r["resource"], orjson.loads(r["response"]) if r["response"] else None)
                     for r in await other.fetch("SELECT key, status_code, resource, response FROM idempotency_keys")},
            "reserved": dict(tuple(r) for r in await other.fetch(
                "SELECT location_id, reserved FROM stock WHERE variant_id = $1", world.variant_id)),
            "sold": await other.fetchval("SELECT sold FROM flash_sales WHERE id = $1", world.sale_id),
            "bought": dict(tuple(r) for r in await other.fetch(
                "SELECT customer_id, quantity FROM flash_sale_purchases")),
        }
    finally:
        await other.close()
        await driver.close()


def _agree(race: dict[str, Any]) -> None:
    """Every placed answer names an order whose line, hold and stored key say the same, and no other order exists."""
    placed = [body for status, body in race["answers"] if status == 201]
    by_id = {row["id"]: row for row in race["orders"]}
    assert sorted(by_id) == sorted(body["order_id"] for body in placed)
    assert race["counts"] == {"orders": len(placed), "order_lines": len(placed), "reservations": len(placed),
                              "order_history": len(placed)}
    for body in placed:
        row = by_id[body["order_id"]]
        assert (row["customer_id"], row["location_id"]) == (body["customer_id"], body["location_id"])
        assert (row["reservation_id"], body["location_id"], body["quantity"]) in race["holds"]


async def test_a_winner_whose_store_ran_out_meanwhile_is_placed_at_the_next_one(postgres_only_url):
    # Before the lock both asks fit the warehouse (3 left); meanwhile another batch takes 2 there: the first ask keeps
    # its rows, the second's move to the store.
    race = await _race(postgres_only_url, warehouse=3, store=5, units=8, before=None,
                       meanwhile=lambda conn, w: _take(conn, w, w.warehouse_id, 2),
                       asks=[(0, 1, "a"), (1, 1, "b")])
    world = race["world"]
    assert [(status, body["location_id"]) for status, body in race["answers"]] == [
        (201, world.warehouse_id), (201, world.store_id)]
    _agree(race)
    for key, (_, body) in zip("ab", race["answers"], strict=True):
        assert race["keys"][key] == (201, f"order:{body['order_id']}", body)  # stored as answered
    assert race["reserved"] == {world.warehouse_id: 3, world.store_id: 1}
    assert race["sold"] == 4 and race["bought"] == {world.buyers[0]: 1, world.buyers[1]: 1}


async def test_winners_who_lose_under_the_lock_leave_no_row_and_no_key(postgres_only_url):
    # Meanwhile another batch takes the last 3 units: the sale is sold out when the lock comes.
    race = await _race(postgres_only_url, warehouse=3, store=0, units=3, before=None,
                       meanwhile=lambda conn, w: _take(conn, w, w.warehouse_id, 3),
                       asks=[(0, 1, "a"), (1, 2, None)])
    assert [(status, body["code"]) for status, body in race["answers"]] == [(409, "sold_out"), (409, "sold_out")]
    _agree(race)
    assert race["orders"] == [] and race["keys"] == {} and race["bought"] == {}
    assert race["reserved"] == {race["world"].warehouse_id: 3} and race["sold"] == 3


async def test_a_buyer_who_reached_the_limit_meanwhile_is_refused_and_the_other_keeps_the_order(postgres_only_url):
    async def bought_two(conn: asyncpg.Connection, world: Any) -> None:
        await _take(conn, world, world.warehouse_id, 2)
        await conn.execute("INSERT INTO flash_sale_purchases (flash_sale_id, customer_id, quantity) VALUES ($1, $2, 2)",
                           world.sale_id, world.buyers[0])

    race = await _race(postgres_only_url, warehouse=10, store=0, units=10, before=None, meanwhile=bought_two,
                       asks=[(0, 1, "a"), (1, 1, "b")])
    world = race["world"]
    [(refused, why), (status, body)] = race["answers"]
    assert (refused, why["code"], status, body["location_id"]) == (409, "limit_exceeded", 201, world.warehouse_id)
    _agree(race)
    assert race["keys"] == {"b": (201, f"order:{body['order_id']}", body)}  # a's claim went with its rows
    assert race["bought"] == {world.buyers[0]: 2, world.buyers[1]: 1} and race["sold"] == 3


async def test_an_ask_refused_before_the_lock_wins_when_stock_arrives_meanwhile(postgres_only_url):
    # Before the batch another sold the warehouse's 2 units (the sale has 5); meanwhile 2 more are delivered there.
    async def delivered(conn: asyncpg.Connection, world: Any) -> None:
        await conn.execute("UPDATE stock SET on_hand = on_hand + 2 WHERE variant_id = $1 AND location_id = $2",
                           world.variant_id, world.warehouse_id)

    race = await _race(postgres_only_url, warehouse=2, store=0, units=5,
                       before=lambda conn, w: _take(conn, w, w.warehouse_id, 2), meanwhile=delivered,
                       asks=[(0, 1, "a"), (1, 1, "b"), (2, 1, None)])
    world = race["world"]
    assert [(status, body.get("location_id"), body.get("code")) for status, body in race["answers"]] == [
        (201, world.warehouse_id, None), (201, world.warehouse_id, None), (409, None, "sold_out")]
    _agree(race)
    for key, (_, body) in zip("ab", race["answers"][:2], strict=True):
        assert race["keys"][key] == (201, f"order:{body['order_id']}", body)
    assert race["reserved"] == {world.warehouse_id: 4} and race["sold"] == 4
