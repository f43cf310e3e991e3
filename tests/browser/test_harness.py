"""The browser harness itself: the live server answers a real Chromium, seeding reaches the server's database, and
every browser test leaves a screenshot behind."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.browser.conftest import BrowserLog, LiveServer, save_screenshot, saved_screenshots, screenshot_path
from tests.integration.world import build_world

if TYPE_CHECKING:  # the harness skips (or fails under CI) without playwright; importing it here would error instead
    from playwright.async_api import Page

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
STARTED = time.time()


async def test_docs_page_loads_in_chromium(live_server: LiveServer, page: Page, browser_log: BrowserLog) -> None:
    response = await page.goto(live_server.url("/api/v1/docs"))
    assert response is not None and response.status == 200
    assert "unichannel" in await page.title()  # FastAPI(title="unichannel") -> "unichannel - Swagger UI"
    assert await page.evaluate("() => [window.innerWidth, navigator.language]") == [390, "zh-CN"]
    # The browser itself reads the live server's OpenAPI document.
    spec_title = await page.evaluate(
        "async () => (await (await fetch('/api/v1/openapi.json')).json()).info.title"
    )
    assert spec_title == "unichannel"
    # Swagger UI's script and style come from a CDN, which the harness blocks: the page's body stays blank here.


async def test_requests_off_the_machine_are_blocked(page: Page, browser_log: BrowserLog) -> None:
    await page.set_content('<img src="http://blocked.invalid/pixel.png"><p>离线</p>')
    await page.wait_for_load_state("load")
    assert browser_log.blocked == ["http://blocked.invalid/pixel.png"]


def test_the_docs_test_left_its_screenshot(request: pytest.FixtureRequest) -> None:
    """The `page` fixture's teardown wrote the previous test's screenshot (checked only when it ran in this session)."""
    expected = screenshot_path(request.config, "test_docs_page_loads_in_chromium")
    if expected not in saved_screenshots:
        pytest.skip("test_docs_page_loads_in_chromium did not run in this session")
    assert expected.read_bytes().startswith(PNG_SIGNATURE)
    assert expected.stat().st_mtime >= STARTED - 1


async def test_save_screenshot_writes_a_png(page: Page, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    await page.set_content("<h1>截图</h1>")
    path = await save_screenshot(page, tmp_path / "deep" / "dir" / "shot.png")
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width == 390 and height >= 844  # phone width, full page
    assert screenshot_path(request.config, "test_x[zh-CN/a b]").name == "test_x_zh-CN_a_b.png"


async def test_seeded_world_is_served_by_the_live_server(live_server: LiveServer) -> None:
    """`seed` writes through the same database the server reads, and the tokens it issues authenticate there."""
    world = await live_server.seed(build_world)
    async with httpx.AsyncClient(base_url=live_server.base_url, trust_env=False, timeout=10) as client:
        product = await client.get(f"/api/v1/products/{world.ids['tee_product']}")
        assert product.status_code == 200, product.text
        assert product.json()["name"] == "Cotton Tee"
        anonymous = await client.get("/api/v1/me")
        me = await client.get("/api/v1/me", headers=world.auth("alice"))
        assert anonymous.status_code == 401
        assert me.status_code == 200, me.text
        assert me.json()["customer"]["id"] == world.ids["alice"], me.json()
