"""The store till (POS) pages: a clerk identifies a member by phone, scans into the member's one cart, sells in store
(handed over at once) or delivers home, and prints the receipt; only a store clerk gets in; bad input is shown next
to its field, never a stack trace."""

from __future__ import annotations

import pytest

from tests.integration.world import build_world, stock_of
from unichannel.inventory import service as inventory
from unichannel.pages.pos import MEMBER_COOKIE

ALICE_PHONE = "+8613900000101"
TEE_BARCODE = "6901234567892"
HTMX = {"HX-Request": "true"}


async def at_the_till(env, world, clerk: str = "clerk_1", *, phone: str = ALICE_PHONE):
    env.client.cookies.set("uc_token", world.tokens[clerk])
    identified = await env.client.post("/pos/member", data={"phone": phone})
    assert identified.status_code == 303 and identified.headers["location"] == "/pos", identified.text
    return identified


async def scan(env, code: str, **headers: str):
    return await env.client.post("/pos/scan", data={"code": code}, headers=HTMX | headers)


async def orders_of(env, world, who: str = "alice") -> list[dict]:
    history = await env.client.get(f"/api/v1/customers/{world.ids[who]}/orders", headers=world.auth(who))
    assert history.status_code == 200, history.text
    return history.json()


async def test_a_clerk_sells_a_scanned_tee_in_store_and_prints_the_receipt(env):
    world = await build_world(env)  # TEE-M: 2 at STORE-1, 10 at WH
    await at_the_till(env, world)
    till = await env.client.get("/pos")
    assert till.status_code == 200 and "Store-1" in till.text and "Alice" in till.text
    assert 'id="code"' in till.text and "autofocus" in till.text and 'sse-connect="/pos/live"' in till.text
    scanned = await scan(env, TEE_BARCODE)
    assert scanned.status_code == 200 and "<html" not in scanned.text  # htmx gets the till section only
    assert "<built-in" not in scanned.text and "Undefined" not in scanned.text
    assert 'data-sku="TEE-M"' in scanned.text and "¥99.00" in scanned.text
    assert 'data-available="2"' in scanned.text and 'role="status"' in scanned.text

    sold = await env.client.post("/pos/sell", data={"mode": "in_store", "payment": "card", "token": "tok_visa"})
    assert sold.status_code == 303, sold.text
    receipt_url = sold.headers["location"]
    assert receipt_url.startswith("/pos/receipt/")
    assert MEMBER_COOKIE not in env.client.cookies  # the next customer starts with no member on screen

    receipt = await env.client.get(receipt_url)
    assert receipt.status_code == 200
    html = receipt.text
    assert "Store-1" in html and 'data-sku="TEE-M"' in html and "Cotton Tee" in html
    assert 'data-testid="order-total">¥99.00<' in html and "2026-11-11 00:00" in html  # local time in China
    assert 'data-testid="payment">银行卡 · ¥99.00<' in html
    assert "+86139****0101" in html and ALICE_PHONE not in html  # a slip may be left on the counter
    assert await stock_of(env, world.ids["tee"], world.ids["STORE-1"]) == (1, 0)  # handed over: exactly one left
    assert await stock_of(env, world.ids["tee"], world.ids["WH"]) == (10, 0)
    [order] = await orders_of(env, world)
    assert (order["channel"], order["status"], order["delivery_mode"]) == ("store", "completed", "in_store")
    assert (order["location_id"], order["total_minor"]) == (world.ids["STORE-1"], 9900)
    assert receipt_url == f"/pos/receipt/{order['id']}"
    assert [(ln["sku"], ln["quantity"]) for ln in order["lines"]] == [("TEE-M", 1)]
    cart = await env.client.get("/api/v1/cart", headers=world.auth("alice"))
    assert cart.json()["lines"] == []


async def test_the_till_shows_the_members_one_cart_the_one_on_their_phone(env):
    world = await build_world(env)
    added = await env.client.post("/api/v1/cart/lines", json={"sku": "MUG-1", "merchant": "brand-a", "quantity": 2},
                                  headers=world.auth("alice"))
    assert added.status_code == 201, added.text
    await at_the_till(env, world)
    till = await env.client.get("/pos", params={"lang": "en"})
    assert 'data-sku="MUG-1"' in till.text and "CN¥91.00" in till.text  # 2 × ¥45.50 at the store's price
    assert 'data-available="0"' in till.text and "Not enough here: deliver home" in till.text  # none at STORE-1
    await scan(env, TEE_BARCODE)
    phone = await env.client.get("/api/v1/cart", headers=world.auth("alice"))
    assert sorted((ln["sku"], ln["quantity"]) for ln in phone.json()["lines"]) == [("MUG-1", 2), ("TEE-M", 1)]


async def test_the_till_is_only_for_a_clerk_of_a_store(env):
    world = await build_world(env)
    anonymous = await env.client.get("/pos")
    assert anonymous.status_code == 401 and 'action="/signin/staff"' in anonymous.text
    assert "收银台仅限门店店员使用" in anonymous.text
    for who in ("alice", "operator", "staff_a", "station_op"):
        env.client.cookies.set("uc_token", world.tokens[who])
        assert (await env.client.get("/pos")).status_code == 403, who
        refused = await env.client.post("/pos/scan", data={"code": TEE_BARCODE}, headers=HTMX)
        assert refused.status_code == 403 and refused.headers["HX-Redirect"] == "/signin?next=/pos"
    env.client.cookies.set(MEMBER_COOKIE, str(world.ids["alice"]))
    assert (await env.client.post("/pos/sell", data={"mode": "in_store", "payment": "cash"})).status_code == 403
    assert await stock_of(env, world.ids["tee"], world.ids["STORE-1"]) == (2, 0)
    assert await orders_of(env, world) == []


async def test_a_receipt_is_visible_only_to_the_clerks_of_the_store_that_sold(env):
    world = await build_world(env)
    await at_the_till(env, world)
    await scan(env, TEE_BARCODE)
    sold = await env.client.post("/pos/sell", data={"mode": "in_store", "payment": "cash"})
    receipt_url = sold.headers["location"]
    assert 'data-testid="payment">现金 · ¥99.00<' in (await env.client.get(receipt_url)).text
    env.client.cookies.set("uc_token", world.tokens["clerk_2"])
    other_store = await env.client.get(receipt_url)
    assert other_store.status_code == 404 and "TEE-M" not in other_store.text
    for bad in ("0", "abc", "99999999999999999999"):
        assert (await env.client.get(f"/pos/receipt/{bad}")).status_code == 404
    env.client.cookies.set("uc_token", world.tokens["alice"])
    assert (await env.client.get(receipt_url)).status_code == 403


@pytest.mark.parametrize(
    ("phone", "status", "message"),
    [("", 422, "请填写此项"), ("12345", 422, "手机号格式不对"), ("13900009999", 422, "没有这个手机号的会员"),
     ("1" * 33, 422, "太长了")],
    ids=["empty", "not-a-phone", "unknown-member", "too-long"],
)
async def test_a_member_not_found_by_phone_is_said_next_to_the_field(env, phone, status, message):
    world = await build_world(env)
    env.client.cookies.set("uc_token", world.tokens["clerk_1"])
    refused = await env.client.post("/pos/member", data={"phone": phone})
    assert refused.status_code == status and "<html" in refused.text and "Traceback" not in refused.text
    assert 'id="phone-error"' in refused.text and message in refused.text and 'aria-invalid="true"' in refused.text
    assert MEMBER_COOKIE not in env.client.cookies


async def test_a_nul_character_in_a_form_is_a_clear_422_page_and_identifies_nobody(env):
    world = await build_world(env)
    env.client.cookies.set("uc_token", world.tokens["clerk_1"])
    refused = await env.client.post("/pos/member", data={"phone": "139\x0000000101"}, headers={"Accept": "text/html"})
    assert refused.status_code == 422 and "<html" in refused.text and "NUL" in refused.text
    assert MEMBER_COOKIE not in env.client.cookies


async def test_a_member_is_found_by_a_bare_chinese_mobile_number(env):
    world = await build_world(env)
    await at_the_till(env, world, phone="139 0000 0101")
    assert env.client.cookies.get(MEMBER_COOKIE) == str(world.ids["alice"])


@pytest.mark.parametrize(
    ("code", "status", "message"),
    [("0000000000000", 404, "No product has this barcode or SKU"), ("", 422, "This is needed"),
     ("x" * 201, 422, "Too long"), ("TEE-M", 409, "Several merchants use this code")],
    ids=["unknown", "empty", "too-long", "ambiguous-sku"],
)
async def test_a_code_that_names_no_single_product_is_said_next_to_the_field(env, code, status, message):
    world = await build_world(env)
    await at_the_till(env, world)
    refused = await env.client.post("/pos/scan", data={"code": code}, params={"lang": "en"}, headers=HTMX)
    assert refused.status_code == status and 'id="code-error"' in refused.text and message in refused.text
    assert 'aria-invalid="true"' in refused.text and "autofocus" in refused.text
    cart = await env.client.get("/api/v1/cart", headers=world.auth("alice"))
    assert cart.json()["lines"] == []


async def test_a_sku_sold_out_everywhere_is_refused_at_the_scan(env):
    world = await build_world(env, warehouse_units=0, store_units=1)
    await at_the_till(env, world)
    assert (await scan(env, TEE_BARCODE)).status_code == 200
    refused = await scan(env, TEE_BARCODE)
    assert refused.status_code == 409 and 'id="code-error"' in refused.text and "已售罄" in refused.text
    cart = await env.client.get("/api/v1/cart", headers=world.auth("alice"))
    assert [(ln["sku"], ln["quantity"]) for ln in cart.json()["lines"]] == [("TEE-M", 1)]


async def test_without_htmx_a_scan_goes_back_to_the_till_and_a_bad_one_shows_the_whole_page(env):
    world = await build_world(env)
    await at_the_till(env, world)
    added = await env.client.post("/pos/scan", data={"code": f"  {TEE_BARCODE}  "})
    assert added.status_code == 303 and added.headers["location"] == "/pos"
    refused = await env.client.post("/pos/scan", data={"code": "nope"})
    assert refused.status_code == 404 and "<html" in refused.text and 'id="code-error"' in refused.text


@pytest.mark.parametrize(
    ("quantity", "status"), [("-1", 422), ("", 422), ("1.5", 422), ("1000", 422), ("1234567", 422)],
    ids=["negative", "empty", "not-whole", "above-the-line-maximum", "too-long"],
)
async def test_a_bad_quantity_is_said_next_to_its_line_and_changes_nothing(env, quantity, status):
    world = await build_world(env)
    await at_the_till(env, world)
    await scan(env, TEE_BARCODE)
    [line] = (await env.client.get("/api/v1/cart", headers=world.auth("alice"))).json()["lines"]
    refused = await env.client.post(f"/pos/lines/{line['id']}", data={"quantity": quantity}, headers=HTMX)
    assert refused.status_code == status and f'id="qty-error-{line["id"]}"' in refused.text
    [kept] = (await env.client.get("/api/v1/cart", headers=world.auth("alice"))).json()["lines"]
    assert kept["quantity"] == 1


async def test_a_line_set_to_zero_leaves_the_cart(env):
    world = await build_world(env)
    await at_the_till(env, world)
    await scan(env, TEE_BARCODE)
    [line] = (await env.client.get("/api/v1/cart", headers=world.auth("alice"))).json()["lines"]
    two = await env.client.post(f"/pos/lines/{line['id']}", data={"quantity": "2"}, headers=HTMX)
    assert two.status_code == 200 and "¥198.00" in two.text
    gone = await env.client.post(f"/pos/lines/{line['id']}", data={"quantity": "0"}, headers=HTMX)
    assert gone.status_code == 200 and 'data-testid="empty-cart"' in gone.text


async def test_a_declined_card_sells_nothing_and_puts_the_goods_back_in_the_cart(env):
    world = await build_world(env)
    await at_the_till(env, world)
    await scan(env, TEE_BARCODE)
    declined = await env.client.post("/pos/sell", data={"mode": "in_store", "payment": "card", "token": "tok_decline"},
                                     headers=HTMX)
    assert declined.status_code == 402 and 'id="sell-error"' in declined.text and "支付未成功" in declined.text
    assert 'data-sku="TEE-M"' in declined.text  # back in the cart, ready to try again
    [order] = await orders_of(env, world)
    assert order["status"] == "cancelled"
    assert await stock_of(env, world.ids["tee"], world.ids["STORE-1"]) == (2, 0)
    assert env.gateway.captures == []
    again = await env.client.post("/pos/sell", data={"mode": "in_store", "payment": "cash"}, headers=HTMX)
    assert again.status_code == 204 and again.headers["HX-Redirect"].startswith("/pos/receipt/")
    assert await stock_of(env, world.ids["tee"], world.ids["STORE-1"]) == (1, 0)


async def test_bought_in_store_and_delivered_home_is_paid_and_waits_for_the_merchant(env):
    world = await build_world(env)
    store_price = await env.client.put(f"/api/v1/variants/{world.ids['tee']}/prices", json={
        "channel": "store", "currency": "CNY", "amount_minor": 8900}, headers=world.auth("staff_a"))
    assert store_price.status_code == 200, store_price.text
    await at_the_till(env, world)
    await scan(env, TEE_BARCODE)
    missing = await env.client.post("/pos/sell", data={"mode": "home_delivery", "payment": "card", "name": "Alice",
                                                       "address_phone": ALICE_PHONE, "line1": "", "city": "Hangzhou"})
    assert missing.status_code == 422 and 'id="sell-line1-error"' in missing.text
    sold = await env.client.post("/pos/sell", data={"mode": "home_delivery", "payment": "card", "name": "Alice",
                                                    "address_phone": ALICE_PHONE, "line1": "1 Wensan Rd",
                                                    "city": "Hangzhou"})
    assert sold.status_code == 303, sold.text
    receipt = await env.client.get(sold.headers["location"])
    assert receipt.status_code == 200 and "1 Wensan Rd" in receipt.text and 'data-sku="TEE-M"' in receipt.text
    [order] = await orders_of(env, world)
    assert (order["status"], order["delivery_mode"], order["location_id"]) == (
        "paid", "home_delivery", world.ids["STORE-1"])
    assert (order["channel"], order["subtotal_minor"]) == ("store", 8900)  # the till's price, not the web's
    assert await stock_of(env, world.ids["tee"], world.ids["STORE-1"]) == (2, 1)  # held until the merchant ships


@pytest.mark.parametrize(
    ("form", "field"),
    [({"mode": "teleport", "payment": "card"}, "mode-error"), ({"mode": "in_store", "payment": "iou"}, "payment-error"),
     ({"mode": "in_store", "payment": "card", "token": "t" * 201}, "payment-error")],
    ids=["unknown-mode", "unknown-payment", "token-too-long"],
)
async def test_a_bad_sale_form_is_said_next_to_the_field_and_sells_nothing(env, form, field):
    world = await build_world(env)
    await at_the_till(env, world)
    await scan(env, TEE_BARCODE)
    refused = await env.client.post("/pos/sell", data=form)
    assert refused.status_code == 422 and f'id="{field}"' in refused.text
    assert await orders_of(env, world) == []


async def test_selling_an_empty_cart_says_so(env):
    world = await build_world(env)
    await at_the_till(env, world)
    refused = await env.client.post("/pos/sell", data={"mode": "in_store", "payment": "cash"})
    assert refused.status_code == 409 and 'id="sell-error"' in refused.text and "购物车是空的" in refused.text


async def test_a_sale_of_two_merchants_goods_prints_one_receipt_with_both_orders(env):
    world = await build_world(env)
    async with env.uow() as uow:
        await inventory.receive(uow, None, world.ids["tee_b"], world.ids["STORE-1"], 1, "PO-4")
    await at_the_till(env, world)
    await scan(env, TEE_BARCODE)
    qr = await scan(env, f"https://shop.example/scan/{world.ids['tee_b']}")  # the QR code on the shelf label
    assert qr.status_code == 200 and "Other Tee" in qr.text
    sold = await env.client.post("/pos/sell", data={"mode": "in_store", "payment": "cash"}, params={"lang": "en"})
    assert sold.status_code == 303, sold.text
    receipt = await env.client.get(sold.headers["location"], params={"lang": "en"})
    assert receipt.text.count('class="receipt-order"') == 2 and "Brand A" in receipt.text and "Brand B" in receipt.text
    assert 'data-testid="sale-total">CN¥179.00<' in receipt.text
    assert sorted((o["status"], o["channel"]) for o in await orders_of(env, world)) == [("completed", "store")] * 2
    assert await stock_of(env, world.ids["tee_b"], world.ids["STORE-1"]) == (0, 0)


async def test_an_in_store_sale_beyond_the_shelf_is_refused_and_the_cart_kept(env):
    world = await build_world(env)  # MUG-1 only at the warehouse
    await at_the_till(env, world)
    await env.client.post("/api/v1/cart/lines", json={"sku": "MUG-1", "merchant": "brand-a", "quantity": 1},
                          headers=world.auth("alice"))
    refused = await env.client.post("/pos/sell", data={"mode": "in_store", "payment": "cash"}, headers=HTMX)
    assert refused.status_code == 409 and 'id="sell-error"' in refused.text and "本店货架上不够" in refused.text
    assert await orders_of(env, world) == []
    cart = await env.client.get("/api/v1/cart", headers=world.auth("alice"))
    assert [(ln["sku"], ln["quantity"]) for ln in cart.json()["lines"]] == [("MUG-1", 1)]


async def test_the_till_speaks_english_one_click_away(env):
    world = await build_world(env)
    await at_the_till(env, world)
    till = await env.client.get("/pos", params={"lang": "en"})
    assert '<html lang="en">' in till.text and "Scan or type a barcode / SKU" in till.text
    assert '<label for="code">' in till.text and 'href="/static/pos.css"' in till.text


async def test_the_live_cart_has_nothing_to_follow_without_a_member(env):
    world = await build_world(env)
    env.client.cookies.set("uc_token", world.tokens["clerk_1"])
    assert (await env.client.get("/pos/live")).status_code == 204
    env.client.cookies.set("uc_token", world.tokens["alice"])
    assert (await env.client.get("/pos/live")).status_code == 204
