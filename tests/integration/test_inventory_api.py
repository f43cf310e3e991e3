"""Inventory through the HTTP API: receive, adjust, transfer, safety stock, movements, scoping, locations."""

from __future__ import annotations

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from tests.integration.world import HOME, build_world, count, stock_of
from unichannel.inventory.model import MAX_ON_HAND
from unichannel.inventory.repository import locations, stock, stock_movements


def assert_error(response, status: int, code: str, field: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.json() == {"code": code, "message": response.json()["message"], "field": field}


def level(variant_id: int, location_id: int, on_hand: int, reserved: int = 0, safety_stock: int = 0) -> dict:
    return {"variant_id": variant_id, "location_id": location_id, "on_hand": on_hand, "reserved": reserved,
            "safety_stock": safety_stock, "available": max(0, on_hand - reserved - safety_stock)}


async def movements(env, world, who="operator", **params) -> list[tuple[str, int, int]]:
    """(kind, location_id, signed quantity) of the caller's movements, oldest first."""
    listed = await env.client.get("/api/v1/stock/movements", params=params, headers=world.auth(who))
    assert listed.status_code == 200, listed.text
    return [(m["kind"], m["location_id"], m["quantity"]) for m in reversed(listed.json())]


async def stock_table(env) -> tuple[int, int]:
    return await count(env, stock), await count(env, stock_movements)


async def hold_two_tees_at_the_warehouse(env, world) -> None:
    """alice orders 2 of brand-a's TEE-M for home delivery: WH then holds (10 on hand, 2 reserved)."""
    added = await env.client.post("/api/v1/cart/lines", json={"sku": "TEE-M", "merchant": "brand-a", "quantity": 2},
                                  headers=world.auth("alice"))
    assert added.status_code == 201, added.text
    placed = await env.client.post("/api/v1/orders", json={"delivery": HOME}, headers=world.auth("alice"))
    assert placed.status_code == 201, placed.text
    assert await stock_of(env, world.ids["tee"], world.ids["WH"]) == (10, 2)


# --- receive, adjust, transfer, safety ---------------------------------------------------------------------------

async def test_receiving_adds_to_on_hand_and_records_a_receive_movement(env):
    world = await build_world(env)
    mug, store = world.ids["mug"], world.ids["STORE-2"]

    received = await env.client.post("/api/v1/stock/receive", json={
        "variant_id": mug, "location_id": store, "quantity": 7, "reference": "PO-9"}, headers=world.auth("operator"))

    assert received.status_code == 200, received.text
    assert received.json() == level(mug, store, 7)
    assert await stock_of(env, mug, store) == (7, 0)
    assert await movements(env, world, variant_id=mug, location_id=store) == [("receive", store, 7)]


async def test_adjusting_changes_on_hand_by_a_signed_delta_with_a_reason(env):
    world = await build_world(env)
    mug, wh = world.ids["mug"], world.ids["WH"]

    down = await env.client.post("/api/v1/stock/adjust", json={
        "variant_id": mug, "location_id": wh, "delta": -3, "reason": "broken in transit"},
        headers=world.auth("operator"))
    up = await env.client.post("/api/v1/stock/adjust", json={
        "variant_id": mug, "location_id": wh, "delta": 1, "reason": "found on recount"},
        headers=world.auth("operator"))

    assert down.status_code == 200 and down.json() == level(mug, wh, 7)
    assert up.status_code == 200 and up.json() == level(mug, wh, 8)
    assert await stock_of(env, mug, wh) == (8, 0)
    assert await movements(env, world, variant_id=mug) == [("receive", wh, 10), ("adjust", wh, -3), ("adjust", wh, 1)]


async def test_transfer_moves_units_between_two_locations_with_a_movement_on_each_side(env):
    world = await build_world(env)
    tee, wh, store = world.ids["tee"], world.ids["WH"], world.ids["STORE-2"]

    moved = await env.client.post("/api/v1/stock/transfer", json={
        "variant_id": tee, "from_location_id": wh, "to_location_id": store, "quantity": 4},
        headers=world.auth("operator"))

    assert moved.status_code == 200, moved.text
    assert moved.json() == {"source": level(tee, wh, 6), "destination": level(tee, store, 4)}
    assert await stock_of(env, tee, wh) == (6, 0) and await stock_of(env, tee, store) == (4, 0)
    assert (await movements(env, world, variant_id=tee))[-2:] == [("transfer_out", wh, -4), ("transfer_in", store, 4)]


async def test_safety_stock_is_kept_back_from_what_is_available(env):
    world = await build_world(env)
    tee, wh = world.ids["tee"], world.ids["WH"]
    movements_before = await count(env, stock_movements)

    kept = await env.client.put("/api/v1/stock/safety", json={"variant_id": tee, "location_id": wh,
                                                              "safety_stock": 4}, headers=world.auth("operator"))

    assert kept.status_code == 200, kept.text
    assert kept.json() == level(tee, wh, 10, safety_stock=4)
    assert kept.json()["available"] == 6
    assert await count(env, stock_movements) == movements_before  # on_hand did not move


async def test_adjust_without_a_reason_is_refused(env):
    world = await build_world(env)
    before = await stock_table(env)
    body = {"variant_id": world.ids["mug"], "location_id": world.ids["WH"], "delta": -1}

    missing = await env.client.post("/api/v1/stock/adjust", json=body, headers=world.auth("operator"))
    blank = await env.client.post("/api/v1/stock/adjust", json={**body, "reason": "   "},
                                  headers=world.auth("operator"))

    assert_error(missing, 422, "invalid_input", "reason")
    assert_error(blank, 422, "invalid_input", "reason")
    assert await stock_of(env, world.ids["mug"], world.ids["WH"]) == (10, 0)
    assert await stock_table(env) == before


async def test_adjust_below_what_is_reserved_is_refused_and_changes_nothing(env):
    world = await build_world(env)
    await hold_two_tees_at_the_warehouse(env, world)
    before = await stock_table(env)

    refused = await env.client.post("/api/v1/stock/adjust", json={
        "variant_id": world.ids["tee"], "location_id": world.ids["WH"], "delta": -9, "reason": "write-off"},
        headers=world.auth("operator"))

    assert_error(refused, 409, "insufficient_stock", "delta")
    assert await stock_of(env, world.ids["tee"], world.ids["WH"]) == (10, 2)
    assert await stock_table(env) == before


@pytest.mark.parametrize("direction", ["source-locked-first", "destination-locked-first"])
async def test_transfer_of_more_than_the_unreserved_units_changes_neither_side(env, direction):
    world = await build_world(env)
    await hold_two_tees_at_the_warehouse(env, world)
    tee, wh, store_1, store_2 = world.ids["tee"], world.ids["WH"], world.ids["STORE-1"], world.ids["STORE-2"]
    # Rows are locked in location-id order (WH < STORE-1 < STORE-2): from WH the failing side is written first;
    # from STORE-1 to WH the destination is written first and must be undone.
    source, destination, quantity = (wh, store_2, 9) if direction == "source-locked-first" else (store_1, wh, 3)
    levels_before = {loc: await stock_of(env, tee, loc) for loc in (wh, store_1, store_2)}
    before = await stock_table(env)

    refused = await env.client.post("/api/v1/stock/transfer", json={
        "variant_id": tee, "from_location_id": source, "to_location_id": destination, "quantity": quantity},
        headers=world.auth("operator"))

    assert_error(refused, 409, "insufficient_stock", "quantity")
    assert levels_before == {wh: (10, 2), store_1: (2, 0), store_2: (0, 0)}
    assert {loc: await stock_of(env, tee, loc) for loc in (wh, store_1, store_2)} == levels_before
    assert await stock_table(env) == before


async def test_transfer_to_the_same_location_is_refused(env):
    world = await build_world(env)
    before = await stock_table(env)

    refused = await env.client.post("/api/v1/stock/transfer", json={
        "variant_id": world.ids["tee"], "from_location_id": world.ids["WH"], "to_location_id": world.ids["WH"],
        "quantity": 1}, headers=world.auth("operator"))

    assert_error(refused, 422, "invalid_input", "to_location_id")
    assert await stock_of(env, world.ids["tee"], world.ids["WH"]) == (10, 0)
    assert await stock_table(env) == before


# --- who may change stock ----------------------------------------------------------------------------------------

async def test_a_clerk_receives_at_their_own_store_only(env):
    world = await build_world(env)
    tee, store_1, store_2 = world.ids["tee"], world.ids["STORE-1"], world.ids["STORE-2"]

    own = await env.client.post("/api/v1/stock/receive", json={"variant_id": tee, "location_id": store_1,
                                                               "quantity": 3}, headers=world.auth("clerk_1"))
    before = await stock_table(env)
    other = await env.client.post("/api/v1/stock/receive", json={"variant_id": tee, "location_id": store_2,
                                                                 "quantity": 3}, headers=world.auth("clerk_1"))

    assert own.status_code == 200 and own.json() == level(tee, store_1, 5)
    assert_error(other, 404, "not_found")
    assert await stock_of(env, tee, store_2) == (0, 0)
    assert await stock_table(env) == before


async def test_staff_of_another_merchant_cannot_receive_its_sku(env):
    world = await build_world(env)
    location = await env.client.post("/api/v1/locations", json={
        "code": "B-SHOP", "name": "B Shop", "kind": "store", "address": "2 Hefang St", "city": "Hangzhou",
        "latitude": 30.24, "longitude": 120.17}, headers=world.auth("staff_b"))
    assert location.status_code == 201, location.text
    before = await stock_table(env)

    refused = await env.client.post("/api/v1/stock/receive", json={
        "variant_id": world.ids["tee"], "location_id": location.json()["id"], "quantity": 5},
        headers=world.auth("staff_b"))

    assert_error(refused, 404, "not_found", "variant_id")
    assert await stock_of(env, world.ids["tee"], location.json()["id"]) == (0, 0)
    assert await stock_table(env) == before


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/stock/receive", {"quantity": 5}),
        ("POST", "/api/v1/stock/adjust", {"delta": -5, "reason": "mine now"}),
        ("PUT", "/api/v1/stock/safety", {"safety_stock": 5}),
        ("GET", "/api/v1/stock", None),
        ("GET", "/api/v1/stock/movements", None),
    ],
    ids=["receive", "adjust", "safety", "list-stock", "list-movements"],
)
async def test_shoppers_cannot_touch_stock(env, method, path, body):
    world = await build_world(env)
    before = await stock_table(env)
    json = None if body is None else {"variant_id": world.ids["tee"], "location_id": world.ids["STORE-1"], **body}

    refused = await env.client.request(method, path, json=json, headers=world.auth("alice"))

    assert_error(refused, 403, "forbidden")
    assert await stock_of(env, world.ids["tee"], world.ids["STORE-1"]) == (2, 0)
    assert await stock_table(env) == before


async def test_a_clerk_cannot_set_safety_stock(env):
    world = await build_world(env)

    refused = await env.client.put("/api/v1/stock/safety", json={
        "variant_id": world.ids["tee"], "location_id": world.ids["STORE-1"], "safety_stock": 1},
        headers=world.auth("clerk_1"))

    assert_error(refused, 403, "forbidden")
    assert await stock_of(env, world.ids["tee"], world.ids["STORE-1"]) == (2, 0)


# --- who sees which stock ----------------------------------------------------------------------------------------

async def stock_keys(env, world, who: str, **params) -> list[tuple[int, int]]:
    listed = await env.client.get("/api/v1/stock", params=params, headers=world.auth(who))
    assert listed.status_code == 200, listed.text
    return [(row["variant_id"], row["location_id"]) for row in listed.json()]


async def test_stock_list_is_scoped_to_the_clerks_store_and_the_staffs_merchant(env):
    world = await build_world(env)
    i = world.ids

    assert await stock_keys(env, world, "operator") == [
        (i["tee"], i["WH"]), (i["tee"], i["STORE-1"]), (i["mug"], i["WH"]), (i["tee_b"], i["WH"])]
    assert await stock_keys(env, world, "clerk_1") == [(i["tee"], i["STORE-1"])]
    assert await stock_keys(env, world, "clerk_2") == []
    assert await stock_keys(env, world, "staff_a") == [(i["tee"], i["WH"]), (i["tee"], i["STORE-1"]),
                                                       (i["mug"], i["WH"])]
    assert await stock_keys(env, world, "staff_b") == [(i["tee_b"], i["WH"])]
    assert await stock_keys(env, world, "staff_b", variant_id=i["tee"]) == []


async def test_a_clerk_asking_for_another_stores_stock_gets_not_found(env):
    world = await build_world(env)

    refused = await env.client.get("/api/v1/stock", params={"location_id": world.ids["WH"]},
                                   headers=world.auth("clerk_1"))

    assert_error(refused, 404, "not_found", "location_id")


async def test_movements_are_scoped_like_stock(env):
    world = await build_world(env)
    i = world.ids

    assert await movements(env, world, "clerk_1") == [("receive", i["STORE-1"], 2)]
    assert await movements(env, world, "staff_b") == [("receive", i["WH"], 5)]
    assert len(await movements(env, world, "staff_a")) == 3
    assert len(await movements(env, world, "operator")) == 4


# --- the database refuses what the rules refuse ------------------------------------------------------------------

@pytest.mark.parametrize(("reserved", "on_hand"), [(11, 10), (-1, 10), (0, -1)],
                         ids=["reserved-above-on-hand", "negative-reserved", "negative-on-hand"])
async def test_database_check_constraint_refuses_a_stock_row_outside_zero_reserved_on_hand(env, reserved, on_hand):
    world = await build_world(env)
    tee, wh = world.ids["tee"], world.ids["WH"]

    with pytest.raises(IntegrityError):
        async with env.uow() as uow:
            await uow.conn.execute(
                update(stock).where(stock.c.variant_id == tee, stock.c.location_id == wh)
                .values(reserved=reserved, on_hand=on_hand)
            )

    assert await stock_of(env, tee, wh) == (10, 0)


async def test_receiving_past_the_largest_on_hand_is_refused_on_both_backends(env):
    world = await build_world(env)
    tee, wh = world.ids["tee"], world.ids["WH"]
    body = {"variant_id": tee, "location_id": wh, "quantity": 10_000_000}
    receipts = (MAX_ON_HAND - 10) // 10_000_000
    for _ in range(receipts):
        received = await env.client.post("/api/v1/stock/receive", json=body, headers=world.auth("operator"))
        assert received.status_code == 200, received.text
    on_hand = 10 + receipts * 10_000_000
    assert await stock_of(env, tee, wh) == (on_hand, 0)
    before = await stock_table(env)

    refused = await env.client.post("/api/v1/stock/receive", json=body, headers=world.auth("operator"))

    assert on_hand + 10_000_000 > MAX_ON_HAND
    assert_error(refused, 422, "invalid_input", "quantity")
    assert await stock_of(env, tee, wh) == (on_hand, 0)
    assert await stock_table(env) == before


# --- locations ---------------------------------------------------------------------------------------------------

def location_body(code: str, **changes) -> dict:
    return {"code": code, "name": code.title(), "kind": "store", "address": "8 Yan'an Rd", "city": "Hangzhou",
            "region": "浙江省 杭州市", "latitude": 30.26, "longitude": 120.16, **changes}


async def test_operator_creates_a_location(env):
    world = await build_world(env)

    created = await env.client.post("/api/v1/locations", json=location_body("STORE-3", merchant="stores-co"),
                                    headers=world.auth("operator"))

    assert created.status_code == 201, created.text
    assert {k: created.json()[k] for k in ("code", "kind", "merchant_id", "latitude", "longitude", "is_active")} == {
        "code": "STORE-3", "kind": "store", "merchant_id": world.ids["stores_co"], "latitude": 30.26,
        "longitude": 120.16, "is_active": True}
    assert await count(env, locations) == 5


async def test_a_location_created_by_merchant_staff_is_bound_to_their_merchant(env):
    world = await build_world(env)

    created = await env.client.post("/api/v1/locations", json=location_body("A-FLAGSHIP"),
                                    headers=world.auth("staff_a"))
    received = await env.client.post("/api/v1/stock/receive", json={
        "variant_id": world.ids["mug"], "location_id": created.json()["id"], "quantity": 6},
        headers=world.auth("staff_a"))

    assert created.status_code == 201, created.text
    assert created.json()["merchant_id"] == world.ids["brand_a"]
    assert received.status_code == 200 and received.json()["on_hand"] == 6


async def test_merchant_staff_cannot_create_a_location_for_another_merchant(env):
    world = await build_world(env)

    refused = await env.client.post("/api/v1/locations", json=location_body("B-OUTLET", merchant="brand-b"),
                                    headers=world.auth("staff_a"))

    assert_error(refused, 404, "not_found", "merchant")
    assert await count(env, locations) == 4


@pytest.mark.parametrize("who", ["alice", "clerk_1"])
async def test_shoppers_and_clerks_cannot_create_locations(env, who):
    world = await build_world(env)

    refused = await env.client.post("/api/v1/locations", json=location_body("POP-1"), headers=world.auth(who))

    assert_error(refused, 403, "forbidden")
    assert await count(env, locations) == 4


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        (location_body("WH"), 409, "already_exists", "code"),
        (location_body("POP-1", latitude=91), 422, "invalid_input", "latitude"),
        (location_body("POP-1", longitude=-180.5), 422, "invalid_input", "longitude"),
        (location_body("POP-1", kind="castle"), 422, "invalid_input", "kind"),
        (location_body("pop-1"), 422, "invalid_input", "code"),
    ],
    ids=["duplicate-code", "latitude-91", "longitude-out-of-range", "unknown-kind", "lowercase-code"],
)
async def test_a_bad_location_is_refused_naming_the_field(env, body, status, code, field):
    world = await build_world(env)

    refused = await env.client.post("/api/v1/locations", json=body, headers=world.auth("operator"))

    assert_error(refused, status, code, field)
    assert await count(env, locations) == 4


async def test_locations_filter_by_kind(env):
    world = await build_world(env)

    stations = await env.client.get("/api/v1/locations", params={"kind": "village_station"})
    stores = await env.client.get("/api/v1/locations", params={"kind": "store"})

    assert stations.status_code == 200
    assert [(loc["id"], loc["code"], loc["kind"]) for loc in stations.json()] == [
        (world.ids["STATION"], "STATION", "village_station")]
    assert [loc["code"] for loc in stores.json()] == ["STORE-1", "STORE-2"]
