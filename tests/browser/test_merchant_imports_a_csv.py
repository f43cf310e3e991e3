"""The merchant console's import: a WooCommerce export with one bad row is imported with a progress bar, and the bad
row is reported by its line number; the rest is in the catalogue."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from tests.browser.conftest import LiveServer
from tests.integration.world import build_world

if TYPE_CHECKING:
    from playwright.async_api import Page

BAD_ROW_FILE = Path(__file__).parents[1] / "fixtures" / "woocommerce_bad_row.csv"


async def test_a_merchant_imports_a_csv_with_one_bad_row_and_sees_it_reported(live_server: LiveServer,
                                                                             page: Page) -> None:
    world = await live_server.seed(build_world)
    await page.set_viewport_size({"width": 1024, "height": 768})
    await page.context.add_cookies([{"name": "uc_token", "value": world.tokens["staff_a"],
                                     "url": live_server.base_url}])
    await page.goto(live_server.url("/console/import?lang=en"))
    await page.get_by_label("Exported from").select_option("woocommerce")
    await page.get_by_label("CSV file").set_input_files(str(BAD_ROW_FILE))
    await page.get_by_role("button", name="Start import").click()
    await page.locator("#import-progress[data-state='done']").wait_for(timeout=15_000)
    assert await page.locator("#import-bar").count() == 1
    lines = await page.get_by_test_id("issue-line").all_inner_texts()
    assert lines == ["6"]
    report = await page.get_by_test_id("import-issues").inner_text()
    assert "$20" in report or "price" in report.lower()
    async with httpx.AsyncClient(base_url=live_server.base_url, trust_env=False, timeout=10) as api:
        found = await api.get("/api/v1/products", params={"merchant": "brand-a", "limit": 200})
    assert len(found.json()["items"]) == 2 + 2  # the world's tee and mug, and the file's two good products
