"""Flash sales through the API and the coalescer, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import asyncpg
import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from unichannel import idempotency
from unichannel.check import run_checks
from unichannel.idempotency import idempotency_keys
from unichannel.inventory.repository import reservations
from unichannel.orders import service as orders_service
from unichannel.orders.repository import orders
from unichannel.promotions.api import SaleCache
from unichannel.promotions import service as promotions
from unichannel.promotions.repository import flash_sale_purchases, flash_sales
from unichannel.promotions.service import FlashRequest

from tests.integration.flash import PRICE, build_flash_world
from tests.integration.world import count, stock_of


async def buy(env, world, who: str, quantity: int = 1, key: str | None = None, **params):
    headers = world.auth(who)
    if key is not None:
        headers["Idempotency-Key"] = key
    return await env.client.post(f"/api/v1/flash-sales/{world.sale_id}/orders", json={"quantity": quantity},
                                 headers=headers, params=params)


async def sale_row(env, world) -> dict:
    async with env.uow() as uow:
        return dict((await uow.conn.execute(select(flash_sales).where(flash_sales.c.id == world.sale_id)))
                    .mappings().one())


async def test_an_order_before_the_opening_is_refused_as_not_started(env):
    world = await build_flash_world(env.uow, env.clock.now(), units=5, opens_in=timedelta(seconds=1))
    early = await buy(env, world, "buyer0")
    assert early.status_code == 409 and early.json()["code"] == "not_started"
    env.clock.advance(seconds=1)
    on_time = await buy(env, world, "buyer0")
    assert on_time.status_code == 201, on_time.text
    body = on_time.json()
    assert (body["quantity"], body["unit_price_minor"], body["total_minor"], body["status"]) == (1, PRICE, PRICE, "placed")
    assert await count(env, orders) == 1


async def test_after_the_end_the_sale_is_sold_out(env):
    world = await build_flash_world(env.uow, env.clock.now(), units=5)
    env.clock.advance(hours=1)
    late = await buy(env, world, "buyer0")
    assert late.status_code == 409 and late.json()["code"] == "sold_out"
    assert await count(env, orders) == 0


async def test_a_flash_order_holds_stock_at_the_flash_price_and_counts_toward_the_sale(env):
    world = await build_flash_world(env.uow, env.clock.now(), units=5)
    placed = await buy(env, world, "buyer0", quantity=2, key="grab-1")
    assert placed.status_code == 201
    order = (await env.client.get(f"/api/v1/orders/{placed.json()['order_id']}", headers=world.auth("buyer0"))).json()
    assert (order["total_minor"], order["lines"][0]["unit_price_minor"], order["channel"]) == (2 * PRICE, PRICE, "online")
    assert await stock_of(env, world.variant_id, world.warehouse_id) == (5, 2)
    assert (await sale_row(env, world))["sold"] == 2
    view = (await env.client.get(f"/api/v1/flash-sales/{world.sale_id}")).json()
    assert (view["left"], view["state"]) == (3, "open")


async def test_the_per_customer_limit_holds_across_requests(env):
    world = await build_flash_world(env.uow, env.clock.now(), units=10, limit=2)
    assert (await buy(env, world, "buyer0")).status_code == 201
    assert (await buy(env, world, "buyer0")).status_code == 201
    third = await buy(env, world, "buyer0")
    assert third.status_code == 409 and third.json() == {
        "code": "limit_exceeded", "message": third.json()["message"], "field": "quantity"}
    assert (await buy(env, world, "buyer1", quantity=3)).json()["code"] == "limit_exceeded"
    assert await count(env, orders) == 2


async def test_a_sold_out_sale_answers_sold_out_and_writes_nothing_more(env):
    world = await build_flash_world(env.uow, env.clock.now(), units=2, limit=2)
    assert (await buy(env, world, "buyer0", quantity=2)).status_code == 201
    gone = await buy(env, world, "buyer1")
    assert gone.status_code == 409 and gone.json()["code"] == "sold_out"
    assert await count(env, orders) == 1 and await count(env, reservations) == 1
    assert (await env.client.get(f"/api/v1/flash-sales/{world.sale_id}")).json()["state"] == "sold_out"


async def test_an_ask_too_big_for_the_last_units_does_not_make_the_sale_look_sold_out(env):
    world = await build_flash_world(env.uow, env.clock.now(), units=3, limit=3)
    assert (await buy(env, world, "buyer0", quantity=2)).status_code == 201
    too_big = await buy(env, world, "buyer1", quantity=2)
    assert (too_big.status_code, too_big.json()["code"]) == (409, "sold_out")
    assert "fewer units" in too_big.json()["message"]
    last = await buy(env, world, "buyer2")  # the same second: the process's copy of the sale must not say sold out
    assert last.status_code == 201, last.text
    gone = await buy(env, world, "buyer1")
    assert (gone.status_code, gone.json()["code"]) == (409, "sold_out")
    assert await count(env, orders) == 2 and (await sale_row(env, world))["sold"] == 3


async def test_a_batch_decides_mixed_quantities_exactly_in_arrival_order(env):
    world = await build_flash_world(env.uow, env.clock.now(), units=5, limit=5, buyers=4, tokens=False)
    asks = [3, 3, 2, 1]
    batch = [FlashRequest(f"customer:{c}", c, q, "online", None) for c, q in zip(world.buyers, asks, strict=True)]
    async with env.uow() as uow:
        results = await promotions.apply_batch(uow, world.sale_id, batch)
    assert [r.status_code for r in results] == [201, 409, 201, 409]
    assert [r.body.get("quantity") for r in results if r.status_code == 201] == [3, 2]
    assert await stock_of(env, world.variant_id, world.warehouse_id) == (5, 5)
    assert (await sale_row(env, world))["sold"] == 5


async def test_concurrent_buyers_are_coalesced_and_never_oversold(env):
    world = await build_flash_world(env.uow, env.clock.now(), units=30, limit=1, buyers=80)
    responses = await asyncio.gather(*(buy(env, world, f"buyer{n}", key=f"k{n}") for n in range(80)))
    outcomes = Counter((r.status_code, r.json().get("code")) for r in responses)
    assert outcomes == {(201, None): 30, (409, "sold_out"): 50}
    assert await count(env, orders) == 30
    assert await stock_of(env, world.variant_id, world.warehouse_id) == (30, 30)
    assert (await sale_row(env, world))["sold"] == 30
    assert await count(env, idempotency_keys) == 30  # the losers' claims were withdrawn: a retry is decided afresh
    stats = env.app.state.coalescer.stats
    # every winner went through a batch; losers arriving after a batch found the sale exhausted were answered from
    # the process's copy of the sale, without one
    assert 30 <= stats.requests <= 80 and stats.batches < stats.requests and stats.largest_batch > 1
    assert (await run_checks(env.app.state.engine)).violations == []


async def test_one_key_sent_twice_at_once_makes_one_order(env):
    world = await build_flash_world(env.uow, env.clock.now(), units=10, limit=5)
    first, second = await asyncio.gather(buy(env, world, "buyer0", 2, key="same"), buy(env, world, "buyer0", 2, key="same"))
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    reused = await buy(env, world, "buyer0", 1, key="same")
    assert reused.status_code == 409 and reused.json()["code"] == "idempotency_key_reused"
    assert await count(env, orders) == 1 and (await sale_row(env, world))["sold"] == 2


async def _fail_order_history(env, fail: bool) -> None:
    """The fault: a trigger refusing rows of order_history, one of the last tables a batch writes, so the batch's
    transaction fails after its holds, orders and lines are written."""
    async with env.uow() as uow:
        postgres = uow.conn.dialect.name == "postgresql"
        if not fail:
            await uow.conn.exec_driver_sql("DROP TRIGGER injected_fault" + (" ON order_history" if postgres else ""))
            if postgres:
                await uow.conn.exec_driver_sql("DROP FUNCTION injected_fault()")
        elif postgres:
            await uow.conn.exec_driver_sql(
                "CREATE FUNCTION injected_fault() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'injected: the database failed mid-batch'; END $$")
            await uow.conn.exec_driver_sql(
                "CREATE TRIGGER injected_fault BEFORE INSERT ON order_history EXECUTE FUNCTION injected_fault()")
        else:
            await uow.conn.exec_driver_sql(
                "CREATE TRIGGER injected_fault BEFORE INSERT ON order_history "
                "BEGIN SELECT RAISE(ABORT, 'injected: the database failed mid-batch'); END")


@pytest.mark.parametrize("same_request", [False, True], ids=["another-request", "the-same-request"])
async def test_a_key_another_transaction_holds_is_waited_for_then_answered_as_that_request_ended(env, same_request):
    """PostgreSQL: a batch claiming a key that another transaction (a checkout, or the same order sent to another
    server process) has taken waits for it; once it commits, the flash request with that key is answered as that one
    was (or refused, if it asked something else), and nothing of it is written. Until then, it is not answered."""
    if not env.settings.database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: a second transaction cannot hold a key meanwhile")
    world = await build_flash_world(env.uow, env.clock.now(), units=5)
    caller = f"customer:{world.buyers[0]}"
    fingerprint = idempotency.request_hash("POST", f"/flash-sales/{world.sale_id}/orders", [world.buyers[0], 1])
    first_answer = {"order_id": 424242, "status": "placed"}
    other = await asyncpg.connect(env.settings.database_url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        holding = other.transaction()
        await holding.start()
        await other.execute(
            "INSERT INTO idempotency_keys (caller, key, request_hash, resource, status_code, response, created_at) "
            "VALUES ($1, 'held', $2, 'order:424242', 201, $3::jsonb, now())",
            caller, fingerprint if same_request else "another request", orjson.dumps(first_answer).decode())
        waiting = asyncio.ensure_future(buy(env, world, "buyer0", key="held"))
        done, _ = await asyncio.wait([waiting], timeout=0.5)
        assert not done  # the batch waits on the uncommitted key
        await holding.commit()
        answer = await waiting
    finally:
        await other.close()
    if same_request:
        assert (answer.status_code, answer.json()) == (201, first_answer)
    else:
        assert (answer.status_code, answer.json()["code"]) == (409, "idempotency_key_reused")
    assert await count(env, orders) == 0 and (await sale_row(env, world))["sold"] == 0
    assert await count(env, idempotency_keys) == 1  # the other request's record, and nothing of this one
    assert await stock_of(env, world.variant_id, world.warehouse_id) == (5, 0)
    assert (await buy(env, world, "buyer0", key="fresh")).status_code == 201


async def test_a_failed_batch_fails_every_waiter_and_writes_nothing(env):
    world = await build_flash_world(env.uow, env.clock.now(), units=10, limit=1, buyers=6)
    await _fail_order_history(env, True)
    try:
        responses = await asyncio.gather(*(buy(env, world, f"buyer{n}", key=f"f{n}") for n in range(6)))
    finally:
        await _fail_order_history(env, False)
    stats = env.app.state.coalescer.stats
    assert stats.failed_batches >= 1 and stats.requests == 0  # requests counts those of committed batches only
    assert [(r.status_code, r.json()["code"]) for r in responses] == [(503, "batch_failed")] * 6
    assert await count(env, orders) == 0 and await count(env, reservations) == 0
    assert await count(env, flash_sale_purchases) == 0 and await count(env, idempotency_keys) == 0
    assert await stock_of(env, world.variant_id, world.warehouse_id) == (10, 0)
    assert (await sale_row(env, world))["sold"] == 0
    retried = await buy(env, world, "buyer0", key="f0")
    assert retried.status_code == 201
    assert await count(env, orders) == 1 and (await sale_row(env, world))["sold"] == 1


async def test_a_participating_store_sells_from_its_own_shelf_at_the_same_price(env):
    world = await build_flash_world(env.uow, env.clock.now(), units=5, warehouse_units=5, store_units=1, limit=2)
    member = world.buyers[0]
    till = await buy(env, world, "clerk", customer_id=member)
    assert till.status_code == 201, till.text
    body = till.json()
    assert (body["channel"], body["location_id"], body["unit_price_minor"]) == ("store", world.store_id, PRICE)
    assert await stock_of(env, world.variant_id, world.store_id) == (1, 1)
    empty_shelf = await buy(env, world, "clerk", customer_id=world.buyers[1])
    assert empty_shelf.status_code == 409 and empty_shelf.json()["code"] == "sold_out"
    online = await buy(env, world, "buyer0")
    assert online.status_code == 201 and online.json()["location_id"] == world.warehouse_id
    assert (await buy(env, world, "buyer0")).json()["code"] == "limit_exceeded"  # the till sale counted too


async def test_a_store_outside_the_sale_cannot_sell_it(env):
    world = await build_flash_world(env.uow, env.clock.now(), units=5)
    refused = await buy(env, world, "other_clerk", customer_id=world.buyers[0])
    assert refused.status_code == 409 and refused.json()["code"] == "not_participating"
    assert await count(env, orders) == 0


async def test_a_stale_sale_copy_is_read_again_once_however_many_buyers_arrive(env, monkeypatch):
    world = await build_flash_world(env.uow, env.clock.now(), units=100, limit=1, buyers=20)
    assert (await buy(env, world, "buyer0")).status_code == 201  # the process now holds a copy of the sale
    reads = []
    real_read = SaleCache._read

    async def counted(self, request, sale_id):
        reads.append(sale_id)
        return await real_read(self, request, sale_id)

    monkeypatch.setattr(SaleCache, "_read", counted)
    env.clock.advance(seconds=2)  # the copy is stale
    answers = await asyncio.gather(*(buy(env, world, f"buyer{n}") for n in range(1, 20)))
    assert [a.status_code for a in answers] == [201] * 19
    assert reads == [world.sale_id]  # one read for nineteen buyers, not nineteen
    assert await count(env, orders) == 20


async def test_a_cancelled_or_lapsed_flash_order_gives_its_units_back_to_the_sale_and_the_buyer(env):
    world = await build_flash_world(env.uow, env.clock.now(), units=2, limit=1)
    kept = (await buy(env, world, "buyer0")).json()["order_id"]
    cancelled = (await buy(env, world, "buyer1")).json()["order_id"]
    assert (await buy(env, world, "buyer2")).json()["code"] == "sold_out"
    assert (await env.client.post(f"/api/v1/orders/{cancelled}/cancel", headers=world.auth("buyer1"))).status_code == 200
    assert (await sale_row(env, world))["sold"] == 1
    env.clock.advance(seconds=2)  # past the in-process sale cache: its stale copy says sold out, and must not answer
    again = await buy(env, world, "buyer1")
    assert again.status_code == 201, again.text
    env.clock.advance(minutes=env.settings.flash_hold_minutes, seconds=1)
    async with env.uow() as uow:
        lapsed = await orders_service.cancel_lapsed_orders(uow)
    assert sorted(lapsed) == sorted([kept, again.json()["order_id"]])
    assert (await sale_row(env, world))["sold"] == 0
    assert await stock_of(env, world.variant_id, world.warehouse_id) == (2, 0)
    async with env.uow() as uow:
        counts = dict((await uow.conn.execute(select(flash_sale_purchases.c.customer_id,
                                                     flash_sale_purchases.c.quantity))).all())
    assert counts == {world.buyers[0]: 0, world.buyers[1]: 0}
    assert (await run_checks(env.app.state.engine)).violations == []


async def test_merchant_staff_create_a_sale_and_bad_terms_are_refused(env):
    world = await build_flash_world(env.uow, env.clock.now(), units=5)
    body = {"merchant": "flash-brand", "variant_id": world.variant_id, "locations": ["WH-F"], "name": "Double 12",
            "currency": "CNY", "price_minor": 5000, "quantity": 3, "per_customer_limit": 1,
            "starts_at": "2026-12-11T16:00:00Z", "ends_at": "2026-12-11T18:00:00Z"}
    created = await env.client.post("/api/v1/flash-sales", json=body, headers=world.auth("operator"))
    assert created.status_code == 201, created.text
    assert (created.json()["state"], created.json()["location_ids"]) == ("upcoming", [world.warehouse_id])
    for change, field in (({"ends_at": "2026-12-11T15:00:00Z"}, "ends_at"), ({"locations": ["NOPE"]}, "locations"),
                          ({"starts_at": "2026-12-11T16:00:00"}, "starts_at"), ({"quantity": 0}, "quantity")):
        refused = await env.client.post("/api/v1/flash-sales", json={**body, **change}, headers=world.auth("operator"))
        assert refused.status_code == 422 and refused.json()["field"] == field, (change, refused.text)
    shopper = await env.client.post("/api/v1/flash-sales", json=body, headers=world.auth("buyer0"))
    assert shopper.status_code == 403
    assert len((await env.client.get("/api/v1/flash-sales")).json()) == 2


async def test_bad_flash_orders_get_a_clear_error_and_write_nothing(env):
    world = await build_flash_world(env.uow, env.clock.now(), units=5)
    path = f"/api/v1/flash-sales/{world.sale_id}/orders"
    cases = [
        ({"content": b"{not json", "headers": world.auth("buyer0")}, 400, "malformed_json", None),
        ({"json": {"quantity": 0}, "headers": world.auth("buyer0")}, 422, "invalid_input", "quantity"),
        ({"json": {"quantity": True}, "headers": world.auth("buyer0")}, 422, "invalid_input", "quantity"),
        ({"json": {"quantity": "2"}, "headers": world.auth("buyer0")}, 422, "invalid_input", "quantity"),
        ({"json": {"quantity": 10**12}, "headers": world.auth("buyer0")}, 422, "invalid_input", "quantity"),
        ({"json": {"quantity": 1, "price_minor": 1}, "headers": world.auth("buyer0")}, 422, "invalid_input",
         "price_minor"),
        ({"json": {"quantity": 1}}, 401, "unauthenticated", None),
        ({"json": {"quantity": 1}, "headers": {"Authorization": "Bearer uct_nope_nope"}}, 401, "unauthenticated", None),
        ({"json": {"quantity": 1}, "headers": {**world.auth("buyer0"), "Idempotency-Key": "k" * 201}}, 422,
         "invalid_input", "Idempotency-Key"),
        ({"json": {"quantity": 1}, "headers": world.auth("operator")}, 422, "invalid_input", "customer_id"),
    ]
    for request, status, code, field in cases:
        response = await env.client.post(path, **request)
        assert (response.status_code, response.json()["code"], response.json()["field"]) == (status, code, field), (
            request, response.text)
    for bad_path, status in ((f"/api/v1/flash-sales/{2**63}/orders", 422), ("/api/v1/flash-sales/999/orders", 404)):
        response = await env.client.post(bad_path, json={"quantity": 1}, headers=world.auth("buyer0"))
        assert response.status_code == status, response.text
    assert await count(env, orders) == 0 and await count(env, idempotency_keys) == 0
    assert (await sale_row(env, world))["sold"] == 0


async def test_an_oversized_order_body_is_refused_before_it_is_read(env):
    world = await build_flash_world(env.uow, env.clock.now(), units=5)
    path = f"/api/v1/flash-sales/{world.sale_id}/orders"
    padded = b'{"quantity": 1' + b" " * 5000 + b"}"  # valid JSON, but no order needs 5 kB

    async def chunks():  # sent without a Content-Length: the size is found while reading
        for start in range(0, len(padded), 1000):
            yield padded[start:start + 1000]

    for content in (padded, chunks()):
        refused = await env.client.post(path, content=content, headers=world.auth("buyer0"))
        assert refused.status_code == 413
        assert refused.json() == {"code": "payload_too_large", "message": "an order's body is at most 4096 bytes",
                                  "field": None}
    assert await count(env, orders) == 0 and (await sale_row(env, world))["sold"] == 0
    fits = await env.client.post(path, content=b'{"quantity": 1' + b" " * 4000 + b"}", headers=world.auth("buyer0"))
    assert fits.status_code == 201, fits.text


async def test_the_order_route_answers_its_errors_as_the_rest_of_the_api(env, monkeypatch):
    """The route is served ahead of the framework's middleware: its failures must still be the API's error bodies."""
    world = await build_flash_world(env.uow, env.clock.now(), units=5)

    async def database_down(self, request, sale_id):
        raise DBAPIError("SELECT", {}, ConnectionRefusedError("connection refused"))

    monkeypatch.setattr(SaleCache, "_read", database_down)
    down = await buy(env, world, "buyer0")
    assert (down.status_code, down.json()["code"], down.headers["retry-after"]) == (503, "service_unavailable", "1")

    async def broken(self, request, sale_id):
        raise RuntimeError("a bug")

    monkeypatch.setattr(SaleCache, "_read", broken)
    failed = await buy(env, world, "buyer0")
    assert failed.status_code == 500
    assert failed.json() == {"code": "internal_error", "message": "something went wrong on our side", "field": None}
    monkeypatch.undo()
    wrong_method = await env.client.get(f"/api/v1/flash-sales/{world.sale_id}/orders", headers=world.auth("buyer0"))
    assert (wrong_method.status_code, wrong_method.json()["code"]) == (405, "method_not_allowed")
    assert (await buy(env, world, "buyer0")).status_code == 201
    assert await count(env, orders) == 1
