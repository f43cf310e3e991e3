"""The shopper's pages rendered by the server: scan-to-cart, the cart, checkout (its choices and its errors) and the
orders. The browser tests in tests/browser drive the same pages in Chromium."""

from __future__ import annotations

from sqlalchemy import select

from tests.integration.world import build_world, stock_of
from unichannel.orders.repository import orders


async def signed_in(env, world, who="alice"):
    env.client.cookies.set("uc_token", world.tokens[who])


async def test_a_scanned_qr_code_puts_the_sku_in_the_signed_in_shoppers_cart(env):
    world = await build_world(env)
    anonymous = await env.client.get(f"/scan/{world.ids['tee']}")
    assert anonymous.status_code == 303 and anonymous.headers["location"] == f"/signin?next=/scan/{world.ids['tee']}"
    await signed_in(env, world)
    scanned = await env.client.get(f"/scan/{world.ids['tee']}")
    assert scanned.status_code == 303 and scanned.headers["location"] == "/cart?added=1"
    cart = await env.client.get("/api/v1/cart", headers=world.auth("alice"))
    assert [(ln["sku"], ln["quantity"]) for ln in cart.json()["lines"]] == [("TEE-M", 1)]
    page = await env.client.get("/cart", params={"added": "1", "lang": "en"})
    assert "Added to your cart" in page.text and "CN¥99.00" in page.text


async def test_a_qr_code_of_no_product_is_a_clear_404_page(env):
    world = await build_world(env)
    await signed_in(env, world)
    page = await env.client.get("/scan/999999")
    assert page.status_code == 404 and "<html" in page.text and "Traceback" not in page.text


async def test_a_bad_quantity_in_the_cart_is_shown_next_to_its_line(env):
    world = await build_world(env)
    await signed_in(env, world)
    await env.client.post(f"/cart/add/{world.ids['tee']}", data={"quantity": "1"})
    line_id = (await env.client.get("/api/v1/cart", headers=world.auth("alice"))).json()["lines"][0]["id"]
    for bad in ("-1", "many", "100000"):
        page = await env.client.post(f"/cart/lines/{line_id}", data={"quantity": bad})
        assert page.status_code == 422 and f'id="qty-error-{line_id}"' in page.text, bad
    cart = await env.client.get("/api/v1/cart", headers=world.auth("alice"))
    assert cart.json()["lines"][0]["quantity"] == 1  # nothing changed


async def test_checkout_offers_pickup_without_an_address_and_home_delivery_needs_one(env):
    world = await build_world(env)
    await signed_in(env, world)
    await env.client.post(f"/cart/add/{world.ids['tee']}")
    page = await env.client.get("/checkout", params={"lang": "en"})
    assert f'value="store_pickup:{world.ids["STORE-1"]}"' in page.text
    refused = await env.client.post("/checkout", data={"option": "home_delivery:", "name": "", "phone": "",
                                                       "line1": "", "city": ""})
    assert refused.status_code == 422 and 'id="name-error"' in refused.text
    async with env.uow() as uow:
        assert (await uow.conn.execute(select(orders.c.id))).all() == []  # nothing placed
    placed = await env.client.post("/checkout", data={"option": f"store_pickup:{world.ids['STORE-1']}"})
    assert placed.status_code == 303 and placed.headers["location"].startswith("/orders/")
    order = await env.client.get(placed.headers["location"], params={"lang": "en"})
    assert "paid" in order.text and "Store-1" in order.text
    assert await stock_of(env, world.ids["tee"], world.ids["STORE-1"]) == (2, 1)


async def test_someone_elses_order_page_is_a_404(env):
    world = await build_world(env)
    await signed_in(env, world)
    await env.client.post(f"/cart/add/{world.ids['tee']}")
    placed = await env.client.post("/checkout", data={"option": f"store_pickup:{world.ids['STORE-1']}"})
    await signed_in(env, world, "bob")
    other = await env.client.get(placed.headers["location"])
    assert other.status_code == 404
    mine = await env.client.get("/orders")
    assert mine.status_code == 200 and "#" not in mine.text.split("<main", 1)[1].split("</main>")[0]


async def test_signing_out_revokes_the_members_sign_in_so_a_copied_cookie_stops_working(env):
    world = await build_world(env)
    signed = await env.client.post("/signin", data={"identifier": "+8613900000101",
                                                    "password": "correct horse battery", "next": "/cart"})
    token = signed.cookies.get("uc_token")
    assert "secure" in signed.headers["set-cookie"].lower()  # the shop is served over https (public_base_url)
    env.client.cookies.set("uc_token", token)
    assert (await env.client.get("/cart")).status_code == 200
    await env.client.post("/signout")
    env.client.cookies.set("uc_token", token)  # the copied cookie
    again = await env.client.get("/cart")
    assert again.status_code == 303 and again.headers["location"].startswith("/signin")


async def test_only_staff_tokens_sign_in_as_staff_and_other_sites_cannot_post_forms(env):
    world = await build_world(env)
    shopper = await env.client.post("/signin/staff", data={"token": world.tokens["alice"]})
    assert shopper.status_code == 401 and "uc_token" not in shopper.cookies
    forged = await env.client.post("/signin/staff", data={"token": world.tokens["operator"]},
                                   headers={"Sec-Fetch-Site": "cross-site"})
    assert forged.status_code == 403 and "uc_token" not in forged.cookies


async def test_odd_checkout_input_is_a_clear_4xx_never_a_500(env):
    world = await build_world(env)
    await signed_in(env, world)
    await env.client.post(f"/cart/add/{world.ids['tee']}")
    for option in ("store_pickup:²", "store_pickup:" + "9" * 40, "teleport:1"):
        response = await env.client.post("/checkout", data={"option": option})
        assert 400 <= response.status_code < 500, option
    nul = await env.client.post("/checkout", data={"option": "home_delivery:", "name": "A\x00"},
                                headers={"Accept": "text/html"})
    assert nul.status_code == 422 and "<html" in nul.text
    async with env.uow() as uow:
        assert (await uow.conn.execute(select(orders.c.id))).all() == []


async def test_an_unpaid_order_is_paid_from_its_page(env):
    world = await build_world(env)
    await env.client.post("/api/v1/cart/lines", json={"sku": "TEE-M", "merchant": "brand-a", "quantity": 1},
                          headers=world.auth("alice"))
    placed = await env.client.post("/api/v1/orders", json={"delivery": {"mode": "pickup",
                                                                        "location_id": world.ids["STORE-1"]}},
                                   headers=world.auth("alice"))
    order_id = placed.json()["orders"][0]["id"]
    await signed_in(env, world)
    page = await env.client.get(f"/orders/{order_id}", params={"lang": "en"})
    assert f'action="/orders/{order_id}/pay"' in page.text
    paid = await env.client.post(f"/orders/{order_id}/pay")
    assert paid.status_code == 303 and paid.headers["location"] == f"/orders/{order_id}"
    after = await env.client.get(f"/orders/{order_id}", params={"lang": "en"})
    assert "Pay now" not in after.text and ">paid<" in after.text
