"""The web pages, rendered by the server (the browser tests in tests/browser drive them live): the storefront shows
live availability per place and sold out; the big screen is for operators and shows today's GMV; a service's
refusal is said in the page's language."""

from __future__ import annotations

import re

from tests.integration.test_shipments_api import paid
from tests.integration.world import build_world


async def test_the_storefront_lists_products_with_price_and_availability_in_chinese_by_default(env):
    world = await build_world(env)
    page = await env.client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert '<html lang="zh-CN">' in html and "Cotton Tee" in html and "¥99.00" in html
    assert "共 12 件可售" in html  # 10 at WH and 2 at STORE-1


async def test_english_is_one_click_away_and_remembered(env):
    world = await build_world(env)
    page = await env.client.get("/", params={"lang": "en"})
    assert '<html lang="en">' in page.text and "12 available" in page.text and "CN¥99.00" in page.text
    assert page.cookies.get("uc_lang") == "en"
    again = await env.client.get("/")  # the client keeps the cookie
    assert '<html lang="en">' in again.text


async def test_search_finds_by_name_and_says_so_when_nothing_matches(env):
    world = await build_world(env)
    found = await env.client.get("/", params={"q": "Mug", "lang": "en"})
    assert "Celadon Mug" in found.text and "Cotton Tee" not in found.text
    none = await env.client.get("/", params={"q": "zzzz", "lang": "en"})
    assert "No products found" in none.text


async def test_the_product_page_says_how_many_are_left_where_and_sold_out_when_none_are(env):
    world = await build_world(env)
    page = await env.client.get(f"/p/{world.ids['tee_product']}", params={"lang": "en"})
    assert page.status_code == 200
    assert "2 left at" in page.text and "30-minute delivery" in page.text and "10 left at" in page.text
    assert 'sse-connect="/live/products/' in page.text and 'data-testid="sold-out"' not in page.text
    async with env.uow() as uow:
        from unichannel.inventory import service as inventory

        await inventory.adjust(uow, None, world.ids["tee"], world.ids["WH"], -10, "count")
        await inventory.adjust(uow, None, world.ids["tee"], world.ids["STORE-1"], -2, "count")
    fragment = await env.client.get(f"/p/{world.ids['tee_product']}/availability", params={"lang": "en"})
    assert 'data-testid="sold-out"' in fragment.text and "left at" not in fragment.text


async def test_an_unknown_product_is_a_404_page_not_a_stack_trace(env):
    await build_world(env)
    page = await env.client.get("/p/999999")
    assert page.status_code == 404 and "<html" in page.text and "Traceback" not in page.text


async def test_the_big_screen_asks_for_an_operator_and_shows_todays_gmv(env):
    world = await build_world(env)
    anonymous = await env.client.get("/screen")
    assert anonymous.status_code == 401 and 'action="/signin/staff"' in anonymous.text
    env.client.cookies.set("uc_token", world.tokens["alice"])
    shopper = await env.client.get("/screen")
    assert shopper.status_code == 403
    await paid(env, world)  # ¥99.00 today
    env.client.cookies.set("uc_token", world.tokens["operator"])
    screen = await env.client.get("/screen", params={"lang": "en"})
    assert screen.status_code == 200
    assert 'data-minor="9900"' in screen.text and "CN¥99.00" in screen.text
    assert 'data-testid="orders">1<' in screen.text and "TEE-M" in screen.text


async def test_staff_sign_in_with_a_bad_token_is_shown_next_to_the_field(env):
    await build_world(env)
    response = await env.client.post("/signin/staff", data={"token": "nope", "next": "/screen"})
    assert response.status_code == 401 and 'id="staff-error"' in response.text
    assert 'aria-invalid="true"' in response.text


async def test_a_member_signs_in_and_gets_a_cookie_then_goes_where_they_were(env):
    world = await build_world(env)
    response = await env.client.post("/signin", data={"identifier": "+8613900000101",
                                                      "password": "correct horse battery", "next": "/p/1"})
    assert response.status_code == 303 and response.headers["location"] == "/p/1"
    assert response.cookies.get("uc_token")
    wrong = await env.client.post("/signin", data={"identifier": "+8613900000101", "password": "x", "next": "//evil"})
    assert wrong.status_code == 401 and 'id="member-error"' in wrong.text


async def test_the_sold_out_list_counts_stock_as_the_storefront_does(env):
    from tests.integration.test_shipments_api import paid as paid_order

    world = await build_world(env)
    await paid_order(env, world)  # one TEE-M sold today: 11 left
    async with env.uow() as uow:
        from unichannel.inventory import service as inventory

        await inventory.set_safety_stock(uow, None, world.ids["tee"], world.ids["WH"], 15)  # more than WH holds
    env.client.cookies.set("uc_token", world.tokens["operator"])
    screen = await env.client.get("/screen/panel")
    listed = screen.text.split('data-testid="sold-out-list"', 1)[1].split("</ul>", 1)[0]
    assert "TEE-M" not in listed  # STORE-1 still sells 2 (WH's negative margin is not subtracted from them)


async def test_a_services_refusal_is_said_in_chinese_on_a_chinese_page_and_in_english_on_an_english_one(env):
    world = await build_world(env)  # 10 tees at WH
    env.client.cookies.set("uc_token", world.tokens["operator"])
    form = {"variant_id": str(world.ids["tee"]), "location_id": str(world.ids["WH"]), "delta": "-50",
            "reason": "盘点"}
    message = re.compile(r'<p id="adjust-delta-error" class="field-error">([^<]*)</p>')

    chinese = await env.client.post("/console/stock/adjust", data=form)
    english = await env.client.post("/console/stock/adjust", data=form, params={"lang": "en"})

    assert chinese.status_code == english.status_code == 409  # InsufficientStock, nothing moved
    assert message.search(chinese.text).group(1) == "库存不足：只有 10 件未被占用，不能减少 50 件"
    assert message.search(english.text).group(1) == "only 10 unreserved units are on hand; cannot remove 50"
    field = re.search(r'<input id="adjust-delta"[^>]*>', chinese.text, re.S).group(0)
    assert 'aria-invalid="true"' in field and re.search(r'aria-describedby="[^"]*adjust-delta-error', field)


async def test_a_wrong_password_is_said_in_the_pages_language(env):
    await build_world(env)
    form = {"identifier": "+8613900000101", "password": "not the password", "next": "/"}
    chinese = await env.client.post("/signin", data=form)
    english = await env.client.post("/signin", data=form, params={"lang": "en"})
    assert chinese.status_code == english.status_code == 401
    assert '<p id="member-error" class="field-error">手机号/邮箱或密码不对</p>' in chinese.text
    assert '<p id="member-error" class="field-error">phone/email or password is wrong</p>' in english.text
