"""The operator's 11.11 big screen: its GMV moves after an order is paid, without a reload."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from tests.browser.conftest import LiveServer
from tests.integration.world import HOME, build_world

if TYPE_CHECKING:
    from playwright.async_api import Page


async def test_the_big_screens_gmv_moves_after_an_order(live_server: LiveServer, page: Page) -> None:
    world = await live_server.seed(build_world)
    await page.set_viewport_size({"width": 1280, "height": 800})
    await page.goto(live_server.url("/signin?next=/screen"))
    await page.get_by_label("员工令牌").fill(world.tokens["operator"])
    await page.locator("form[action='/signin/staff'] button[type=submit]").click()
    await page.wait_for_url(live_server.url("/screen"))
    gmv = page.get_by_test_id("gmv")
    assert await gmv.get_attribute("data-minor") == "0"
    await page.wait_for_function("() => document.querySelector('[sse-connect]')['htmx-internal-data']")
    async with httpx.AsyncClient(base_url=live_server.base_url, trust_env=False, timeout=10) as api:
        added = await api.post("/api/v1/cart/lines", json={"sku": "TEE-M", "merchant": "brand-a", "quantity": 2},
                               headers=world.auth("alice"))
        assert added.status_code == 201, added.text
        placed = await api.post("/api/v1/orders", json={"delivery": HOME}, headers=world.auth("alice"))
        order_id = placed.json()["orders"][0]["id"]
        paid = await api.post(f"/api/v1/orders/{order_id}/pay", json={}, headers=world.auth("alice"))
        assert paid.status_code == 200, paid.text
    await page.wait_for_function("() => document.querySelector('[data-testid=gmv]').dataset.minor === '19800'",
                                 timeout=10_000)
    assert await gmv.inner_text() == "¥198.00"
    assert await page.get_by_test_id("orders").inner_text() == "1"
    assert "TEE-M" in await page.locator("main").inner_text()
