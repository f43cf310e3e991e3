"""Shipment races on real PostgreSQL: concurrent scans, collections and packing, through the application in-process.
No timing is asserted: only how many moves won and where the units went."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date

import pytest
from sqlalchemy import select

from tests.integration.test_shipments_api import allocate, order_of, paid, receive_lot, walk
from tests.integration.world import build_world
from unichannel.check import run_checks
from unichannel.inventory.repository import lots
from unichannel.orders.repository import order_history
from unichannel.payments.repository import ledger_transfers

postgres_only = pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


@postgres_only
async def test_ten_simultaneous_hand_over_scans_move_the_parcel_and_ship_the_order_once(env):
    world = await build_world(env)
    order = await paid(env, world)
    [parcel] = await allocate(env, world, order["id"])
    await walk(env, world, parcel["id"], "packed")

    async def scan(n: int) -> int:
        response = await env.client.post(f"/api/v1/shipments/{parcel['id']}/transitions",
                                         json={"to": "handed_over"}, headers=world.auth(
                                             "operator" if n % 2 else "staff_a"))
        return response.status_code

    assert Counter(await asyncio.gather(*(scan(n) for n in range(10)))) == {200: 1, 409: 9}
    seen = await order_of(env, world, order["id"])
    assert seen["status"] == "shipped"
    assert [e["to_status"] for e in seen["shipments"][0]["timeline"]] == ["picking", "packed", "handed_over"]
    async with env.uow(read_only=True) as uow:
        shipped = (await uow.conn.execute(select(order_history.c.id).where(
            order_history.c.order_id == order["id"], order_history.c.to_status == "shipped"))).all()
    assert len(shipped) == 1
    assert (await run_checks(env.app.state.engine)).violations == []


@postgres_only
async def test_a_parcel_collected_at_two_counters_at_once_is_handed_over_and_released_once(env):
    world = await build_world(env)
    order = await paid(env, world, delivery={"mode": "pickup", "location_id": world.ids["STORE-1"]})
    [parcel] = await allocate(env, world, order["id"])
    await walk(env, world, parcel["id"], "packed", "ready_for_pickup", who="clerk_1")
    code = (await order_of(env, world, order["id"], "alice"))["shipments"][0]["pickup_code"]

    async def collect(n: int) -> int:
        response = await env.client.post(f"/api/v1/shipments/{parcel['id']}/collect", json={"pickup_code": code},
                                         headers=world.auth("clerk_1" if n % 2 else "operator"))
        return response.status_code

    assert Counter(await asyncio.gather(*(collect(n) for n in range(6)))) == {200: 1, 409: 5}
    assert (await order_of(env, world, order["id"]))["status"] == "completed"
    async with env.uow(read_only=True) as uow:
        kinds = Counter((await uow.conn.execute(select(ledger_transfers.c.kind))).scalars())
    assert kinds == {"capture": 1, "release": 1}
    assert (await run_checks(env.app.state.engine)).violations == []


@postgres_only
async def test_two_parcels_packed_at_once_share_the_lots_first_expiry_first_out_without_a_conflict(env):
    world = await build_world(env, warehouse_units=0)
    await receive_lot(env, world, "L-SOON", date(2026, 11, 15), 2)
    await receive_lot(env, world, "L-LATER", date(2026, 11, 25), 2)
    parcels = []
    for who in ("alice", "bob"):
        order = await paid(env, world, who=who, lines=(("MUG-1", 2),))
        [parcel] = await allocate(env, world, order["id"])
        parcels.append(parcel)

    async def pack(parcel: dict) -> tuple[int, list]:
        response = await env.client.post(f"/api/v1/shipments/{parcel['id']}/transitions", json={"to": "packed"},
                                         headers=world.auth("staff_a"))
        return response.status_code, response.json().get("lines", [{}])[0].get("lots")

    results = await asyncio.gather(*(pack(p) for p in parcels))
    async with env.uow(read_only=True) as uow:
        ids = dict((await uow.conn.execute(select(lots.c.code, lots.c.id))).all())
        left = dict((await uow.conn.execute(select(lots.c.code, lots.c.remaining))).all())
    assert [status for status, _ in results] == [200, 200]
    assert sorted(picked for _, picked in results) == sorted([[[ids["L-SOON"], 2]], [[ids["L-LATER"], 2]]])
    assert left == {"L-SOON": 0, "L-LATER": 0}
    assert (await run_checks(env.app.state.engine)).violations == []


@postgres_only
async def test_four_simultaneous_return_requests_for_the_same_unit_make_one_return(env):
    from tests.integration.test_shipments_api import delivered_order

    world = await build_world(env, store_units=0)
    order = await delivered_order(env, world, lines=(("TEE-M", 1),))
    body = {"lines": [{"line_id": order["lines"][0]["id"], "quantity": 1}], "reason": "too small"}

    async def ask(_: int) -> int:
        response = await env.client.post(f"/api/v1/orders/{order['id']}/returns", json=body,
                                         headers=world.auth("alice"))
        return response.status_code

    assert Counter(await asyncio.gather(*(ask(n) for n in range(4)))) == {201: 1, 422: 3}
    assert (await run_checks(env.app.state.engine)).violations == []


@postgres_only
async def test_scans_racing_an_order_transition_never_deadlock(env):
    world = await build_world(env, store_units=0)
    async with env.uow() as uow:
        from unichannel.inventory import service as inventory

        await inventory.receive(uow, None, world.ids["mug"], world.ids["STORE-1"], 3, "PO-9")
        await inventory.adjust(uow, None, world.ids["mug"], world.ids["WH"], -10, "moved to the store")
    order = await paid(env, world, lines=(("TEE-M", 1), ("MUG-1", 1)))
    parcels = await allocate(env, world, order["id"])

    async def scan(parcel: dict) -> int:
        response = await env.client.post(f"/api/v1/shipments/{parcel['id']}/transitions", json={"to": "packed"},
                                         headers=world.auth("staff_a"))
        return response.status_code

    async def ship() -> int:
        response = await env.client.post(f"/api/v1/orders/{order['id']}/transitions", json={"to": "shipped"},
                                         headers=world.auth("operator"))
        return response.status_code

    statuses = await asyncio.gather(scan(parcels[0]), ship(), scan(parcels[1]))
    assert 503 not in statuses and set(statuses) <= {200, 409}
    assert (await run_checks(env.app.state.engine)).violations == []
