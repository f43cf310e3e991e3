"""Live stock the other way round: the till shows its store's shelf for the member's cart; a shopper elsewhere takes
the store's last unit online (pickup there), and the till's shelf column drops to 0 without a reload."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from tests.browser.conftest import LiveServer
from tests.integration.world import build_world

if TYPE_CHECKING:
    from playwright.async_api import Browser


async def test_an_online_order_of_the_stores_last_unit_shows_at_the_till_without_a_reload(
        live_server: LiveServer, browser: Browser) -> None:
    world = await live_server.seed(build_world, warehouse_units=0, store_units=1)
    context = await browser.new_context(viewport={"width": 1024, "height": 768}, locale="zh-CN")
    try:
        await context.add_cookies([{"name": "uc_token", "value": world.tokens["clerk_1"],
                                    "url": live_server.base_url}])
        till = await context.new_page()
        await till.goto(live_server.url("/pos"))
        await till.get_by_label("会员手机号").fill("+8613900000101")
        await till.get_by_label("会员手机号").press("Enter")
        await till.get_by_label("扫码或输入条码 / SKU").fill("6901234567892")
        await till.get_by_label("扫码或输入条码 / SKU").press("Enter")
        shelf = till.locator("tr[data-sku='TEE-M'] [data-testid='shelf']")
        await shelf.wait_for(state="visible")
        assert await shelf.get_attribute("data-available") == "1"
        await till.wait_for_function("() => document.querySelector('[sse-connect]')['htmx-internal-data']")
        async with httpx.AsyncClient(base_url=live_server.base_url, trust_env=False, timeout=10) as api:
            added = await api.post("/api/v1/cart/lines", json={"sku": "TEE-M", "merchant": "brand-a", "quantity": 1},
                                   headers=world.auth("bob"))
            assert added.status_code == 201, added.text
            placed = await api.post("/api/v1/orders", json={"delivery": {
                "mode": "pickup", "location_id": world.ids["STORE-1"]}}, headers=world.auth("bob"))
            assert placed.status_code == 201, placed.text
        await till.wait_for_function(
            "() => document.querySelector(\"tr[data-sku='TEE-M'] [data-testid='shelf']\").dataset.available === '0'",
            timeout=10_000)
        assert await till.evaluate("() => performance.getEntriesByType('navigation').length") == 1
        await till.screenshot(path=str(live_server.log_path.parent / "till-live.png"))
    finally:
        await context.close()
