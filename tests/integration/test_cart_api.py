"""The cart through the HTTP API: one cart per member across web and till, scan-to-cart, server-side pricing."""

from __future__ import annotations

import pytest

from unichannel.checkout.repository import cart_lines, carts

from tests.integration.world import build_world, count


def assert_error(response, status: int, code: str, field: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.json() == {"code": code, "message": response.json()["message"], "field": field}


def lines_of(cart: dict) -> list[tuple[str, int, int | None, int | None, bool]]:
    """(sku, quantity, unit price, line total, purchasable) per line."""
    return [(ln["sku"], ln["quantity"], ln["unit_price_minor"], ln["total_minor"], ln["is_purchasable"])
            for ln in cart["lines"]]


async def add(env, world, who: str, body: dict, customer_id: int | None = None):
    params = {"customer_id": customer_id} if customer_id is not None else {}
    return await env.client.post("/api/v1/cart/lines", json=body, params=params, headers=world.auth(who))


async def cart_of(env, world, who: str, customer_id: int | None = None) -> dict:
    params = {"customer_id": customer_id} if customer_id is not None else {}
    got = await env.client.get("/api/v1/cart", params=params, headers=world.auth(who))
    assert got.status_code == 200, got.text
    return got.json()


TEE_A = {"sku": "TEE-M", "merchant": "brand-a"}


# --- one cart across channels ------------------------------------------------------------------------------------

async def test_a_member_has_one_cart_on_the_web_and_at_the_till(env):
    world = await build_world(env)
    alice = world.ids["alice"]

    web = await add(env, world, "alice", {**TEE_A, "quantity": 1})
    till_view = await cart_of(env, world, "clerk_1", customer_id=alice)
    till = await add(env, world, "clerk_1", {"sku": "MUG-1", "quantity": 2}, customer_id=alice)
    web_view = await cart_of(env, world, "alice")

    assert web.status_code == 201, web.text
    assert (till_view["id"], till_view["customer_id"], till_view["channel"]) == (web.json()["id"], alice, "store")
    assert lines_of(till_view) == [("TEE-M", 1, 9900, 9900, True)]
    assert till.status_code == 201, till.text
    assert (web_view["id"], web_view["channel"]) == (web.json()["id"], "online")
    assert lines_of(web_view) == [("TEE-M", 1, 9900, 9900, True), ("MUG-1", 2, 4550, 9100, True)]
    assert web_view["subtotal_minor"] == 19000 and web_view["subtotal_display"] == "CNY 190.00"
    assert await count(env, carts) == 1 and await count(env, cart_lines) == 2


async def test_members_carts_are_separate(env):
    world = await build_world(env)

    await add(env, world, "alice", {**TEE_A, "quantity": 1})
    bobs = await cart_of(env, world, "bob")

    assert bobs["lines"] == [] and bobs["customer_id"] == world.ids["bob"]
    assert await count(env, carts) == 2


# --- scan to cart ------------------------------------------------------------------------------------------------

async def test_scanning_a_variants_qr_code_puts_it_in_the_cart(env):
    world = await build_world(env)
    page = (await env.client.get(f"/api/v1/products/{world.ids['tee_product']}")).json()
    scan_url = page["variants"][0]["scan_url"]

    scanned = await add(env, world, "alice", {"code": scan_url})

    assert scan_url == f"https://shop.example/scan/{world.ids['tee']}"
    assert scanned.status_code == 201, scanned.text
    assert [(ln["variant_id"], ln["merchant_id"], ln["quantity"], ln["unit_price_minor"])
            for ln in scanned.json()["lines"]] == [(world.ids["tee"], world.ids["brand_a"], 1, 9900)]


@pytest.mark.parametrize("host", ["http://127.0.0.1:8000", "https://old-domain.example:8443/"],
                         ids=["dev-host", "old-domain"])
async def test_a_qr_code_printed_for_another_host_still_works(env, host):
    world = await build_world(env)

    scanned = await add(env, world, "alice", {"code": f"{host.rstrip('/')}/scan/{world.ids['mug']}", "quantity": 3})

    assert scanned.status_code == 201, scanned.text
    assert lines_of(scanned.json()) == [("MUG-1", 3, 4550, 13650, True)]


async def test_scanning_a_barcode_puts_its_variant_in_the_cart(env):
    world = await build_world(env)

    scanned = await add(env, world, "clerk_1", {"code": "6901234567892"}, customer_id=world.ids["alice"])

    assert scanned.status_code == 201, scanned.text
    assert [(ln["variant_id"], ln["quantity"]) for ln in scanned.json()["lines"]] == [(world.ids["tee"], 1)]


async def test_a_sku_two_merchants_use_is_ambiguous_until_the_merchant_is_named(env):
    world = await build_world(env)

    ambiguous = await add(env, world, "alice", {"sku": "TEE-M"})
    scanned = await add(env, world, "alice", {"code": "TEE-M"})
    lines_after_refusals = await count(env, cart_lines)
    named = await add(env, world, "alice", {"sku": "TEE-M", "merchant": "brand-b"})

    assert_error(ambiguous, 409, "ambiguous_code", "merchant")
    assert_error(scanned, 409, "ambiguous_code", "merchant")
    assert lines_after_refusals == 0
    assert named.status_code == 201, named.text
    assert [(ln["variant_id"], ln["unit_price_minor"]) for ln in named.json()["lines"]] == [(world.ids["tee_b"], 8000)]


@pytest.mark.parametrize(
    ("code", "status", "error", "field"),
    [
        ("https://shop.example/scan/999999", 404, "not_found", "code"),
        ("https://shop.example/products/1", 422, "invalid_input", "code"),
        ("https://shop.example/scan/tee", 422, "invalid_input", "code"),
        ("0000000000000", 404, "not_found", "code"),
    ],
    ids=["unknown-variant", "not-a-scan-url", "scan-url-without-id", "unknown-barcode"],
)
async def test_a_scanned_code_that_names_no_product_is_refused(env, code, status, error, field):
    world = await build_world(env)

    refused = await add(env, world, "alice", {"code": code})

    assert_error(refused, status, error, field)
    assert await count(env, cart_lines) == 0


# --- quantities --------------------------------------------------------------------------------------------------

async def test_adding_a_sku_already_in_the_cart_raises_its_quantity(env):
    world = await build_world(env)

    await add(env, world, "alice", {**TEE_A, "quantity": 2})
    merged = await add(env, world, "clerk_1", {"code": "6901234567892", "quantity": 3},
                       customer_id=world.ids["alice"])

    assert merged.status_code == 201, merged.text
    assert lines_of(merged.json()) == [("TEE-M", 5, 9900, 49500, True)]
    assert await count(env, cart_lines) == 1


async def test_a_line_never_holds_more_than_999_units(env):
    world = await build_world(env)
    full = await add(env, world, "alice", {**TEE_A, "quantity": 999})
    assert full.status_code == 201, full.text

    one_more = await add(env, world, "alice", {**TEE_A, "quantity": 1})
    too_many_at_once = await add(env, world, "alice", {"sku": "MUG-1", "quantity": 1000})
    patched = await env.client.patch(f"/api/v1/cart/lines/{full.json()['lines'][0]['id']}",
                                     json={"quantity": 1000}, headers=world.auth("alice"))

    assert_error(one_more, 422, "invalid_input", "quantity")
    assert_error(too_many_at_once, 422, "invalid_input", "quantity")
    assert_error(patched, 422, "invalid_input", "quantity")
    assert lines_of(await cart_of(env, world, "alice")) == [("TEE-M", 999, 9900, 9890100, True)]


async def test_setting_a_lines_quantity(env):
    world = await build_world(env)
    line_id = (await add(env, world, "alice", {**TEE_A, "quantity": 2})).json()["lines"][0]["id"]

    patched = await env.client.patch(f"/api/v1/cart/lines/{line_id}", json={"quantity": 4},
                                     headers=world.auth("alice"))

    assert patched.status_code == 200, patched.text
    assert lines_of(patched.json()) == [("TEE-M", 4, 9900, 39600, True)]


async def test_setting_a_lines_quantity_to_zero_removes_it(env):
    world = await build_world(env)
    await add(env, world, "alice", {"sku": "MUG-1"})
    line_id = (await add(env, world, "alice", {**TEE_A, "quantity": 2})).json()["lines"][1]["id"]

    patched = await env.client.patch(f"/api/v1/cart/lines/{line_id}", json={"quantity": 0},
                                     headers=world.auth("alice"))

    assert patched.status_code == 200, patched.text
    assert lines_of(patched.json()) == [("MUG-1", 1, 4550, 4550, True)]
    assert await count(env, cart_lines) == 1


async def test_deleting_a_line_removes_it(env):
    world = await build_world(env)
    line_id = (await add(env, world, "alice", {**TEE_A, "quantity": 2})).json()["lines"][0]["id"]

    deleted = await env.client.delete(f"/api/v1/cart/lines/{line_id}", headers=world.auth("alice"))
    again = await env.client.delete(f"/api/v1/cart/lines/{line_id}", headers=world.auth("alice"))

    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["lines"] == [] and deleted.json()["subtotal_minor"] == 0
    assert deleted.json()["is_purchasable"] is False
    assert_error(again, 404, "not_found", "line_id")
    assert await count(env, cart_lines) == 0


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
async def test_a_line_of_another_members_cart_is_not_found(env, method):
    world = await build_world(env)
    line_id = (await add(env, world, "alice", {**TEE_A, "quantity": 2})).json()["lines"][0]["id"]
    json = {"quantity": 7} if method == "PATCH" else None

    refused = await env.client.request(method, f"/api/v1/cart/lines/{line_id}", json=json, headers=world.auth("bob"))

    assert_error(refused, 404, "not_found", "line_id")
    assert lines_of(await cart_of(env, world, "alice")) == [("TEE-M", 2, 9900, 19800, True)]


# --- pricing is the server's -------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "extra", [{"unit_price_minor": 1}, {"price": 1}, {"discount_minor": 9900}],
    ids=["unit-price", "price", "discount"],
)
async def test_the_client_cannot_price_a_line(env, extra):
    world = await build_world(env)

    refused = await add(env, world, "alice", {**TEE_A, "quantity": 1, **extra})

    assert_error(refused, 422, "invalid_input", next(iter(extra)))
    assert await count(env, cart_lines) == 0


async def test_a_usd_cart_makes_cny_only_lines_unpurchasable(env):
    world = await build_world(env)
    await add(env, world, "alice", {**TEE_A, "quantity": 2})
    priced = await env.client.put(f"/api/v1/variants/{world.ids['mug']}/prices",
                                  json={"currency": "USD", "amount_minor": 650}, headers=world.auth("staff_a"))
    assert priced.status_code == 200, priced.text
    await add(env, world, "alice", {"sku": "MUG-1", "quantity": 2})

    switched = await env.client.put("/api/v1/cart/currency", json={"currency": "usd"}, headers=world.auth("alice"))

    assert switched.status_code == 200, switched.text
    cart = switched.json()
    assert cart["currency"] == "USD"
    assert lines_of(cart) == [("TEE-M", 2, None, None, False), ("MUG-1", 2, 650, 1300, True)]
    assert (cart["subtotal_minor"], cart["subtotal_display"], cart["is_purchasable"]) == (1300, "USD 13.00", False)
    assert (await cart_of(env, world, "clerk_1", customer_id=world.ids["alice"]))["currency"] == "USD"


async def test_adding_a_sku_without_a_price_in_the_carts_currency_is_refused(env):
    world = await build_world(env)
    switched = await env.client.put("/api/v1/cart/currency", json={"currency": "USD"}, headers=world.auth("alice"))
    assert switched.status_code == 200, switched.text

    refused = await add(env, world, "alice", {**TEE_A, "quantity": 1})

    assert_error(refused, 409, "price_unavailable", "currency")
    assert await count(env, cart_lines) == 0


async def test_adding_a_sku_priced_only_in_stores_to_an_online_cart_is_refused(env):
    """Regression: the price check looked at any channel, so the SKU landed in the web cart unpriced."""
    world = await build_world(env)
    created = await env.client.post("/api/v1/products", json={
        "name": "Store Tote", "variants": [{"sku": "TOTE-STORE", "prices": [
            {"channel": "store", "currency": "CNY", "amount_minor": 3000}]}]}, headers=world.auth("staff_a"))
    assert created.status_code == 201, created.text

    refused = await add(env, world, "alice", {"sku": "TOTE-STORE"})

    assert_error(refused, 409, "price_unavailable", "currency")
    assert await count(env, cart_lines) == 0


async def test_an_inactive_product_cannot_be_added(env):
    world = await build_world(env)
    created = await env.client.post("/api/v1/products", json={
        "name": "Draft Tee", "is_active": False,
        "variants": [{"sku": "DRAFT-1", "prices": [{"currency": "CNY", "amount_minor": 100}]}]},
        headers=world.auth("staff_a"))
    assert created.status_code == 201, created.text

    refused = await add(env, world, "alice", {"sku": "DRAFT-1"})

    assert_error(refused, 404, "not_found", "sku")
    assert await count(env, cart_lines) == 0


# --- whose cart --------------------------------------------------------------------------------------------------

async def test_a_shopper_cannot_work_another_members_cart(env):
    world = await build_world(env)
    await add(env, world, "alice", {**TEE_A, "quantity": 1})

    looked = await env.client.get("/api/v1/cart", params={"customer_id": world.ids["alice"]},
                                  headers=world.auth("bob"))
    added = await add(env, world, "bob", {"sku": "MUG-1"}, customer_id=world.ids["alice"])

    assert_error(looked, 422, "invalid_input", "customer_id")
    assert_error(added, 422, "invalid_input", "customer_id")
    assert lines_of(await cart_of(env, world, "alice")) == [("TEE-M", 1, 9900, 9900, True)]
    assert await count(env, carts) == 1


async def test_a_shopper_naming_their_own_id_gets_their_own_cart(env):
    world = await build_world(env)

    own = await add(env, world, "alice", {"sku": "MUG-1"}, customer_id=world.ids["alice"])

    assert own.status_code == 201 and own.json()["customer_id"] == world.ids["alice"]


async def test_a_clerk_must_identify_the_member_first(env):
    world = await build_world(env)

    looked = await env.client.get("/api/v1/cart", headers=world.auth("clerk_1"))
    added = await add(env, world, "clerk_1", {"code": "6901234567892"})

    assert_error(looked, 422, "invalid_input", "customer_id")
    assert_error(added, 422, "invalid_input", "customer_id")
    assert await count(env, carts) == 0 and await count(env, cart_lines) == 0


async def test_a_clerk_working_an_unknown_member_gets_not_found(env):
    world = await build_world(env)

    refused = await add(env, world, "clerk_1", {"code": "6901234567892"}, customer_id=999999)

    assert_error(refused, 404, "not_found", "customer_id")
    assert await count(env, carts) == 0


async def test_merchant_staff_have_no_cart(env):
    world = await build_world(env)

    refused = await add(env, world, "staff_a", {"sku": "MUG-1"}, customer_id=world.ids["alice"])

    assert_error(refused, 403, "forbidden")
    assert await count(env, carts) == 0
