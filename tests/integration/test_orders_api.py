"""Orders: placing holds stock atomically, idempotency, the lifecycle, cancellation, lapsed holds, visibility."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from unichannel.inventory.repository import reservations
from unichannel.orders.repository import checkouts, order_lines, orders
from unichannel.payments.repository import ledger_transfers, payments

from tests.integration.world import HOME, VILLAGER, build_world, count, stock_of


async def add(env, world, who: str, sku: str = "TEE-M", quantity: int = 1, merchant: str = "brand-a", **params):
    response = await env.client.post(
        "/api/v1/cart/lines", json={"sku": sku, "merchant": merchant, "quantity": quantity},
        headers=world.auth(who), params=params,
    )
    assert response.status_code == 201, response.text
    return response.json()


async def place(env, world, who: str, delivery=None, key: str | None = None, **params):
    headers = world.auth(who)
    if key is not None:
        headers["Idempotency-Key"] = key
    return await env.client.post("/api/v1/orders", json={"delivery": delivery or HOME}, headers=headers, params=params)


async def test_a_cart_with_two_merchants_becomes_one_order_per_merchant(env):
    world = await build_world(env)
    await add(env, world, "alice", "TEE-M", 1, "brand-a")
    await add(env, world, "alice", "TEE-M", 2, "brand-b")
    placed = await place(env, world, "alice")
    assert placed.status_code == 201, placed.text
    body = placed.json()
    assert sorted((o["merchant_id"], o["total_minor"]) for o in body["orders"]) == sorted(
        [(world.ids["brand_a"], 9900), (world.ids["brand_b"], 16000)]
    )
    assert body["total_minor"] == 25900
    assert {o["checkout_id"] for o in body["orders"]} == {body["checkout_id"]}
    cart = await env.client.get("/api/v1/cart", headers=world.auth("alice"))
    assert cart.json()["lines"] == []


async def test_same_idempotency_key_and_body_returns_the_same_orders(env):
    world = await build_world(env)
    await add(env, world, "alice", quantity=2)
    first = await place(env, world, "alice", key="order-123")
    second = await place(env, world, "alice", key="order-123")
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers.get("Idempotent-Replay") == "true"
    assert await count(env, orders) == 1
    assert await stock_of(env, world.ids["tee"], world.ids["WH"]) == (10, 2)


async def test_same_idempotency_key_with_another_body_is_a_conflict(env):
    world = await build_world(env)
    await add(env, world, "alice")
    assert (await place(env, world, "alice", key="k")).status_code == 201
    await add(env, world, "alice")
    pickup = {"mode": "pickup", "location_id": world.ids["STORE-1"]}
    reused = await place(env, world, "alice", delivery=pickup, key="k")
    assert reused.status_code == 409
    assert reused.json() == {"code": "idempotency_key_reused", "message": reused.json()["message"],
                             "field": "Idempotency-Key"}
    assert await count(env, orders) == 1


async def test_idempotency_keys_belong_to_their_caller(env):
    world = await build_world(env)
    await add(env, world, "alice")
    await add(env, world, "bob")
    assert (await place(env, world, "alice", key="same")).status_code == 201
    assert (await place(env, world, "bob", key="same")).status_code == 201
    assert await count(env, orders) == 2


async def test_a_failed_order_does_not_burn_its_idempotency_key(env):
    world = await build_world(env, warehouse_units=0, store_units=0)
    await add(env, world, "alice")
    refused = await place(env, world, "alice", key="retry-me")
    assert refused.status_code == 409 and refused.json()["code"] == "sold_out"
    async with env.uow() as uow:
        from unichannel.inventory import service as inventory

        await inventory.receive(uow, None, world.ids["tee"], world.ids["WH"], 1, "late delivery")
    retried = await place(env, world, "alice", key="retry-me")
    assert retried.status_code == 201


async def test_sold_out_order_writes_nothing_and_keeps_the_cart(env):
    world = await build_world(env, warehouse_units=1, store_units=0)
    await add(env, world, "alice", "MUG-1", 1)
    await add(env, world, "alice", "TEE-M", 2)  # only 1 tee exists: the whole checkout must fail
    refused = await place(env, world, "alice")
    assert refused.status_code == 409
    assert refused.json()["code"] == "sold_out"
    assert await count(env, orders) == 0
    assert await count(env, order_lines) == 0
    assert await count(env, checkouts) == 0
    assert await count(env, reservations) == 0
    assert await stock_of(env, world.ids["mug"], world.ids["WH"]) == (1, 0)
    cart = await env.client.get("/api/v1/cart", headers=world.auth("alice"))
    assert [(ln["sku"], ln["quantity"]) for ln in cart.json()["lines"]] == [("MUG-1", 1), ("TEE-M", 2)]


async def test_store_pickup_holds_the_stores_own_units(env):
    world = await build_world(env)
    await add(env, world, "alice", quantity=2)
    placed = await place(env, world, "alice", delivery={"mode": "pickup", "location_id": world.ids["STORE-1"]})
    assert placed.status_code == 201, placed.text
    assert placed.json()["orders"][0]["lines"][0]["location_id"] == world.ids["STORE-1"]
    assert await stock_of(env, world.ids["tee"], world.ids["STORE-1"]) == (2, 2)
    assert await stock_of(env, world.ids["tee"], world.ids["WH"]) == (10, 0)


async def test_store_pickup_beyond_the_stores_stock_cannot_be_promised_even_if_the_warehouse_has_it(env):
    world = await build_world(env)
    await add(env, world, "alice", quantity=3)
    placed = await place(env, world, "alice", delivery={"mode": "pickup", "location_id": world.ids["STORE-1"]})
    assert placed.status_code == 409 and placed.json()["code"] == "cannot_fulfil"
    assert await stock_of(env, world.ids["tee"], world.ids["WH"]) == (10, 0)


async def test_village_station_pickup_ships_from_a_warehouse(env):
    world = await build_world(env)
    await add(env, world, "alice")
    placed = await place(env, world, "alice", delivery={"mode": "pickup", "location_id": world.ids["STATION"],
                                                        "address": VILLAGER})
    assert placed.status_code == 201, placed.text
    order = placed.json()["orders"][0]
    assert order["location_id"] == world.ids["STATION"]
    assert order["lines"][0]["location_id"] == world.ids["WH"]


async def test_clerk_sells_at_the_till_and_it_lands_in_the_members_history(env):
    world = await build_world(env)
    alice = world.ids["alice"]
    await add(env, world, "clerk_1", customer_id=alice)
    sold = await place(env, world, "clerk_1", delivery={"mode": "in_store"}, customer_id=alice)
    assert sold.status_code == 201, sold.text
    order = sold.json()["orders"][0]
    assert (order["channel"], order["location_id"], order["customer_id"]) == ("store", world.ids["STORE-1"], alice)
    paid = await env.client.post(f"/api/v1/orders/{order['id']}/pay", json={"method": "cash"},
                                 headers=world.auth("clerk_1"))
    assert paid.status_code == 200 and paid.json()["status"] == "paid"
    online = await add(env, world, "alice")
    assert online["lines"][0]["sku"] == "TEE-M"
    assert (await place(env, world, "alice")).status_code == 201
    history = await env.client.get(f"/api/v1/customers/{alice}/orders", headers=world.auth("alice"))
    assert [o["channel"] for o in history.json()] == ["online", "store"]


async def test_only_a_clerk_sells_in_store(env):
    world = await build_world(env)
    await add(env, world, "alice")
    refused = await place(env, world, "alice", delivery={"mode": "in_store", "location_id": world.ids["STORE-1"]})
    assert refused.status_code == 422 and refused.json()["field"] == "delivery.mode"
    assert await count(env, orders) == 0


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ([], "shipped"),
        ([], "completed"),
        (["paid"], "delivered"),
        (["paid", "allocated", "shipped"], "cancelled"),
        (["paid", "allocated", "shipped", "delivered", "completed"], "paid"),
    ],
    ids=["placed-to-shipped", "placed-to-completed", "paid-to-delivered", "shipped-to-cancelled", "completed-to-paid"],
)
async def test_illegal_transitions_are_refused_with_a_clear_error(env, path, target):
    world = await build_world(env)
    await add(env, world, "alice")
    order_id = (await place(env, world, "alice")).json()["orders"][0]["id"]
    for step in path:
        if step == "paid":
            response = await env.client.post(f"/api/v1/orders/{order_id}/pay", json={}, headers=world.auth("alice"))
        else:
            response = await env.client.post(f"/api/v1/orders/{order_id}/transitions", json={"to": step},
                                             headers=world.auth("alice" if step == "completed" else "staff_a"))
        assert response.status_code == 200, response.text
    before = (await env.client.get(f"/api/v1/orders/{order_id}", headers=world.auth("operator"))).json()
    refused = await env.client.post(f"/api/v1/orders/{order_id}/transitions", json={"to": target},
                                    headers=world.auth("operator"))
    assert refused.status_code == 409
    assert refused.json()["code"] == "illegal_transition"
    after = (await env.client.get(f"/api/v1/orders/{order_id}", headers=world.auth("operator"))).json()
    assert after["status"] == before["status"] and len(after["history"]) == len(before["history"])


async def test_paying_twice_is_refused_and_captures_once(env):
    world = await build_world(env)
    await add(env, world, "alice")
    order_id = (await place(env, world, "alice")).json()["orders"][0]["id"]
    assert (await env.client.post(f"/api/v1/orders/{order_id}/pay", json={}, headers=world.auth("alice"))).status_code == 200
    again = await env.client.post(f"/api/v1/orders/{order_id}/pay", json={}, headers=world.auth("alice"))
    assert again.status_code == 409 and again.json()["code"] == "illegal_transition"
    assert len(env.gateway.captures) == 1


async def test_a_declined_card_leaves_the_order_unpaid(env):
    world = await build_world(env)
    await add(env, world, "alice")
    order_id = (await place(env, world, "alice")).json()["orders"][0]["id"]
    declined = await env.client.post(f"/api/v1/orders/{order_id}/pay", json={"token": "tok_decline"},
                                     headers=world.auth("alice"))
    assert declined.status_code == 402 and declined.json()["code"] == "payment_declined"
    order = (await env.client.get(f"/api/v1/orders/{order_id}", headers=world.auth("alice"))).json()
    assert order["status"] == "placed" and order["payment_reference"] is None
    assert env.gateway.captures == []


async def test_cancel_releases_the_held_units_and_refunds_a_paid_order(env):
    world = await build_world(env)
    await add(env, world, "alice", quantity=3)
    order = (await place(env, world, "alice")).json()["orders"][0]
    await env.client.post(f"/api/v1/orders/{order['id']}/pay", json={}, headers=world.auth("alice"))
    assert await stock_of(env, world.ids["tee"], world.ids["WH"]) == (10, 3)
    cancelled = await env.client.post(f"/api/v1/orders/{order['id']}/cancel", json={"reason": "changed my mind"},
                                      headers=world.auth("alice"))
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["cancel_reason"] == "changed my mind"
    assert await stock_of(env, world.ids["tee"], world.ids["WH"]) == (10, 0)
    assert env.gateway.refunds == [(env.gateway.captures[0].payment_reference, 29700, "CNY")]


async def test_a_shopper_cannot_cancel_after_allocation(env):
    world = await build_world(env)
    await add(env, world, "alice")
    order_id = (await place(env, world, "alice")).json()["orders"][0]["id"]
    await env.client.post(f"/api/v1/orders/{order_id}/pay", json={}, headers=world.auth("alice"))
    await env.client.post(f"/api/v1/orders/{order_id}/transitions", json={"to": "allocated"}, headers=world.auth("staff_a"))
    refused = await env.client.post(f"/api/v1/orders/{order_id}/cancel", headers=world.auth("alice"))
    assert refused.status_code == 409 and refused.json()["code"] == "illegal_transition"
    assert await stock_of(env, world.ids["tee"], world.ids["WH"]) == (10, 1)


async def test_paying_after_the_hold_lapsed_voids_the_authorization_and_takes_nothing(env):
    world = await build_world(env, warehouse_units=1, store_units=0)
    await add(env, world, "alice")
    order_id = (await place(env, world, "alice")).json()["orders"][0]["id"]
    env.clock.advance(minutes=env.settings.reservation_hold_minutes, seconds=1)
    late = await env.client.post(f"/api/v1/orders/{order_id}/pay", json={}, headers=world.auth("alice"))
    assert late.status_code == 409 and late.json()["code"] == "reservation_expired"
    assert env.gateway.captures == [] and env.gateway.refunds == [] and len(env.gateway.voids) == 1
    order = (await env.client.get(f"/api/v1/orders/{order_id}", headers=world.auth("alice"))).json()
    assert order["status"] == "placed" and order["payment_reference"] is None
    async with env.uow(read_only=True) as uow:
        [payment] = (await uow.conn.execute(select(payments))).mappings().all()
    assert (payment["status"], payment["captured_minor"]) == ("voided", 0)
    assert await count(env, ledger_transfers) == 0  # nothing was taken, so nothing is booked


async def test_a_lapsed_hold_never_blocks_the_next_buyer(env):
    world = await build_world(env, warehouse_units=1, store_units=0)
    await add(env, world, "alice")
    assert (await place(env, world, "alice")).status_code == 201
    await add(env, world, "bob")
    assert (await place(env, world, "bob")).json()["code"] == "sold_out"
    env.clock.advance(minutes=env.settings.reservation_hold_minutes + 1)
    second = await place(env, world, "bob")
    assert second.status_code == 201, second.text
    assert await stock_of(env, world.ids["tee"], world.ids["WH"]) == (1, 1)


async def test_the_sweeper_cancels_unpaid_orders_whose_hold_lapsed(env):
    from unichannel.orders import service as orders_service

    world = await build_world(env)
    await add(env, world, "alice", quantity=2)
    await add(env, world, "alice", "MUG-1", 1)
    lapsing = (await place(env, world, "alice")).json()["orders"][0]["id"]
    await add(env, world, "bob")
    kept = (await place(env, world, "bob")).json()["orders"][0]["id"]
    await env.client.post(f"/api/v1/orders/{kept}/pay", json={}, headers=world.auth("bob"))
    env.clock.advance(minutes=env.settings.reservation_hold_minutes + 1)
    async with env.uow() as uow:
        cancelled = await orders_service.cancel_lapsed_orders(uow)
    assert cancelled == [lapsing]
    async with env.uow() as uow:
        assert await orders_service.cancel_lapsed_orders(uow) == []
    lapsed = (await env.client.get(f"/api/v1/orders/{lapsing}", headers=world.auth("alice"))).json()
    assert (lapsed["status"], lapsed["cancel_reason"]) == ("cancelled", "payment_timeout")
    assert await stock_of(env, world.ids["tee"], world.ids["WH"]) == (10, 1)  # bob's paid unit stays held
    assert await stock_of(env, world.ids["mug"], world.ids["WH"]) == (10, 0)


async def test_shoppers_see_only_their_own_orders(env):
    world = await build_world(env)
    await add(env, world, "alice")
    order_id = (await place(env, world, "alice")).json()["orders"][0]["id"]
    hidden = await env.client.get(f"/api/v1/orders/{order_id}", headers=world.auth("bob"))
    assert hidden.status_code == 404 and hidden.json()["code"] == "not_found"
    assert (await env.client.get("/api/v1/orders", headers=world.auth("bob"))).json() == []
    refused = await env.client.post(f"/api/v1/orders/{order_id}/cancel", headers=world.auth("bob"))
    assert refused.status_code == 404
    assert (await env.client.get(f"/api/v1/orders/{order_id}", headers=world.auth("alice"))).status_code == 200


async def test_merchants_and_clerks_see_only_their_own_orders(env):
    world = await build_world(env)
    await add(env, world, "alice")
    online = (await place(env, world, "alice")).json()["orders"][0]["id"]
    assert (await env.client.get(f"/api/v1/orders/{online}", headers=world.auth("staff_b"))).status_code == 404
    moved = await env.client.post(f"/api/v1/orders/{online}/transitions", json={"to": "cancelled"},
                                  headers=world.auth("staff_b"))
    assert moved.status_code == 404
    assert (await env.client.get(f"/api/v1/orders/{online}", headers=world.auth("clerk_1"))).status_code == 404
    assert [o["id"] for o in (await env.client.get("/api/v1/orders", headers=world.auth("staff_a"))).json()] == [online]
    assert (await env.client.get("/api/v1/orders", headers=world.auth("staff_b"))).json() == []
    await add(env, world, "clerk_2", customer_id=world.ids["bob"])
    till = await place(env, world, "clerk_2", delivery={"mode": "in_store"}, customer_id=world.ids["bob"])
    assert till.status_code == 409 and till.json()["code"] == "sold_out"  # STORE-2 has no tees
    assert (await env.client.get("/api/v1/orders", headers=world.auth("clerk_1"))).json() == []


async def test_shopper_cannot_move_an_order_along_the_fulfilment_steps(env):
    world = await build_world(env)
    await add(env, world, "alice")
    order_id = (await place(env, world, "alice")).json()["orders"][0]["id"]
    await env.client.post(f"/api/v1/orders/{order_id}/pay", json={}, headers=world.auth("alice"))
    refused = await env.client.post(f"/api/v1/orders/{order_id}/transitions", json={"to": "allocated"},
                                    headers=world.auth("alice"))
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
