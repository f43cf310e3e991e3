"""`unichannel bench live-pages`: how long after a change the open pages show it.

Starts the PostgreSQL-backed server (uvicorn) twice: with one worker whose pages follow its own relay directly
(`UNICHANNEL_LIVE_BROADCAST=false`: the baseline) and with W workers (a page hears every process's events through the
relay's broadcast, NOTIFY). Against each it
opens V product pages' Server-Sent Event streams and S big screens, then, from this process:
  - changes the product's stock N times through the API (each change one unit less), and measures for every open
    product page the time from sending the change to the first redraw showing it (or a later one);
  - places and pays M orders through the API (cart, order, card payment), and measures for every big screen the time
    from sending the payment to the first redraw counting that order.

Everything runs on 127.0.0.1 against servers this command starts, in a database it creates and drops. The load
generator (this process) shares the machine's CPUs with the server, as a shopper's phone would not.
"""

from __future__ import annotations

import asyncio
import os
import platform
import re
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any

import httpx

from unichannel import migrate
from unichannel.access.model import Role
from unichannel.bench.flash_sale import Server, _admin, _server_version, issue_tokens
from unichannel.catalog import repository as catalog_repository
from unichannel.catalog import service as catalog
from unichannel.catalog.model import Channel, PriceDraft, ProductDraft, VariantDraft
from unichannel.clock import SystemClock
from unichannel.customers import service as customers
from unichannel.db import create_engine
from unichannel.inventory import service as inventory
from unichannel.settings import Settings
from unichannel.uow import UnitOfWorkFactory

TARGET_MS = 1000.0  # the pages' promise: a change shows within one second
UNITS = 100_000
AVAILABLE = re.compile(r'data-testid="available">(\d+)')
ORDERS = re.compile(r'data-testid="orders">(\d+)<')
HOME = {"mode": "home_delivery", "address": {"name": "Bench shopper", "phone": "+8613700000000",
                                             "line1": "1 Dock Rd", "city": "Hangzhou", "latitude": 30.31,
                                             "longitude": 120.11}}


@dataclass
class Seeded:
    product_id: int
    variant_id: int
    warehouse_id: int
    operator: str
    shoppers: list[str]


@dataclass
class Latencies:
    """Milliseconds from a change being sent to each open page showing it; `missed` pages never showed it."""
    samples: list[float] = field(default_factory=list)
    missed: int = 0

    def summary(self) -> dict[str, Any]:
        if not self.samples:
            return {"samples": 0, "missed": self.missed}
        ordered = sorted(self.samples)
        at = lambda q: round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)  # noqa: E731
        return {"samples": len(ordered), "missed": self.missed, "p50_ms": at(0.50), "p95_ms": at(0.95),
                "p99_ms": at(0.99), "max_ms": round(ordered[-1], 1), "mean_ms": round(statistics.fmean(ordered), 1),
                "within_target": round(sum(s <= TARGET_MS for s in ordered) / len(ordered), 4)}


async def _seed(url: str, shoppers: int) -> Seeded:
    settings = Settings(database_url=url)
    factory = UnitOfWorkFactory(create_engine(settings), SystemClock(), settings)
    try:
        async with factory() as uow:
            merchant = await catalog.create_merchant(uow, slug="live-brand", name="Live", kind="brand",
                                                     country="CN", currency="CNY")
            warehouse = (await inventory.create_location(uow, {
                "code": "WH-LIVE", "name": "Live warehouse", "kind": "warehouse", "merchant_id": None,
                "address": "1 Dock Rd", "city": "Hangzhou", "region": "浙江省 杭州市", "latitude": 30.3,
                "longitude": 120.1, "details": {}}))["id"]
            draft = ProductDraft(handle="live-tee", name="Live tee", variants=[
                VariantDraft(sku="LIVE-TEE", name="one", prices=[PriceDraft(Channel.ONLINE, "CNY", 9900)])])
            product_id = (await catalog.apply_draft(uow, merchant["id"], draft)).product_id
            [variant] = await catalog_repository.variants_of(uow.conn, [product_id])
            await inventory.receive(uow, None, variant["id"], warehouse, UNITS, "bench")
            members = [await customers.register(uow, phone=f"+86136{n:08d}", email=None, name=f"shopper {n}",
                                                password=None) for n in range(shoppers)]
        tokens = await issue_tokens(factory, "live-bench", [(Role.OPERATOR, {})]
                                    + [(Role.SHOPPER, {"customer_id": m["id"]}) for m in members])
        return Seeded(product_id, variant["id"], warehouse, tokens[0], tokens[1:])
    finally:
        await factory.engine.dispose()


async def sse_events(response: httpx.Response, name: str):  # noqa: ANN201
    """The data of each `name` event of a Server-Sent Events stream (its data lines joined)."""
    event, data = None, []
    async for line in response.aiter_lines():
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        elif not line:
            if event == name:
                yield "\n".join(data)
            event, data = None, []


class Page:
    """One open page: what each of its redraws showed, and when."""

    def __init__(self) -> None:
        self.shown: list[tuple[float, int]] = []  # (monotonic time, the value a redraw showed)
        self.ready = asyncio.Event()


def latencies(pages: list[Page], sent: dict[int, float], shows: Callable[[int, int], bool]) -> Latencies:
    """For every page and every change (the value it leads to -> when it was sent): the time from sending it to the
    page's first redraw that `shows` it (that value or a later one: redraws of a burst may skip values)."""
    result = Latencies()
    for page in pages:
        for value, when in sent.items():
            seen = next((at for at, shown in page.shown if shows(shown, value)), None)
            if seen is None:
                result.missed += 1
            else:
                result.samples.append(max(0.0, seen - when) * 1000)
    return result


async def _follow(client: httpx.AsyncClient, url: str, event: str, pattern: re.Pattern[str], page: Page,
                  cookies: dict[str, str] | None = None) -> None:
    async with client.stream("GET", url, cookies=cookies) as response:
        response.raise_for_status()
        page.ready.set()
        async for data in sse_events(response, event):
            found = pattern.search(data)
            if found:
                page.shown.append((time.monotonic(), int(found.group(1))))


async def _scenario(base: str, seeded: Seeded, viewers: int, screens: int, changes: int, orders: int,
                    rate: float) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=viewers + screens + 64, max_keepalive_connections=64)
    operator = {"Authorization": f"Bearer {seeded.operator}"}
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        products = [Page() for _ in range(viewers)]
        boards = [Page() for _ in range(screens)]
        followers = [asyncio.create_task(_follow(client, f"{base}/live/products/{seeded.product_id}?lang=en",
                                                 "availability", AVAILABLE, p)) for p in products]
        followers += [asyncio.create_task(_follow(client, f"{base}/live/screen", "panel", ORDERS, b,
                                                  cookies={"uc_token": seeded.operator})) for b in boards]
        try:
            await asyncio.wait_for(asyncio.gather(*(p.ready.wait() for p in products + boards)), 60)
            await asyncio.sleep(1.0)  # every stream's listener in place (it registers just after its headers)

            # Stock changes, one unit less each, at `rate` per second.
            sent: dict[int, float] = {}  # available after the change -> when it was sent
            replies: list[float] = []
            first = time.monotonic()
            for n in range(changes):
                start = time.monotonic()
                reply = await client.post(f"{base}/api/v1/stock/adjust", headers=operator, json={
                    "variant_id": seeded.variant_id, "location_id": seeded.warehouse_id, "delta": -1,
                    "reason": "live bench"})
                reply.raise_for_status()
                sent[reply.json()["available"]] = start
                replies.append((time.monotonic() - start) * 1000)
                await asyncio.sleep(max(0.0, first + (n + 1) / rate - time.monotonic()))
            await asyncio.sleep(3.0)  # let the last redraws arrive
            stock = latencies(products, sent, lambda shown, available: shown <= available)

            # Paid orders, each counted on the big screen.
            panel = await client.get(f"{base}/screen/panel", cookies={"uc_token": seeded.operator})
            before = int(ORDERS.search(panel.text).group(1))  # orders paid today before these
            paid_at: dict[int, float] = {}
            order_replies: list[float] = []

            first = time.monotonic()
            for n in range(orders):  # one after another, so the n-th payment is the n-th the screen counts
                auth = {"Authorization": f"Bearer {seeded.shoppers[n % len(seeded.shoppers)]}"}
                (await client.post(f"{base}/api/v1/cart/lines", headers=auth, json={
                    "sku": "LIVE-TEE", "merchant": "live-brand", "quantity": 1})).raise_for_status()
                placed = await client.post(f"{base}/api/v1/orders", headers=auth, json={"delivery": HOME})
                placed.raise_for_status()
                start = time.monotonic()
                paid = await client.post(f"{base}/api/v1/orders/{placed.json()['orders'][0]['id']}/pay", headers=auth,
                                         json={"method": "card"})
                paid.raise_for_status()
                order_replies.append((time.monotonic() - start) * 1000)
                paid_at[n + 1] = start
                await asyncio.sleep(max(0.0, first + (n + 1) / rate - time.monotonic()))
            await asyncio.sleep(3.0)
            screen = latencies(boards, {before + n: when for n, when in paid_at.items()},
                               lambda shown, counted: shown >= counted)
        finally:
            for task in followers:
                task.cancel()
            await asyncio.gather(*followers, return_exceptions=True)
    return {"product_pages": stock.summary(), "big_screens": screen.summary(),
            "change_reply_p50_ms": round(statistics.median(replies), 1) if replies else None,
            "payment_reply_p50_ms": round(statistics.median(order_replies), 1) if order_replies else None}


def run(workers: int, viewers: int, screens: int, changes: int, orders: int, rate: float,
        admin_dsn: str) -> dict[str, Any]:
    database = f"unichannel_bench_{uuid.uuid4().hex[:8]}"
    base_dsn = admin_dsn.rsplit("/", 1)[0]
    url = f"{base_dsn.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{database}"
    asyncio.run(_admin(admin_dsn, f'CREATE DATABASE "{database}"'))
    scenarios: dict[str, Any] = {}
    try:
        migrate.upgrade(Settings(database_url=url))
        print("seeding ...", flush=True)
        seeded = asyncio.run(_seed(url, shoppers=4))
        for count in sorted({1, workers}):
            name = "1 worker (own events)" if count == 1 else f"{count} workers (broadcast)"
            print(f"running {name}: {viewers} product pages, {screens} big screens, {changes} stock changes, "
                  f"{orders} paid orders ...", flush=True)
            # The baseline: one process whose pages follow its own relay directly (no broadcast at all).
            server = Server(url, count, {"UNICHANNEL_DATABASE_POOL_SIZE": "10",
                                         "UNICHANNEL_LIVE_BROADCAST": "false" if count == 1 else "true"})
            try:
                scenarios[str(count)] = {"name": name, "workers": count} | asyncio.run(
                    _scenario(server.base, seeded, viewers, screens, changes, orders, rate))
            finally:
                server.stop()
        server_version = asyncio.run(_server_version(admin_dsn))
    finally:
        asyncio.run(_admin(admin_dsn, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    base, spread = scenarios["1"], scenarios[str(workers)]

    def ratio(key: str) -> float | None:
        a, b = spread[key].get("p99_ms"), base[key].get("p99_ms")
        return round(a / b, 2) if a and b else None

    return {
        "benchmark": "live-pages",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "workers": workers, "viewers": viewers, "screens": screens, "changes": changes, "orders": orders,
        "rate_per_s": rate, "target_ms": TARGET_MS, "cpu_count": os.cpu_count(),
        "versions": {"python": platform.python_version(), "postgresql": server_version,
                     "unichannel": version("unichannel"), "uvicorn": version("uvicorn"),
                     "sse-starlette": version("sse-starlette")},
        "scenarios": scenarios,
        "ratio_p99_broadcast_to_own": {"product_pages": ratio("product_pages"), "big_screens": ratio("big_screens")},
        "missed": sum(s[k]["missed"] for s in scenarios.values() for k in ("product_pages", "big_screens")),
    }
