"""Scan-to-cart: the shopper's phone opens a product's QR payload and the item lands in the shopper's one cart,
which the clerk sees at the till once the member is identified."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from tests.browser.conftest import LiveServer
from tests.browser.test_shopper_buys_and_picks_up import sign_in
from tests.integration.world import build_world

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page


async def test_a_qr_payload_opened_on_the_phone_adds_to_the_cart_seen_at_the_till(
        live_server: LiveServer, page: Page, browser: Browser) -> None:
    world = await live_server.seed(build_world)
    async with httpx.AsyncClient(base_url=live_server.base_url, trust_env=False, timeout=10) as api:
        product = (await api.get(f"/api/v1/products/{world.ids['tee_product']}")).json()
    qr_payload = product["variants"][0]["scan_url"]  # what the shelf label's QR code encodes
    path = "/scan/" + qr_payload.rsplit("/scan/", 1)[1]
    await sign_in(page, live_server, "+8613900000101", "/")
    await page.goto(live_server.url(path))
    await page.wait_for_url(live_server.url("/cart?added=1"))
    assert "TEE-M" in await page.locator("main").inner_text()

    till_context = await browser.new_context(viewport={"width": 1024, "height": 768}, locale="zh-CN")
    try:
        await till_context.add_cookies([{"name": "uc_token", "value": world.tokens["clerk_1"],
                                         "url": live_server.base_url}])
        till = await till_context.new_page()
        await till.goto(live_server.url("/pos"))
        await till.get_by_label("会员手机号").fill("+8613900000101")
        await till.get_by_label("会员手机号").press("Enter")
        line = till.locator("tr[data-sku='TEE-M']")
        await line.wait_for(state="visible")
        assert "¥99.00" in await till.get_by_test_id("cart-total").inner_text()
        await till.screenshot(path=str(live_server.log_path.parent / "till.png"))
    finally:
        await till_context.close()
