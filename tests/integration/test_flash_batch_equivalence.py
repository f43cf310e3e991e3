"""The two implementations of a flash-sale batch give the same answers and leave the same rows.

On SQLite, Python decides and writes a batch (`service.apply_batch`); on PostgreSQL the function `flash_batch_apply`
does (migration 0008). Here the same random batches (mixed quantities, per-customer limits, till sales from a store
shelf and from a store outside the pool, repeated and reused Idempotency-Keys, the opening and the end) go through
both, from the same starting world, and every answer and every resulting row count and stock figure is compared.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.conftest import OPENING
from tests.integration.flash import build_flash_world
from unichannel import idempotency
from unichannel.clock import FixedClock
from unichannel.db import create_engine
from unichannel.events import outbox_events
from unichannel.idempotency import idempotency_keys
from unichannel.inventory.repository import reservations, stock
from unichannel.orders.repository import order_history, order_lines, orders
from unichannel.promotions import service
from unichannel.promotions.repository import flash_sale_purchases, flash_sales
from unichannel.promotions.service import FlashRequest
from unichannel.settings import Settings
from unichannel.uow import UnitOfWorkFactory

pytestmark = pytest.mark.postgres


def _batches(seed: int, buyers: list[int], store: int, other_store: int) -> list[tuple[int, list[FlashRequest]]]:
    """(seconds to advance the clock first, batch): ~40 batches of 1-8 requests."""
    rng = random.Random(seed)
    plan = []
    for n in range(40):
        batch = []
        for _ in range(rng.randint(1, 8)):
            customer = rng.choice(buyers)
            quantity = rng.choice([1, 1, 1, 2, 3])
            at_till = rng.random() < 0.25
            till = rng.choice([store, store, other_store]) if at_till else None
            caller = "clerk" if at_till else f"customer:{customer}"
            key = rng.choice([None, None, "a", "b", "c"])
            request = FlashRequest(caller, customer, quantity, "store" if at_till else "online", till, key)
            if key is not None:
                path = "/flash-sales/1/orders"
                request.fingerprint = idempotency.request_hash("POST", path, [customer, quantity])
            batch.append(request)
        # the first batch comes before the opening; the last after the end
        advance = 0 if n else -1
        plan.append((advance, batch))
    plan.append((3600, plan[1][1]))
    return plan


async def _run(url: str, seed: int) -> dict:
    settings = Settings(database_url=url)
    clock = FixedClock(OPENING)
    factory = UnitOfWorkFactory(create_engine(settings), clock, settings)
    try:
        world = await build_flash_world(factory, OPENING, units=14, warehouse_units=10, store_units=4, limit=4,
                                        buyers=5, tokens=False)
        answers = []
        clock.advance(seconds=-1)
        for advance, batch in _batches(seed, world.buyers, world.store_id, world.other_store_id):
            clock.advance(seconds=advance + 1)
            async with factory() as uow:
                results = await service.apply_batch(uow, world.sale_id, batch)
            for result in results:
                body = result.body
                body.pop("order_id", None)
                answers.append((result.status_code, body, result.sale_exhausted if result.status_code == 409 else None))
        async with factory.engine.connect() as conn:
            async def count(table) -> int:  # noqa: ANN001
                return (await conn.execute(select(func.count()).select_from(table))).scalar_one()

            rows = {t.name: await count(t) for t in (orders, order_lines, reservations, order_history,
                                                     idempotency_keys, outbox_events)}
            levels = sorted((await conn.execute(select(stock.c.location_id, stock.c.on_hand, stock.c.reserved))).all())
            sold = (await conn.execute(select(flash_sales.c.sold))).scalar_one()
            bought = sorted((await conn.execute(
                select(flash_sale_purchases.c.customer_id, flash_sale_purchases.c.quantity))).all())
            topics = (await conn.execute(select(outbox_events.c.topic, outbox_events.c.payload)
                                         .order_by(outbox_events.c.id))).all()
            stock_events = [r.payload for r in topics if r.topic == "stock.changed"]
            placed_events = [[{k: v for k, v in o.items() if k != "order_id"} for o in r.payload["orders"]]
                             for r in topics if r.topic == "flash_sale.orders_placed"]
            keys = sorted((await conn.execute(select(idempotency_keys.c.caller, idempotency_keys.c.key,
                                                     idempotency_keys.c.status_code))).all())
        return {"answers": answers, "rows": rows, "levels": levels, "sold": sold, "bought": bought,
                "stock_events": stock_events, "placed_events": placed_events, "keys": keys}
    finally:
        await factory.engine.dispose()


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_sqlite_and_postgresql_decide_and_write_every_batch_alike(
    seed: int, sqlite_template: Path, postgres_only_url: str, tmp_path: Path
):
    sqlite_path = tmp_path / "same.db"
    shutil.copy(sqlite_template, sqlite_path)
    in_python = await _run(f"sqlite+aiosqlite:///{sqlite_path}", seed)
    in_database = await _run(postgres_only_url, seed)

    outcomes = {(status, body.get("code")) for status, body, _ in in_python["answers"]}
    # the random batches reach every outcome, so the comparison covers each rule
    assert {(201, None), (409, "not_started"), (409, "sold_out"), (409, "limit_exceeded"),
            (409, "idempotency_key_reused")} <= outcomes
    assert in_python["rows"]["orders"] > 0 and in_python["sold"] > 0
    for name in ("answers", "rows", "levels", "sold", "bought", "stock_events", "placed_events", "keys"):
        assert in_database[name] == in_python[name], name
    units_in_orders = sum(body["quantity"] for status, body, _ in in_python["answers"] if status == 201)
    # replays answer 201 again without a new order: the units counted in orders never exceed the sale's 14
    assert in_python["sold"] <= 14 and in_python["sold"] <= units_in_orders
    assert sum(level[2] for level in in_python["levels"]) == in_python["sold"]
