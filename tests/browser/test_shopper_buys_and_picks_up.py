"""A shopper signs in on a phone, puts a tee in the cart from its product page, checks out with pickup at the
store and pays: the order page shows it paid for pickup there."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.browser.conftest import LiveServer
from tests.integration.world import PASSWORD, build_world

if TYPE_CHECKING:
    from playwright.async_api import Page


async def sign_in(page: Page, live_server: LiveServer, phone: str, next_path: str) -> None:
    await page.goto(live_server.url(f"/signin?next={next_path}"))
    await page.get_by_label("手机号或邮箱").fill(phone)
    await page.get_by_label("密码").fill(PASSWORD)
    await page.locator("form[action='/signin'] button[type=submit]").click()
    await page.wait_for_url(live_server.url(next_path))


async def test_a_shopper_buys_online_and_picks_up_in_a_store(live_server: LiveServer, page: Page) -> None:
    world = await live_server.seed(build_world)
    product = world.ids["tee_product"]
    await sign_in(page, live_server, "+8613900000101", f"/p/{product}")
    await page.get_by_test_id("add-TEE-M").click()
    await page.wait_for_url(live_server.url("/cart?added=1"))
    assert await page.get_by_test_id("subtotal").inner_text() == "¥99.00"
    await page.get_by_role("link", name="去结算").click()
    store = page.locator("label.option", has_text="门店自提")
    assert await store.count() == 1  # STORE-1 has the tee on its shelf; STORE-2 has none
    await store.locator("input").check()
    await page.get_by_role("button", name="提交订单并支付").click()
    await page.wait_for_url(live_server.url("/orders/*"))
    assert await page.get_by_test_id("order-status").inner_text() == "已支付"
    body = await page.locator("main").inner_text()
    assert "自提 · Store-1" in body and "合计 ¥99.00" in body


async def test_checkout_errors_are_shown_next_to_the_field(live_server: LiveServer, page: Page) -> None:
    await sign_in(page, live_server, "+8613900000202", "/cart")  # bob, in the world seeded above
    await page.goto(live_server.url("/checkout"))
    assert "购物车是空的" in await page.locator("main").inner_text()
