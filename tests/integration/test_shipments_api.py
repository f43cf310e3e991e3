"""Shipments through the API: an allocated order's parcels, their routes and tracking timeline; the order following
its parcels; pickup codes at the counter; failed deliveries coming back; lots picked first-expiry-first-out;
returns within the window. On SQLite and PostgreSQL; `unichannel check` is clean after every scenario.

The test world: brand-a's TEE-M (¥99.00) has 10 units at WH and 2 at STORE-1; MUG-1 (¥45.50) 10 at WH. The clock
starts at 2026-11-11 00:00 in China (a Wednesday)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tests.integration.test_orders_api import add, place
from tests.integration.world import HOME, VILLAGER, build_world, stock_of
from unichannel.check import run_checks
from unichannel.events import outbox_events
from unichannel.inventory.repository import lots, stock_movements
from unichannel.payments.repository import refunds

PRICE, MUG = 9900, 4550


async def paid(env, world, who="alice", delivery=None, lines=(("TEE-M", 1),), **params) -> dict:
    for sku, quantity in lines:
        await add(env, world, who, sku, quantity, **params)
    placed = await place(env, world, who, delivery, **params)
    assert placed.status_code == 201, placed.text
    [order] = placed.json()["orders"]
    payer = "alice" if who == "station_op" else who
    response = await env.client.post(f"/api/v1/orders/{order['id']}/pay", json={}, headers=world.auth(payer))
    assert response.status_code == 200, response.text
    return order


async def order_of(env, world, order_id: int, who="operator") -> dict:
    response = await env.client.get(f"/api/v1/orders/{order_id}", headers=world.auth(who))
    assert response.status_code == 200, response.text
    return response.json()


async def allocate(env, world, order_id: int) -> list[dict]:
    moved = await env.client.post(f"/api/v1/orders/{order_id}/transitions", json={"to": "allocated"},
                                  headers=world.auth("staff_a"))
    assert moved.status_code == 200, moved.text
    return moved.json()["shipments"]


async def scan(env, world, shipment_id: int, to: str, who="staff_a", expect=200, **extra) -> dict:
    moved = await env.client.post(f"/api/v1/shipments/{shipment_id}/transitions", json={"to": to, **extra},
                                  headers=world.auth(who))
    assert moved.status_code == expect, moved.text
    return moved.json()


async def walk(env, world, shipment_id: int, *steps: str, who="staff_a") -> dict:
    for step in steps:
        shipment = await scan(env, world, shipment_id, step, who)
    return shipment


async def assert_checks_clean(env) -> None:
    assert (await run_checks(env.app.state.engine)).violations == []


async def topics(env, aggregate: str, aggregate_id: int) -> list[str]:
    async with env.uow() as uow:
        rows = await uow.conn.execute(select(outbox_events.c.topic).where(
            outbox_events.c.aggregate_type == aggregate, outbox_events.c.aggregate_id == str(aggregate_id))
            .order_by(outbox_events.c.id))
        return list(rows.scalars())


STATION_PICKUP = {"mode": "pickup", "location_id": None, "address": VILLAGER}


async def test_a_home_delivery_travels_door_to_door_and_the_order_follows_its_parcel(env):
    world = await build_world(env)
    order = await paid(env, world)
    [parcel] = await allocate(env, world, order["id"])
    assert (parcel["route"], parcel["status"], parcel["location_id"]) == ("door", "picking", world.ids["WH"])
    assert parcel["pickup_code"] is None and parcel["next"] == ["cancelled", "packed"]
    await scan(env, world, parcel["id"], "packed")
    assert await stock_of(env, world.ids["tee"], world.ids["WH"]) == (9, 0)  # the units left with the parcel
    assert (await order_of(env, world, order["id"]))["status"] == "allocated"  # packed, still in the warehouse
    await scan(env, world, parcel["id"], "handed_over")
    assert (await order_of(env, world, order["id"]))["status"] == "shipped"
    await scan(env, world, parcel["id"], "in_transit")
    done = await scan(env, world, parcel["id"], "delivered", note="left with the neighbour")
    assert [(e["from_status"], e["to_status"]) for e in done["timeline"]] == [
        (None, "picking"), ("picking", "packed"), ("packed", "handed_over"), ("handed_over", "in_transit"),
        ("in_transit", "delivered")]
    assert done["timeline"][-1]["note"] == "left with the neighbour" and done["next"] == []
    seen = await order_of(env, world, order["id"], "alice")
    assert seen["status"] == "delivered"  # delivered to a door: the shopper still confirms receipt
    assert [h["to_status"] for h in seen["history"]] == ["placed", "paid", "allocated", "shipped", "delivered"]
    assert await topics(env, "shipment", parcel["id"]) == [
        "shipment.picking", "shipment.packed", "shipment.handed_over", "shipment.in_transit", "shipment.delivered"]
    await assert_checks_clean(env)


async def test_an_order_from_two_locations_ships_in_two_parcels_and_is_shipped_only_when_both_are_out(env):
    world = await build_world(env, store_units=0)
    async with env.uow() as uow:
        from unichannel.inventory import service as inventory

        await inventory.receive(uow, None, world.ids["mug"], world.ids["STORE-1"], 3, "PO-9")
        await inventory.adjust(uow, None, world.ids["mug"], world.ids["WH"], -10, "moved to the store")
    order = await paid(env, world, lines=(("TEE-M", 1), ("MUG-1", 1)))
    parcels = await allocate(env, world, order["id"])
    assert sorted(p["location_id"] for p in parcels) == sorted([world.ids["WH"], world.ids["STORE-1"]])
    first, second = parcels
    await walk(env, world, first["id"], "packed", "handed_over")
    assert (await order_of(env, world, order["id"]))["status"] == "allocated"
    await walk(env, world, second["id"], "packed", "handed_over")
    assert (await order_of(env, world, order["id"]))["status"] == "shipped"
    await assert_checks_clean(env)


async def test_click_and_collect_in_the_store_needs_the_pickup_code_and_confirms_receipt(env):
    world = await build_world(env)
    pickup = {"mode": "pickup", "location_id": world.ids["STORE-1"]}
    order = await paid(env, world, delivery=pickup)
    [parcel] = await allocate(env, world, order["id"])
    assert (parcel["route"], parcel["location_id"]) == ("collect_here", world.ids["STORE-1"])
    await walk(env, world, parcel["id"], "packed", "ready_for_pickup", who="clerk_1")
    assert (await order_of(env, world, order["id"]))["status"] == "shipped"
    [shown] = (await order_of(env, world, order["id"], "alice"))["shipments"]
    code = shown["pickup_code"]
    assert code is not None and len(code) == 6
    assert (await order_of(env, world, order["id"], "clerk_1"))["shipments"][0]["pickup_code"] is None
    await scan(env, world, parcel["id"], "delivered", "clerk_1", expect=403)  # not without the code
    wrong = "000000" if code != "000000" else "111111"
    refused = await env.client.post(f"/api/v1/shipments/{parcel['id']}/collect", json={"pickup_code": wrong},
                                    headers=world.auth("clerk_1"))
    assert refused.status_code == 422 and refused.json()["code"] == "wrong_pickup_code"
    assert (await order_of(env, world, order["id"]))["status"] == "shipped"
    collected = await env.client.post(f"/api/v1/shipments/{parcel['id']}/collect", json={"pickup_code": code},
                                      headers=world.auth("clerk_1"))
    assert collected.status_code == 200, collected.text
    assert collected.json()["status"] == "delivered"
    seen = await order_of(env, world, order["id"], "alice")
    assert seen["status"] == "completed"  # collecting it confirmed receipt
    assert [h["to_status"] for h in seen["history"]][-2:] == ["delivered", "completed"]
    accounts = await env.client.get("/api/v1/ledger/accounts", headers=world.auth("operator"))
    balance = {(a["kind"], a["owner_id"]): a["balance"]["amount_minor"] for a in accounts.json()}
    assert balance[("escrow", 0)] == 0 and balance[("merchant_payable", world.ids["brand_a"])] == PRICE - 495
    await assert_checks_clean(env)


async def test_five_wrong_pickup_codes_give_the_shopper_a_new_one(env):
    world = await build_world(env)
    order = await paid(env, world, delivery={"mode": "pickup", "location_id": world.ids["STORE-1"]})
    [parcel] = await allocate(env, world, order["id"])
    await walk(env, world, parcel["id"], "packed", "ready_for_pickup", who="clerk_1")
    code = (await order_of(env, world, order["id"], "alice"))["shipments"][0]["pickup_code"]
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        refused = await env.client.post(f"/api/v1/shipments/{parcel['id']}/collect", json={"pickup_code": wrong},
                                        headers=world.auth("clerk_1"))
        assert refused.status_code == 422
    renewed = (await order_of(env, world, order["id"], "alice"))["shipments"][0]
    assert renewed["status"] == "ready_for_pickup" and renewed["timeline"][-1]["note"].startswith("too many")
    if renewed["pickup_code"] != code:  # one chance in a million that the new code is the old one
        stale = await env.client.post(f"/api/v1/shipments/{parcel['id']}/collect", json={"pickup_code": code},
                                      headers=world.auth("clerk_1"))
        assert stale.status_code == 422
    fresh = await env.client.post(f"/api/v1/shipments/{parcel['id']}/collect",
                                  json={"pickup_code": renewed["pickup_code"]}, headers=world.auth("clerk_1"))
    assert fresh.status_code == 200, fresh.text


async def test_a_villager_collects_at_the_station_from_its_operator(env):
    world = await build_world(env)
    delivery = STATION_PICKUP | {"location_id": world.ids["STATION"]}
    order = await paid(env, world, delivery=delivery)
    [parcel] = await allocate(env, world, order["id"])
    assert (parcel["route"], parcel["pickup_location_id"]) == ("station", world.ids["STATION"])
    await walk(env, world, parcel["id"], "packed", "handed_over", "in_transit")
    waiting = await env.client.get(f"/api/v1/stations/{world.ids['STATION']}/parcels",
                                   headers=world.auth("station_op"))
    assert [(p["shipment_id"], p["recipient"], p["phone_last_digits"]) for p in waiting.json()] == [
        (parcel["id"], "Wang Fang", "0303")]
    await scan(env, world, parcel["id"], "packed", "station_op", expect=403)  # the station only takes parcels in
    await scan(env, world, parcel["id"], "packed", expect=409)  # and nobody goes back
    await scan(env, world, parcel["id"], "at_station", "station_op")
    other = await env.client.get(f"/api/v1/stations/{world.ids['STATION']}/parcels", headers=world.auth("clerk_1"))
    assert other.status_code == 404
    code = (await order_of(env, world, order["id"], "alice"))["shipments"][0]["pickup_code"]
    elsewhere = await env.client.post(f"/api/v1/shipments/{parcel['id']}/collect", json={"pickup_code": code},
                                      headers=world.auth("clerk_1"))
    assert elsewhere.status_code == 404  # a store's clerk does not even see the station's parcel
    collected = await env.client.post(f"/api/v1/shipments/{parcel['id']}/collect", json={"pickup_code": code},
                                      headers=world.auth("station_op"))
    assert collected.status_code == 200, collected.text
    assert (await order_of(env, world, order["id"]))["status"] == "completed"
    await assert_checks_clean(env)


async def test_the_station_operator_places_an_assisted_order_for_a_villager(env):
    world = await build_world(env)
    villager = {"customer_id": world.ids["alice"]}
    delivery = STATION_PICKUP | {"location_id": world.ids["STATION"]}
    order = await paid(env, world, who="station_op", delivery=delivery, **villager)
    assert order["customer_id"] == world.ids["alice"] and order["channel"] == "online"
    assert order["total_minor"] == PRICE  # the online price; the station delivery is free over ¥50
    seen = await order_of(env, world, order["id"], "alice")
    assert seen["assisted_by_location_id"] == world.ids["STATION"]
    listed = await env.client.get("/api/v1/orders", headers=world.auth("station_op"))
    assert [o["id"] for o in listed.json()] == [order["id"]]
    at_till = await place(env, world, "station_op", {"mode": "in_store"}, **villager)
    assert at_till.status_code in (409, 422) and at_till.json()["field"] == "delivery.location_id"


async def test_the_stations_are_listed_with_their_area_runs_and_next_run(env):
    world = await build_world(env)
    response = await env.client.get("/api/v1/stations", headers=world.auth("alice"))
    [station] = response.json()
    assert (station["id"], station["service_radius_km"], station["runs"], station["run_time"]) == (
        world.ids["STATION"], 10.0, ["tue", "fri"], "14:00")
    assert station["next_run"].startswith("2026-11-13T06:00:00")  # Friday 14:00 in China


async def test_a_failed_delivery_is_tried_again_or_comes_back_restocked_and_refunded(env):
    world = await build_world(env)
    order = await paid(env, world)
    [parcel] = await allocate(env, world, order["id"])
    await walk(env, world, parcel["id"], "packed", "handed_over", "in_transit", "failed_delivery", "in_transit",
               "failed_delivery")
    back = await scan(env, world, parcel["id"], "returned", note="nobody home twice")
    assert back["status"] == "returned"
    assert await stock_of(env, world.ids["tee"], world.ids["WH"]) == (10, 0)
    seen = await order_of(env, world, order["id"], "alice")
    assert seen["status"] == "cancelled" and seen["cancel_reason"] == "every parcel came back undelivered"
    async with env.uow() as uow:
        amounts = [r["amount_minor"] for r in (await uow.conn.execute(
            select(refunds).where(refunds.c.order_id == order["id"]))).mappings()]
    assert sum(amounts) == order["total_minor"]  # the goods and the delivery fee
    await assert_checks_clean(env)


async def test_an_allocated_order_cancelled_after_packing_puts_the_units_back(env):
    world = await build_world(env)
    order = await paid(env, world)
    [parcel] = await allocate(env, world, order["id"])
    await scan(env, world, parcel["id"], "packed")
    assert await stock_of(env, world.ids["tee"], world.ids["WH"]) == (9, 0)
    cancelled = await env.client.post(f"/api/v1/orders/{order['id']}/cancel", json={"reason": "out of date"},
                                      headers=world.auth("staff_a"))
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["shipments"][0]["status"] == "cancelled"
    assert await stock_of(env, world.ids["tee"], world.ids["WH"]) == (10, 0)
    await assert_checks_clean(env)


async def test_a_shipped_order_cannot_be_cancelled_on_request(env):
    world = await build_world(env)
    order = await paid(env, world)
    [parcel] = await allocate(env, world, order["id"])
    await walk(env, world, parcel["id"], "packed", "handed_over")
    refused = await env.client.post(f"/api/v1/orders/{order['id']}/cancel", headers=world.auth("operator"))
    assert refused.status_code == 409 and refused.json()["code"] == "illegal_transition"
    assert (await order_of(env, world, order["id"]))["status"] == "shipped"


async def test_who_may_scan_a_parcel(env):
    world = await build_world(env)
    order = await paid(env, world)
    [parcel] = await allocate(env, world, order["id"])
    await scan(env, world, parcel["id"], "packed", "alice", expect=403)
    await scan(env, world, parcel["id"], "packed", "staff_b", expect=404)
    await scan(env, world, parcel["id"], "packed", "clerk_1", expect=404)  # it leaves from WH, not STORE-1
    await scan(env, world, parcel["id"], "delivered", expect=409)
    mine = await env.client.get(f"/api/v1/shipments/{parcel['id']}", headers=world.auth("alice"))
    assert mine.status_code == 200 and mine.json()["status"] == "picking"
    theirs = await env.client.get(f"/api/v1/shipments/{parcel['id']}", headers=world.auth("bob"))
    assert theirs.status_code == 404


async def receive_lot(env, world, code: str, best_before: date, quantity: int, location="WH", who="operator"):
    response = await env.client.post("/api/v1/stock/receive", json={
        "variant_id": world.ids["mug"], "location_id": world.ids[location], "quantity": quantity,
        "lot": {"code": code, "best_before": best_before.isoformat()}}, headers=world.auth(who))
    assert response.status_code == 200, response.text


async def lot_levels(env, world) -> dict[str, int]:
    async with env.uow() as uow:
        rows = await uow.conn.execute(select(lots.c.code, lots.c.remaining).where(lots.c.variant_id == world.ids["mug"]))
        return dict(rows.all())


async def test_packing_fresh_produce_takes_the_earliest_best_before_first_and_never_an_expired_lot(env):
    world = await build_world(env, warehouse_units=0)
    await receive_lot(env, world, "L-LATE", date(2026, 11, 20), 5)
    await receive_lot(env, world, "L-EXPIRED", date(2026, 11, 10), 4)  # the day before the clock's day
    await receive_lot(env, world, "L-SOON", date(2026, 11, 11), 2)  # good through today
    order = await paid(env, world, lines=(("MUG-1", 4),))
    [parcel] = await allocate(env, world, order["id"])
    packed = await scan(env, world, parcel["id"], "packed")
    async with env.uow() as uow:
        ids = dict((await uow.conn.execute(select(lots.c.code, lots.c.id))).all())
    assert packed["lines"][0]["lots"] == [[ids["L-SOON"], 2], [ids["L-LATE"], 2]]
    assert await lot_levels(env, world) == {"L-LATE": 3, "L-EXPIRED": 4, "L-SOON": 0}
    left = (await env.client.get("/api/v1/stock/lots", params={"variant_id": world.ids["mug"]},
                                 headers=world.auth("staff_a"))).json()
    assert [(lot["code"], lot["remaining"]) for lot in left] == [("L-EXPIRED", 4), ("L-LATE", 3)]
    await assert_checks_clean(env)


async def test_packing_is_refused_when_only_expired_units_are_left(env):
    world = await build_world(env, warehouse_units=0)
    await receive_lot(env, world, "L-OLD", date(2026, 11, 10), 3)
    await receive_lot(env, world, "L-NEW", date(2026, 12, 1), 1)
    order = await paid(env, world, lines=(("MUG-1", 2),))
    [parcel] = await allocate(env, world, order["id"])
    refused = await scan(env, world, parcel["id"], "packed", expect=409)
    assert refused["code"] == "expired_stock" and "only 1 of 2" in refused["message"]
    assert await lot_levels(env, world) == {"L-OLD": 3, "L-NEW": 1}  # nothing taken
    assert await stock_of(env, world.ids["mug"], world.ids["WH"]) == (4, 2)
    await assert_checks_clean(env)


async def test_the_sweeper_writes_off_expired_lots_but_not_units_held_for_orders(env):
    world = await build_world(env, warehouse_units=0)
    await receive_lot(env, world, "L-OLD", date(2026, 11, 12), 3)
    await paid(env, world, lines=(("MUG-1", 1),))  # holds one unit (of any lot)
    env.clock.advance(days=2)  # 11-13: L-OLD is past its date
    from unichannel.inventory import service as inventory

    async with env.uow() as uow:
        written_off = await inventory.write_off_expired_lots(uow)
    assert written_off == 2 and await lot_levels(env, world) == {"L-OLD": 1}
    assert await stock_of(env, world.ids["mug"], world.ids["WH"]) == (1, 1)
    async with env.uow() as uow:
        [reason] = (await uow.conn.execute(select(stock_movements.c.reason).where(
            stock_movements.c.kind == "adjust"))).scalars().all()
    assert reason == "lot L-OLD past its best-before date 2026-11-12"
    await assert_checks_clean(env)


async def test_units_in_lots_are_written_off_and_moved_by_naming_the_lot(env):
    world = await build_world(env, warehouse_units=0)
    await receive_lot(env, world, "L-1", date(2026, 12, 1), 3)
    unnamed = await env.client.post("/api/v1/stock/adjust", json={
        "variant_id": world.ids["mug"], "location_id": world.ids["WH"], "delta": -1, "reason": "dropped"},
        headers=world.auth("operator"))
    assert unnamed.status_code == 422 and unnamed.json()["field"] == "lot_code"
    named = await env.client.post("/api/v1/stock/adjust", json={
        "variant_id": world.ids["mug"], "location_id": world.ids["WH"], "delta": -1, "reason": "dropped",
        "lot_code": "L-1"}, headers=world.auth("operator"))
    assert named.status_code == 200 and named.json()["on_hand"] == 2
    moved = await env.client.post("/api/v1/stock/transfer", json={
        "variant_id": world.ids["mug"], "from_location_id": world.ids["WH"], "to_location_id": world.ids["STORE-1"],
        "quantity": 2, "lot_code": "L-1"}, headers=world.auth("operator"))
    assert moved.status_code == 200, moved.text
    store_lots = (await env.client.get("/api/v1/stock/lots", params={"location_id": world.ids["STORE-1"]},
                                       headers=world.auth("operator"))).json()
    assert [(lot["code"], lot["best_before"], lot["remaining"]) for lot in store_lots] == [("L-1", "2026-12-01", 2)]
    again = await env.client.post("/api/v1/stock/receive", json={
        "variant_id": world.ids["mug"], "location_id": world.ids["WH"], "quantity": 1,
        "lot": {"code": "L-1", "best_before": "2026-12-24"}}, headers=world.auth("operator"))
    assert again.status_code == 409 and again.json()["field"] == "lot.best_before"
    await assert_checks_clean(env)


async def delivered_order(env, world, lines=(("TEE-M", 2),)) -> dict:
    order = await paid(env, world, lines=lines)
    [parcel] = await allocate(env, world, order["id"])
    await walk(env, world, parcel["id"], "packed", "handed_over", "in_transit", "delivered")
    return await order_of(env, world, order["id"], "alice")


async def ask_return(env, world, order: dict, quantity: int, who="alice", expect=201):
    line = order["lines"][0]
    response = await env.client.post(f"/api/v1/orders/{order['id']}/returns", json={
        "lines": [{"line_id": line["id"], "quantity": quantity}], "reason": "too small"}, headers=world.auth(who))
    assert response.status_code == expect, response.text
    return response.json()


async def test_a_return_within_the_window_restocks_the_sellable_units_and_refunds_them(env):
    world = await build_world(env, store_units=0)
    order = await delivered_order(env, world)
    assert await stock_of(env, world.ids["tee"], world.ids["WH"]) == (8, 0)
    asked = await ask_return(env, world, order, 2)
    assert (asked["status"], asked["refund_minor"], len(asked["shipment_ids"])) == ("open", 2 * PRICE, 1)
    await ask_return(env, world, order, 1, expect=422)  # both units are on their way back already
    [parcel_id] = asked["shipment_ids"]
    await walk(env, world, parcel_id, "handed_over", "in_transit")
    env.clock.advance(days=11)  # past the automatic confirmation: an open return holds it back
    from unichannel.orders import service as orders_service

    async with env.uow() as uow:
        assert await orders_service.confirm_delivered_orders(uow) == []
    line_id = order["lines"][0]["id"]
    received = await env.client.post(f"/api/v1/returns/{asked['id']}/receive",
                                     json={"lines": [{"line_id": line_id, "sellable": 1}]},
                                     headers=world.auth("staff_a"))
    assert received.status_code == 200, received.text
    assert received.json()["status"] == "received" and received.json()["lines"][0]["sellable"] == 1
    assert await stock_of(env, world.ids["tee"], world.ids["WH"]) == (9, 0)  # the damaged one is not restocked
    async with env.uow() as uow:
        [refund] = (await uow.conn.execute(select(refunds).where(refunds.c.order_id == order["id"]))).mappings()
    assert (refund["amount_minor"], refund["status"]) == (2 * PRICE, "succeeded")
    shipment = await env.client.get(f"/api/v1/shipments/{parcel_id}", headers=world.auth("alice"))
    assert shipment.json()["status"] == "returned" and shipment.json()["direction"] == "return"
    again = await env.client.post(f"/api/v1/returns/{asked['id']}/receive", headers=world.auth("staff_a"))
    assert again.status_code == 409
    await assert_checks_clean(env)


async def test_no_return_after_the_window_or_beyond_what_was_delivered(env):
    world = await build_world(env, store_units=0)
    order = await delivered_order(env, world)
    refused = await ask_return(env, world, order, 3, expect=422)
    assert refused["field"] == "lines"
    await ask_return(env, world, order, 1, who="bob", expect=404)
    env.clock.advance(days=7, minutes=1)
    closed = await ask_return(env, world, order, 1, expect=409)
    assert closed["code"] == "return_window_closed"


async def test_a_return_of_an_order_not_delivered_is_refused(env):
    world = await build_world(env)
    order = await paid(env, world)
    response = await env.client.post(f"/api/v1/orders/{order['id']}/returns", json={
        "lines": [{"line_id": order["lines"][0]["id"], "quantity": 1}], "reason": "changed my mind"},
        headers=world.auth("alice"))
    assert response.status_code == 409 and response.json()["code"] == "illegal_transition"


@pytest.mark.parametrize(
    "body", [{"lines": [], "reason": "x"}, {"lines": [{"line_id": 1, "quantity": 0}], "reason": "x"},
             {"lines": [{"line_id": 1, "quantity": 1}], "reason": ""},
             {"lines": [{"line_id": 1, "quantity": 1}], "reason": "x" * 201}],
    ids=["no-lines", "zero", "no-reason", "reason-too-long"])
async def test_bad_return_input_is_a_clear_422(env, body):
    world = await build_world(env)
    order = await delivered_order(env, world)
    response = await env.client.post(f"/api/v1/orders/{order['id']}/returns", json=body, headers=world.auth("alice"))
    assert response.status_code == 422 and response.json()["code"] == "invalid_input"


async def test_a_retried_return_request_with_the_same_key_creates_one_return(env):
    world = await build_world(env)
    order = await delivered_order(env, world)
    body = {"lines": [{"line_id": order["lines"][0]["id"], "quantity": 1}], "reason": "too small"}
    headers = world.auth("alice") | {"Idempotency-Key": "return-once"}
    first = await env.client.post(f"/api/v1/orders/{order['id']}/returns", json=body, headers=headers)
    second = await env.client.post(f"/api/v1/orders/{order['id']}/returns", json=body, headers=headers)
    assert first.status_code == second.status_code == 201 and first.json()["id"] == second.json()["id"]
    assert len((await order_of(env, world, order["id"], "alice"))["returns"]) == 1
    await assert_checks_clean(env)


async def test_a_parcel_is_cancelled_only_with_its_order(env):
    world = await build_world(env)
    order = await paid(env, world)
    [parcel] = await allocate(env, world, order["id"])
    refused = await scan(env, world, parcel["id"], "cancelled", "operator", expect=403)
    assert refused["field"] == "to"
    assert (await order_of(env, world, order["id"]))["shipments"][0]["status"] == "picking"


async def test_an_order_with_a_parcel_on_its_way_can_no_longer_be_cancelled(env):
    world = await build_world(env, store_units=0)
    async with env.uow() as uow:
        from unichannel.inventory import service as inventory

        await inventory.receive(uow, None, world.ids["mug"], world.ids["STORE-1"], 3, "PO-9")
        await inventory.adjust(uow, None, world.ids["mug"], world.ids["WH"], -10, "moved to the store")
    order = await paid(env, world, lines=(("TEE-M", 1), ("MUG-1", 1)))
    first, _ = await allocate(env, world, order["id"])
    await walk(env, world, first["id"], "packed", "handed_over", "in_transit", "delivered")
    refused = await env.client.post(f"/api/v1/orders/{order['id']}/cancel", headers=world.auth("staff_a"))
    assert refused.status_code == 409 and refused.json()["code"] == "illegal_transition"
    async with env.uow() as uow:
        assert (await uow.conn.execute(select(refunds.c.id))).all() == []
    await assert_checks_clean(env)


async def test_order_level_moves_respect_the_parcels_rules(env):
    world = await build_world(env)
    order = await paid(env, world, delivery={"mode": "pickup", "location_id": world.ids["STORE-1"]})
    await allocate(env, world, order["id"])
    by_clerk = await env.client.post(f"/api/v1/orders/{order['id']}/transitions", json={"to": "shipped"},
                                     headers=world.auth("clerk_1"))
    assert by_clerk.status_code == 403  # a clerk scans the parcels
    shipped = await env.client.post(f"/api/v1/orders/{order['id']}/transitions", json={"to": "shipped"},
                                    headers=world.auth("staff_a"))
    assert shipped.status_code == 200 and shipped.json()["shipments"][0]["status"] == "ready_for_pickup"
    without_code = await env.client.post(f"/api/v1/orders/{order['id']}/transitions", json={"to": "delivered"},
                                         headers=world.auth("operator"))
    assert without_code.status_code == 403  # only the pickup code delivers it
    await assert_checks_clean(env)


async def test_a_till_sale_of_fresh_produce_takes_its_lot_first_expiry_first_out(env):
    world = await build_world(env, warehouse_units=0)
    await receive_lot(env, world, "L-S1", date(2026, 11, 30), 2, location="STORE-1")
    await receive_lot(env, world, "L-S0", date(2026, 11, 20), 1, location="STORE-1")
    till = {"customer_id": world.ids["alice"]}
    await add(env, world, "clerk_1", "MUG-1", 2, **till)
    placed = await place(env, world, "clerk_1", {"mode": "in_store"}, **till)
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["orders"][0]["id"]
    paid_at_till = await env.client.post(f"/api/v1/orders/{order_id}/pay", json={}, headers=world.auth("clerk_1"))
    assert paid_at_till.status_code == 200, paid_at_till.text
    for step in ("allocated", "shipped"):
        moved = await env.client.post(f"/api/v1/orders/{order_id}/transitions", json={"to": step},
                                      headers=world.auth("clerk_1"))
        assert moved.status_code == 200, moved.text
    assert await lot_levels(env, world) == {"L-S0": 0, "L-S1": 1}
    await assert_checks_clean(env)


async def test_a_refund_given_while_a_return_is_open_is_not_paid_twice_on_receipt(env):
    world = await build_world(env, store_units=0)
    order = await delivered_order(env, world)
    asked = await ask_return(env, world, order, 1)
    refund = await env.client.post(f"/api/v1/orders/{order['id']}/refunds", json={"amount_minor": PRICE + 5000},
                                   headers=world.auth("staff_a"))
    assert refund.status_code == 201, refund.text
    received = await env.client.post(f"/api/v1/returns/{asked['id']}/receive", headers=world.auth("staff_a"))
    assert received.status_code == 200, received.text
    async with env.uow() as uow:
        amounts = sorted((await uow.conn.execute(select(refunds.c.amount_minor)
                                                 .where(refunds.c.order_id == order["id"]))).scalars())
    assert amounts == [PRICE - 5000, PRICE + 5000]  # 2 x ¥99.00 paid; never more back
    await assert_checks_clean(env)


async def test_a_parcel_in_transit_again_after_a_failed_delivery_keeps_each_scan_replayable(env):
    world = await build_world(env)
    order = await paid(env, world)
    [parcel] = await allocate(env, world, order["id"])
    await walk(env, world, parcel["id"], "packed", "handed_over")
    for n, step in enumerate(("in_transit", "failed_delivery", "in_transit")):
        headers = world.auth("staff_a") | {"Idempotency-Key": f"scan-{n}"}
        moved = await env.client.post(f"/api/v1/shipments/{parcel['id']}/transitions", json={"to": step},
                                      headers=headers)
        assert moved.status_code == 200, moved.text
        again = await env.client.post(f"/api/v1/shipments/{parcel['id']}/transitions", json={"to": step},
                                      headers=headers)
        assert again.json() == moved.json()
    await assert_checks_clean(env)


async def test_a_station_operator_can_have_an_assisted_order_delivered_home(env):
    world = await build_world(env)
    villager = {"customer_id": world.ids["alice"]}
    await add(env, world, "station_op", **villager)
    placed = await place(env, world, "station_op", HOME, **villager)
    assert placed.status_code == 201, placed.text
    [order] = placed.json()["orders"]
    assert (order["delivery_mode"], order["location_id"]) == ("home_delivery", None)
