"""Events leave through the outbox only after commit; `unichannel check` finds every kind of drift."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select, update

from unichannel.check import run_checks
from unichannel.events import Event, outbox_events
from unichannel.inventory import service as inventory
from unichannel.inventory.repository import reservations, stock, stock_movements
from unichannel.orders.repository import order_lines, orders

from tests.integration.world import HOME, build_world, count


async def test_every_stock_change_emits_an_event_in_the_same_transaction(env):
    world = await build_world(env)
    before = await count(env, outbox_events)
    async with env.uow() as uow:
        await inventory.receive(uow, None, world.ids["tee"], world.ids["WH"], 5, "PO-9")
        await inventory.transfer(uow, None, world.ids["tee"], world.ids["WH"], world.ids["STORE-2"], 4)
    async with env.uow() as uow:
        rows = (await uow.conn.execute(select(outbox_events).where(outbox_events.c.id > before)
                                       .order_by(outbox_events.c.id))).mappings().all()
    stock_events = [(r["aggregate_id"], r["payload"]["on_hand"]) for r in rows if r["topic"] == "stock.changed"]
    wh, store = f"{world.ids['tee']}@{world.ids['WH']}", f"{world.ids['tee']}@{world.ids['STORE-2']}"
    assert world.ids["WH"] < world.ids["STORE-2"]  # a transfer changes rows in location-id order
    assert stock_events == [(wh, 15), (wh, 11), (store, 4)]


async def test_a_rolled_back_change_leaves_no_event_and_no_movement(env):
    world = await build_world(env)
    events, movements = await count(env, outbox_events), await count(env, stock_movements)
    with pytest.raises(RuntimeError):
        async with env.uow() as uow:
            await inventory.receive(uow, None, world.ids["tee"], world.ids["WH"], 5, "PO-10")
            raise RuntimeError("the request failed after the change")
    assert await count(env, outbox_events) == events
    assert await count(env, stock_movements) == movements


async def test_the_relay_publishes_each_committed_event_once_in_order(env):
    world = await build_world(env)
    seen: list[Event] = []

    async def subscriber(event: Event) -> None:
        seen.append(event)

    env.app.state.bus.subscribe("order.", subscriber)
    relay = env.app.state.relay
    while await relay.publish_pending():
        pass
    seen.clear()
    await env.client.post("/api/v1/cart/lines", json={"sku": "MUG-1", "quantity": 1}, headers=world.auth("alice"))
    placed = await env.client.post("/api/v1/orders", json={"delivery": HOME}, headers=world.auth("alice"))
    order_id = placed.json()["orders"][0]["id"]
    await env.client.post(f"/api/v1/orders/{order_id}/pay", json={}, headers=world.auth("alice"))
    assert await relay.publish_pending() > 0
    assert await relay.publish_pending() == 0
    assert [(e.topic, e.payload["order_id"]) for e in seen] == [("order.placed", order_id), ("order.paid", order_id)]
    async with env.uow() as uow:
        unpublished = (await uow.conn.execute(
            select(outbox_events.c.id).where(outbox_events.c.published_at.is_(None)))).all()
    assert unpublished == []


async def test_check_is_clean_after_a_busy_day(env):
    world = await build_world(env)
    for who in ("alice", "bob"):
        await env.client.post("/api/v1/cart/lines", json={"sku": "MUG-1", "quantity": 2}, headers=world.auth(who))
        await env.client.post("/api/v1/orders", json={"delivery": HOME}, headers={**world.auth(who),
                                                                                   "Idempotency-Key": who})
    report = await run_checks(env.app.state.engine)
    assert report.violations == []
    assert report.counts["order lines"] == 2 and report.counts["idempotent results"] == 2


async def _one_order(env, world) -> int:
    await env.client.post("/api/v1/cart/lines", json={"sku": "MUG-1", "quantity": 2}, headers=world.auth("alice"))
    placed = await env.client.post("/api/v1/orders", json={"delivery": HOME},
                                   headers={**world.auth("alice"), "Idempotency-Key": "one"})
    return placed.json()["orders"][0]["id"]


async def _tamper_movement(env, world, order_id):
    async with env.uow() as uow:
        await uow.conn.execute(insert(stock_movements).values(
            merchant_id=world.ids["brand_a"], variant_id=world.ids["mug"], location_id=world.ids["WH"],
            kind="adjust", quantity=3, reason="ghost", created_at=env.clock.now()))


async def _tamper_reserved(env, world, order_id):
    async with env.uow() as uow:
        await uow.conn.execute(update(stock).where(stock.c.variant_id == world.ids["mug"])
                               .values(reserved=stock.c.reserved + 1))


async def _tamper_hold(env, world, order_id):
    async with env.uow() as uow:
        line_hold = select(order_lines.c.reservation_id).where(order_lines.c.order_id == order_id).scalar_subquery()
        await uow.conn.execute(update(reservations).where(reservations.c.id == line_hold).values(status="released"))


async def _tamper_order(env, world, order_id):
    async with env.uow() as uow:
        await uow.conn.execute(update(orders).where(orders.c.id == order_id).values(status="shipped"))


async def _tamper_idempotency(env, world, order_id):
    from unichannel.idempotency import idempotency_keys

    async with env.uow() as uow:
        await uow.conn.execute(update(idempotency_keys).values(resource="checkout:999"))


@pytest.mark.parametrize(
    ("tamper", "invariant"),
    [
        (_tamper_movement, 2),
        (_tamper_reserved, 1),
        (_tamper_hold, 3),
        (_tamper_order, 3),
        (_tamper_idempotency, 5),
    ],
    ids=["movement-without-stock-change", "reserved-without-hold", "live-line-without-hold",
         "shipped-line-still-held", "key-replays-missing-checkout"],
)
async def test_check_reports_each_kind_of_drift(env, tamper, invariant):
    world = await build_world(env)
    order_id = await _one_order(env, world)
    assert (await run_checks(env.app.state.engine)).violations == []
    await tamper(env, world, order_id)
    report = await run_checks(env.app.state.engine)
    assert {v.invariant for v in report.violations} >= {invariant}
    assert not report.ok


async def test_check_names_each_reference_of_the_order_path_that_points_nowhere(env):
    # The order path's tables refer to master data without foreign keys (migration 0009): the database takes these
    # writes, and `unichannel check` is what finds them.
    world = await build_world(env)
    order_id = await _one_order(env, world)
    async with env.uow() as uow:
        line_id, hold_id = (await uow.conn.execute(select(order_lines.c.id, order_lines.c.reservation_id)
                                                   .where(order_lines.c.order_id == order_id))).one()
        await uow.conn.execute(update(orders).where(orders.c.id == order_id).values(customer_id=990001))
        await uow.conn.execute(update(order_lines).where(order_lines.c.id == line_id).values(merchant_id=990002))
        await uow.conn.execute(update(reservations).where(reservations.c.id == hold_id).values(location_id=990003))

    report = await run_checks(env.app.state.engine)

    assert sorted(v.message for v in report.violations if v.invariant == 8) == [
        f"order_lines {line_id}: merchant_id 990002 names no row of merchants",
        f"orders {order_id}: customer_id 990001 names no row of customers",
        f"reservations {hold_id}: location_id 990003 names no row of locations",
    ]
    assert report.counts["references checked"] == 13
