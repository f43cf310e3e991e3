"""Live stock everywhere: a product page open in the browser shows "sold out" without a reload when the till sells
the last unit, through the API (the POS does the same)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from tests.browser.conftest import LiveServer
from tests.integration.world import build_world

if TYPE_CHECKING:
    from playwright.async_api import Page


async def test_the_clerk_sells_the_last_unit_and_the_open_product_page_shows_sold_out(
        live_server: LiveServer, page: Page) -> None:
    world = await live_server.seed(build_world, warehouse_units=0, store_units=1)
    await page.goto(live_server.url(f"/p/{world.ids['tee_product']}?lang=en"))
    tee = page.locator("[data-sku='TEE-M']")
    assert "1 left at" in await tee.inner_text()
    await page.wait_for_function("() => document.querySelector('[sse-connect]') && "
                                 "document.querySelector('[sse-connect]')['htmx-internal-data']")
    async with httpx.AsyncClient(base_url=live_server.base_url, trust_env=False, timeout=10) as api:
        till = {"customer_id": world.ids["bob"]}
        added = await api.post("/api/v1/cart/lines", json={"sku": "TEE-M", "merchant": "brand-a", "quantity": 1},
                               params=till, headers=world.auth("clerk_1"))
        assert added.status_code == 201, added.text
        placed = await api.post("/api/v1/orders", json={"delivery": {"mode": "in_store"}}, params=till,
                                headers=world.auth("clerk_1"))
        assert placed.status_code == 201, placed.text
    sold_out = page.locator("[data-sku='TEE-M'] [data-testid='sold-out']")
    await sold_out.wait_for(state="visible", timeout=10_000)  # pushed, not reloaded
    assert await sold_out.inner_text() == "Sold out"
    assert await page.evaluate("() => performance.getEntriesByType('navigation').length") == 1  # no reload

