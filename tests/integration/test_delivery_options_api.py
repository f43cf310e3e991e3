"""The delivery options of a cart through the API, on the test world (a warehouse WH with 10 tees, STORE-1 with 2,
STORE-2 with none, a village station far to the south-west). The clock opens at 11.11 00:00 in China; stores open
09:00-22:00 by default."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from tests.integration.test_orders_api import add
from tests.integration.world import build_world, stock_of

NEAR_STORE_1 = {"latitude": 30.2800, "longitude": 120.1300}  # about 0.5 km from STORE-1
IN_THE_VILLAGE = {"latitude": 29.3700, "longitude": 119.2200}  # about 1 km from the station


async def options(env, world, who="alice", **params) -> dict[tuple[str, int | None], dict]:
    response = await env.client.get("/api/v1/cart/delivery-options", params=params, headers=world.auth(who))
    assert response.status_code == 200, response.text
    [part] = response.json()
    return {(o["promise"], o["location_id"]): o for o in part["options"]}


async def test_at_noon_near_a_store_the_cart_can_come_home_in_thirty_minutes_or_be_picked_up(env):
    world = await build_world(env)
    await add(env, world, "alice")
    env.clock.advance(hours=12)  # 12:00 in Hangzhou
    offered = await options(env, world, **NEAR_STORE_1)
    assert set(offered) == {("home_delivery", None), ("express_30_min", world.ids["STORE-1"]),
                            ("store_pickup", world.ids["STORE-1"])}
    assert offered[("home_delivery", None)]["fee"]["amount_minor"] == 0  # ¥99.00 reaches the free threshold
    express = offered[("express_30_min", world.ids["STORE-1"])]
    assert express["fee"]["amount_minor"] == 800 and express["picks"] == [
        {"location_id": world.ids["STORE-1"], "line_id": express["picks"][0]["line_id"], "quantity": 1}]
    assert (datetime.fromisoformat(express["latest"]) - datetime.fromisoformat(express["earliest"])).seconds == 1800


async def test_at_midnight_no_thirty_minute_delivery_and_pickup_is_ready_an_hour_after_opening(env):
    world = await build_world(env)
    await add(env, world, "alice")
    offered = await options(env, world, **NEAR_STORE_1)
    assert ("express_30_min", world.ids["STORE-1"]) not in offered
    pickup = offered[("store_pickup", world.ids["STORE-1"])]
    assert pickup["earliest"].startswith("2026-11-11T02:00:00")  # 10:00 in China


async def test_more_than_the_store_holds_is_neither_delivered_in_thirty_minutes_nor_picked_up_there(env):
    world = await build_world(env)
    await add(env, world, "alice", quantity=3)
    env.clock.advance(hours=12)
    offered = await options(env, world, **NEAR_STORE_1)
    assert list(offered) == [("home_delivery", None)]
    assert offered[("home_delivery", None)]["picks"][0]["location_id"] == world.ids["WH"]


async def test_a_villager_is_offered_the_village_station_with_its_next_run(env):
    world = await build_world(env)
    await add(env, world, "alice")
    env.clock.advance(hours=12)  # Wednesday noon; runs are on Tuesday and Friday at 14:00, 12 hours' notice
    station = (await options(env, world, **IN_THE_VILLAGE))[("station_pickup", world.ids["STATION"])]
    assert station["earliest"].startswith("2026-11-13T06:00:00") and station["fee"]["amount_minor"] == 0


async def test_a_clerk_is_offered_delivery_home_from_the_till_store(env):
    world = await build_world(env)
    await env.client.post("/api/v1/cart/lines", json={"sku": "TEE-M", "merchant": "brand-a", "quantity": 1},
                          params={"customer_id": world.ids["alice"]}, headers=world.auth("clerk_1"))
    offered = await options(env, world, "clerk_1", customer_id=world.ids["alice"], **NEAR_STORE_1)
    assert list(offered) == [("home_delivery", world.ids["STORE-1"])]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"latitude": 30.28}, "latitude"), ({"latitude": 91, "longitude": 120}, "latitude"),
     ({"latitude": 30, "longitude": 181}, "longitude"), ({"latitude": "north", "longitude": 120}, "latitude")],
    ids=["latitude-alone", "latitude-out-of-range", "longitude-out-of-range", "not-a-number"],
)
async def test_bad_coordinates_are_a_clear_422(env, params, field):
    world = await build_world(env)
    await add(env, world, "alice")
    response = await env.client.get("/api/v1/cart/delivery-options", params=params, headers=world.auth("alice"))
    assert response.status_code == 422 and response.json()["field"] == field, response.text


async def test_an_empty_cart_has_no_delivery_options_to_ask_for(env):
    world = await build_world(env)
    response = await env.client.get("/api/v1/cart/delivery-options", params=NEAR_STORE_1,
                                    headers=world.auth("alice"))
    assert response.status_code == 409 and response.json()["code"] == "empty_cart"


@pytest.mark.parametrize(
    ("details", "field"),
    [({"delivery_radius_km": -1}, "details.delivery_radius_km"),
     ({"opening_hours": {"opens": "22:00", "closes": "09:00"}}, "details.opening_hours"),
     ({"express_orders_per_hour": "many"}, "details.express_orders_per_hour")],
    ids=["negative-radius", "closes-before-it-opens", "capacity-not-a-number"],
)
async def test_a_store_with_impossible_delivery_details_is_refused(env, details, field):
    world = await build_world(env)
    response = await env.client.post("/api/v1/locations", json={
        "code": "STORE-X", "name": "X", "kind": "store", "address": "1 Road", "city": "Hangzhou",
        "latitude": 30.27, "longitude": 120.15, "details": details}, headers=world.auth("operator"))
    assert response.status_code == 422 and response.json()["field"] == field, response.text


@pytest.mark.parametrize("database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
async def test_two_checkouts_racing_for_a_stores_last_unit_by_30_minute_delivery_one_wins_the_other_is_offered_more(
    env,
):
    world = await build_world(env, store_units=1)
    for who in ("alice", "bob"):
        await add(env, world, who)
    env.clock.advance(hours=12)
    express = {"mode": "express", "address": {"name": "N", "phone": "+8613900000999", "line1": "1 Lake Road",
                                              "city": "Hangzhou", **NEAR_STORE_1}}

    async def checkout(who: str):
        return await env.client.post("/api/v1/orders", json={"delivery": express}, headers=world.auth(who))

    results = await asyncio.gather(checkout("alice"), checkout("bob"))
    assert sorted(r.status_code for r in results) == [201, 409]
    [loser] = [who for who, r in zip(("alice", "bob"), results, strict=True) if r.status_code == 409]
    assert results[("alice", "bob").index(loser)].json()["code"] == "cannot_fulfil"
    [winner_order] = next(r for r in results if r.status_code == 201).json()["orders"]
    assert (winner_order["delivery_mode"], winner_order["location_id"], winner_order["delivery_minor"]) == (
        "express", world.ids["STORE-1"], 800)
    assert await stock_of(env, world.ids["tee"], world.ids["STORE-1"]) == (1, 1)
    offered = await options(env, world, loser, **NEAR_STORE_1)
    assert ("express_30_min", world.ids["STORE-1"]) not in offered  # the store's last unit is gone
    home = offered[("home_delivery", None)]  # the next best: home delivery from the warehouse
    assert home["picks"][0]["location_id"] == world.ids["WH"]
    second = await env.client.post("/api/v1/orders", json={"delivery": {**express, "mode": "home_delivery"}},
                                   headers=world.auth(loser))
    assert second.status_code == 201, second.text


async def test_a_merchant_chooses_nearest_first_and_its_home_deliveries_come_from_the_nearby_store(env):
    world = await build_world(env)
    await add(env, world, "alice")
    before = await options(env, world, **NEAR_STORE_1)
    assert before[("home_delivery", None)]["picks"][0]["location_id"] == world.ids["WH"]  # keep shelves stocked
    changed = await env.client.put(f"/api/v1/merchants/{world.ids['brand_a']}/fulfilment-strategy",
                                   json={"strategy": "nearest_first"}, headers=world.auth("staff_a"))
    assert changed.status_code == 200 and changed.json()["fulfilment_strategy"] == "nearest_first"
    after = await options(env, world, **NEAR_STORE_1)
    assert after[("home_delivery", None)]["picks"][0]["location_id"] == world.ids["STORE-1"]


@pytest.mark.parametrize(("who", "body", "status"), [("staff_b", {"strategy": "nearest_first"}, 404),
                                                      ("staff_a", {"strategy": "cheapest"}, 422),
                                                      ("alice", {"strategy": "nearest_first"}, 403)],
                         ids=["another-merchants-staff", "unknown-strategy", "a-shopper"])
async def test_only_the_merchant_or_an_operator_sets_a_known_strategy(env, who, body, status):
    world = await build_world(env)
    response = await env.client.put(f"/api/v1/merchants/{world.ids['brand_a']}/fulfilment-strategy", json=body,
                                    headers=world.auth(who))
    assert response.status_code == status, response.text
    merchants = (await env.client.get("/api/v1/merchants")).json()
    assert next(m for m in merchants if m["id"] == world.ids["brand_a"])["fulfilment_strategy"] == "keep_shelves_stocked"


async def test_home_delivery_to_an_address_without_coordinates_ships_from_the_warehouse(env):
    world = await build_world(env)
    await add(env, world, "alice")
    address = {"name": "A", "phone": "+8613900000101", "line1": "1 Wensan Road", "city": "Hangzhou"}
    placed = await env.client.post("/api/v1/orders", json={"delivery": {"mode": "home_delivery", "address": address}},
                                   headers=world.auth("alice"))
    assert placed.status_code == 201, placed.text
    assert placed.json()["orders"][0]["lines"][0]["location_id"] == world.ids["WH"]


async def test_an_address_with_a_latitude_but_no_longitude_is_a_clear_422(env):
    world = await build_world(env)
    await add(env, world, "alice")
    address = {"name": "A", "phone": "+8613900000101", "line1": "1 Road", "city": "Hangzhou", "latitude": 30.28}
    placed = await env.client.post("/api/v1/orders", json={"delivery": {"mode": "express", "address": address}},
                                   headers=world.auth("alice"))
    assert placed.status_code == 422 and placed.json()["field"] == "delivery.address", placed.text
