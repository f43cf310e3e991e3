"""Every kind of page passes axe-core (no serious or critical violation of WCAG 2.1 A/AA and axe's best practices) at
phone width and at desktop width, in a real Chromium, and never scrolls sideways; a shopper gets from the storefront to
checkout with the keyboard alone, always seeing where the focus is; a refused form field says so next to itself,
programmatically tied to its message, in Chinese.

One server and one seeded world serve the whole module: the pages are looked at, not changed (the keyboard test
adds to its own shopper's cart, and the refused forms change nothing)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import pytest_asyncio

from tests.browser.accessibility import FOCUS_IS_VISIBLE, describe, serious_violations
from tests.browser.conftest import PHONE, LiveServer
from tests.integration.world import World, build_world

if TYPE_CHECKING:
    from playwright.async_api import Page

DESKTOP = {"width": 1280, "height": 800}
WIDTHS = {"phone": PHONE, "desktop": DESKTOP}
MOST_TABS = 60  # a keyboard user reaches anything on these pages well within this many presses of Tab
BAD_ROW_FILE = Path(__file__).parents[1] / "fixtures" / "woocommerce_bad_row.csv"
TEE_BARCODE = "6901234567892"
IMPORT_POLLS = 75  # 15 s at 0.2 s
HTMX_STOP_POLLING = 286  # what the import's progress answers once it is finished


@dataclass
class Scene:
    """The world, and the things built on it that pages show: a paid order, a till receipt, an import report."""

    world: World
    category: str
    order_id: int
    receipt_id: int
    import_id: str
    keyboard_token: str


async def _register_keyboard_shopper(env: Any) -> str:
    from unichannel.access.model import Role
    from unichannel.access.service import issue_token
    from unichannel.customers import service as customers

    async with env.uow() as uow:
        carol = await customers.register(uow, phone="+8613900000404", email=None, name="Carol",
                                         password="correct horse battery")
        return (await issue_token(uow, Role.SHOPPER, name="carol", customer_id=carol["id"])).token


async def _build_scene(live_server: LiveServer) -> Scene:
    world = await live_server.seed(build_world)
    keyboard_token = await live_server.seed(_register_keyboard_shopper)
    async with httpx.AsyncClient(base_url=live_server.base_url, trust_env=False, timeout=15) as api:
        categories = (await api.get("/api/v1/categories")).json()
        category = next(c["slug"] for c in categories if c["parent_id"] is None)
        # alice: a paid order to pick up at STORE-1, and a mug in her cart (the cart and checkout pages)
        added = await api.post("/api/v1/cart/lines", json={"sku": "TEE-M", "merchant": "brand-a", "quantity": 1},
                               headers=world.auth("alice"))
        assert added.status_code == 201, added.text
        placed = await api.post("/api/v1/orders", json={"delivery": {
            "mode": "pickup", "location_id": world.ids["STORE-1"]}}, headers=world.auth("alice"))
        assert placed.status_code == 201, placed.text
        order_id = placed.json()["orders"][0]["id"]
        paid = await api.post(f"/api/v1/orders/{order_id}/pay", json={}, headers=world.auth("alice"))
        assert paid.status_code == 200, paid.text
        added = await api.post("/api/v1/cart/lines", json={"sku": "MUG-1", "merchant": "brand-a", "quantity": 1},
                               headers=world.auth("alice"))
        assert added.status_code == 201, added.text
    # the till: bob buys a tee in store (the receipt), then a second one is scanned into his cart (the till page)
    async with httpx.AsyncClient(base_url=live_server.base_url, trust_env=False, timeout=15,
                                 cookies={"uc_token": world.tokens["clerk_1"]}) as till:
        assert (await till.post("/pos/member", data={"phone": "+8613900000202"})).status_code == 303
        assert (await till.post("/pos/scan", data={"code": TEE_BARCODE})).status_code == 303
        sold = await till.post("/pos/sell", data={"mode": "in_store", "payment": "cash"})
        assert sold.status_code == 303, sold.text
        receipt_id = int(sold.headers["location"].rsplit("/", 1)[1])
        assert (await till.post("/pos/member", data={"phone": "+8613900000202"})).status_code == 303
        assert (await till.post("/pos/scan", data={"code": TEE_BARCODE})).status_code == 303
    # the console: an import with one bad line, for its report
    async with httpx.AsyncClient(base_url=live_server.base_url, trust_env=False, timeout=15,
                                 cookies={"uc_token": world.tokens["staff_a"]}) as console:
        started = await console.post("/console/import", data={"source": "woocommerce"},
                                     files={"file": ("bad-row.csv", BAD_ROW_FILE.read_bytes(), "text/csv")})
        assert started.status_code == 303, started.text
        import_id = started.headers["location"].rsplit("/", 1)[1]
        for _ in range(IMPORT_POLLS):  # the report page is looked at finished, not mid-swap
            if (await console.get(f"/console/import/{import_id}/progress")).status_code == HTMX_STOP_POLLING:
                break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError(f"the import {import_id} did not finish")
    return Scene(world, category, order_id, receipt_id, import_id, keyboard_token)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def scene(live_server: LiveServer) -> Scene:
    return await _build_scene(live_server)


# --- every kind of page, at both widths -------------------------------------------------------------------------------


async def _submit_a_bad_price(page: Page, scene: Scene) -> None:
    tee = scene.world.ids["tee"]
    await page.locator(f"#price-{tee}-amount").fill("abc")
    await page.locator(f"form[action='/console/prices/{tee}'] button[type=submit]").click()
    await page.locator(f"#price-{tee}-amount[aria-invalid='true']").wait_for()


async def _sign_in_with_a_wrong_password(page: Page, scene: Scene) -> None:
    await page.locator("#identifier").fill("+8613900000101")
    await page.locator("#password").fill("not the password")
    await page.locator("form[action='/signin'] button[type=submit]").click()
    await page.locator("#member-error").wait_for()


async def _scan_an_unknown_code(page: Page, scene: Scene) -> None:
    await page.locator("#code").fill("NO-SUCH-CODE")
    await page.locator("#code").press("Enter")
    await page.locator("#code-error").wait_for()


@dataclass(frozen=True)
class Visit:
    who: str | None  # whose sign-in cookie the browser carries (a key of world.tokens), or None
    path: Callable[[Scene], str]
    then: Callable[[Page, Scene], Awaitable[None]] | None = None  # what is done on the page before axe looks


PAGES: dict[str, Visit] = {
    "storefront-home": Visit(None, lambda s: "/"),
    "category": Visit(None, lambda s: f"/?category={s.category}"),
    "search": Visit(None, lambda s: "/?q=Tee"),
    "search-nothing-found": Visit(None, lambda s: "/?q=zzzz"),
    "product": Visit("alice", lambda s: f"/p/{s.world.ids['tee_product']}"),
    "cart": Visit("alice", lambda s: "/cart"),
    "checkout": Visit("alice", lambda s: "/checkout"),
    "my-orders": Visit("alice", lambda s: "/orders"),
    "order": Visit("alice", lambda s: f"/orders/{s.order_id}"),
    "sign-in": Visit(None, lambda s: "/signin?next=/cart"),
    "sign-in-refused": Visit(None, lambda s: "/signin?next=/cart", _sign_in_with_a_wrong_password),
    "not-found": Visit(None, lambda s: "/p/999999"),
    "pos-till": Visit("clerk_1", lambda s: "/pos"),
    "pos-till-refused-scan": Visit("clerk_1", lambda s: "/pos", _scan_an_unknown_code),
    "pos-receipt": Visit("clerk_1", lambda s: f"/pos/receipt/{s.receipt_id}"),
    "console-home": Visit("staff_a", lambda s: "/console"),
    "console-products": Visit("staff_a", lambda s: "/console/products"),
    "console-price-refused": Visit("staff_a", lambda s: "/console/products", _submit_a_bad_price),
    "console-label": Visit("staff_a", lambda s: f"/console/labels/{s.world.ids['tee']}"),
    "console-stock": Visit("staff_a", lambda s: "/console/stock"),
    "console-orders": Visit("operator", lambda s: "/console/orders"),
    "console-order": Visit("operator", lambda s: f"/console/orders/{s.order_id}"),
    "console-import": Visit("staff_a", lambda s: "/console/import"),
    "console-import-report": Visit("staff_a", lambda s: f"/console/import/{s.import_id}"),
    "big-screen": Visit("operator", lambda s: "/screen"),
}


async def _sign_in_as(page: Page, live_server: LiveServer, scene: Scene, who: str | None) -> None:
    if who is None:
        return
    cookies = [{"name": "uc_token", "value": scene.world.tokens[who], "url": live_server.base_url}]
    if who == "clerk_1":  # the till serves bob, whose cart holds the tee scanned while the scene was built
        cookies.append({"name": "uc_pos_member", "value": str(scene.world.ids["bob"]), "url": live_server.base_url})
    await page.context.add_cookies(cookies)


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("name", list(PAGES))
async def test_the_page_has_no_serious_accessibility_violations(
        live_server: LiveServer, scene: Scene, page: Page, name: str, width: str) -> None:
    visit = PAGES[name]
    await page.set_viewport_size(WIDTHS[width])
    await _sign_in_as(page, live_server, scene, visit.who)
    response = await page.goto(live_server.url(visit.path(scene)))
    assert response is not None and response.status < 500, f"{name}: HTTP {response and response.status}"
    if visit.then is not None:
        await visit.then(page, scene)
    violations = await serious_violations(page)
    assert not violations, f"{name} at {width} width:\n{describe(violations)}"
    # Responsive: nothing makes the page scroll sideways (wide tables scroll inside their own box).
    overflow = await page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{name} at {width} width is {overflow}px wider than the screen"


# --- the keyboard alone -----------------------------------------------------------------------------------------------


async def _tab_to(page: Page, selector: str) -> None:
    """Presses Tab until the element matching `selector` has the focus; every element on the way shows its focus."""
    for _ in range(MOST_TABS):
        await page.keyboard.press("Tab")
        assert await page.evaluate(FOCUS_IS_VISIBLE), (
            "the focused element shows no focus (no outline, no box shadow): "
            + await page.evaluate("() => document.activeElement.outerHTML.slice(0, 200)"))
        if await page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} not reached with {MOST_TABS} presses of Tab")


async def test_a_shopper_reaches_checkout_with_the_keyboard_alone_always_seeing_the_focus(
        live_server: LiveServer, scene: Scene, page: Page) -> None:
    await page.context.add_cookies([{"name": "uc_token", "value": scene.keyboard_token, "url": live_server.base_url}])
    await page.goto(live_server.url("/"))
    product = scene.world.ids["tee_product"]
    await _tab_to(page, f"a[href='/p/{product}']")
    await page.keyboard.press("Enter")
    await page.wait_for_url(live_server.url(f"/p/{product}"))
    await _tab_to(page, "[data-testid='add-TEE-M']")
    await page.keyboard.press("Enter")
    await page.wait_for_url(live_server.url("/cart?added=1"))
    assert "TEE-M" in await page.locator("main").inner_text()
    await _tab_to(page, "a[href='/checkout']")
    await page.keyboard.press("Enter")
    await page.wait_for_url(live_server.url("/checkout"))
    await _tab_to(page, "#name")  # the checkout form's first field, its label read with it
    assert await page.evaluate("() => document.activeElement.labels[0].textContent") == "收货人"


# --- a refused form field says so next to itself ----------------------------------------------------------------------


@pytest.mark.parametrize(("delta", "said"), [
    pytest.param("", "必填", id="empty"),
    pytest.param("-50", "库存不足", id="more-than-on-hand"),
    pytest.param("1234567890123", "不能大于 10000000", id="too-long"),  # typed; the field keeps its first 9 digits
    pytest.param("12x", "请输入整数", id="not-a-number"),
])
async def test_a_refused_stock_adjustment_is_said_next_to_its_field(
        live_server: LiveServer, scene: Scene, page: Page, delta: str, said: str) -> None:
    await page.context.add_cookies([{"name": "uc_token", "value": scene.world.tokens["operator"],
                                     "url": live_server.base_url}])
    await page.goto(live_server.url("/console/stock"))
    await page.locator("#adjust-variant").select_option(str(scene.world.ids["tee"]))
    await page.locator("#adjust-location").select_option(str(scene.world.ids["WH"]))
    await page.locator("#adjust-delta").press_sequentially(delta)  # typed key by key, as a person does
    assert len(await page.locator("#adjust-delta").input_value()) == min(len(delta), 9)  # the field's maxlength
    await page.locator("#adjust-reason").fill("盘点")
    await page.get_by_role("button", name="确认调整").click()
    field = page.locator("#adjust-delta")
    await page.locator("#adjust-delta[aria-invalid='true']").wait_for()
    described_by = (await field.get_attribute("aria-describedby") or "").split()
    assert "adjust-delta-error" in described_by
    message = page.locator("#adjust-delta-error")
    assert said in await message.inner_text()
    # next to its field: the message is in the field's own group, and the page puts the focus on the field
    assert await page.evaluate("() => document.getElementById('adjust-delta').parentElement"
                               ".contains(document.getElementById('adjust-delta-error'))")
    await page.wait_for_function("() => document.activeElement.id === 'adjust-delta'", timeout=5_000)
    assert not re.search(r"[A-Za-z]{4,}", await message.inner_text()), "an English message on a Chinese page"
    assert not await serious_violations(page)
