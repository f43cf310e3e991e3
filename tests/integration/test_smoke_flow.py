"""A shopper's whole path through the API: browse, cart, order, pay, ship, deliver, complete."""

from __future__ import annotations

from unichannel.check import run_checks
from unichannel.inventory.repository import stock_movements
from unichannel.orders.repository import orders

from tests.integration.world import HOME, build_world, count, stock_of


async def test_shopper_buys_online_and_the_order_runs_to_completion(env):
    world = await build_world(env)
    client = env.client
    found = await client.get("/api/v1/products", params={"q": "cotton"})
    assert found.status_code == 200
    assert [p["name"] for p in found.json()["items"]] == ["Cotton Tee"]

    added = await client.post("/api/v1/cart/lines", json={"sku": "TEE-M", "merchant": "brand-a", "quantity": 2},
                              headers=world.auth("alice"))
    assert added.status_code == 201, added.text
    assert added.json()["subtotal_minor"] == 19800

    placed = await client.post("/api/v1/orders", json={"delivery": HOME},
                               headers={**world.auth("alice"), "Idempotency-Key": "k-1"})
    assert placed.status_code == 201, placed.text
    [order] = placed.json()["orders"]
    assert order["status"] == "placed" and order["total_minor"] == 19800
    assert order["lines"][0]["location_id"] == world.ids["WH"]
    assert await stock_of(env, world.ids["tee"], world.ids["WH"]) == (10, 2)

    paid = await client.post(f"/api/v1/orders/{order['id']}/pay", json={"method": "card"}, headers=world.auth("alice"))
    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "paid"
    assert len(env.gateway.captures) == 1 and env.gateway.captures[0].amount_minor == 19800

    for step, who in (("allocated", "staff_a"), ("shipped", "staff_a"), ("delivered", "staff_a"),
                      ("completed", "alice")):  # the shopper confirms receipt; the merchant never does
        moved = await client.post(f"/api/v1/orders/{order['id']}/transitions", json={"to": step},
                                  headers=world.auth(who))
        assert moved.status_code == 200, moved.text
        assert moved.json()["status"] == step
    assert await stock_of(env, world.ids["tee"], world.ids["WH"]) == (8, 0)
    assert await count(env, orders) == 1
    # 4 receipts in the world + 1 shipment
    assert await count(env, stock_movements) == 5
    report = await run_checks(env.app.state.engine)
    assert report.violations == []
