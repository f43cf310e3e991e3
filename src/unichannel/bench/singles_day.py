"""`unichannel simulate singles-day`: many shoppers and store tills racing for several hot SKUs at a precise opening.

It creates its own database (a temporary SQLite file, or a database on a PostgreSQL server it then drops), starts the
server on 127.0.0.1 the way `unichannel serve` does, and lets every shopper keep trying until they hold a unit, reach
their limit or the SKU sells out, while clerks at the participating stores sell to walk-in members at the same price.
Bounded: it stops when every SKU is sold out or after `max_seconds`.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import func, select

from unichannel import migrate
from unichannel.access.model import Role
from unichannel.bench.flash_sale import Server, _admin, issue_tokens
from unichannel.catalog import repository as catalog_repository
from unichannel.catalog import service as catalog
from unichannel.catalog.model import Channel, PriceDraft, ProductDraft, VariantDraft
from unichannel.check import run_checks
from unichannel.clock import SystemClock
from unichannel.customers import service as customers
from unichannel.db import create_engine
from unichannel.inventory import service as inventory
from unichannel.inventory.repository import stock
from unichannel.money import Money
from unichannel.orders.repository import order_lines, orders
from unichannel.promotions import service as promotions
from unichannel.promotions.repository import flash_sales
from unichannel.settings import Settings
from unichannel.uow import UnitOfWorkFactory

HOT_ITEMS = [("SD-KETTLE", "Smart kettle", 9900), ("SD-EARBUDS", "Wireless earbuds", 19900),
             ("SD-RICE", "Xin'anjiang rice 5 kg", 3990), ("SD-TEA", "Baocha green tea", 12800),
             ("SD-SCARF", "Silk scarf", 29900)]


@dataclass
class World:
    sales: dict[str, int]  # sku -> sale id
    quantities: dict[str, int]
    shopper_tokens: list[str]
    clerk_tokens: list[str]
    member_ids: list[int]
    opens_at: datetime


async def _seed(url: str, skus: int, units: int, shoppers: int) -> World:
    """The sales open in an hour; `_drive` moves the opening once the first shopper is waiting for it."""
    settings = Settings(database_url=url)
    factory = UnitOfWorkFactory(create_engine(settings), SystemClock(), settings)
    opens_at = datetime.now(UTC) + timedelta(hours=1)
    try:
        async with factory() as uow:
            merchant = await catalog.create_merchant(uow, slug="singles-day", name="11.11 Brand", kind="brand",
                                                     country="CN", currency="CNY")
            places = []
            for code, kind, lat, lon in (("SD-WH", "warehouse", 30.30, 120.00), ("SD-WESTLAKE", "store", 30.28, 120.12),
                                         ("SD-GONGSHU", "store", 30.29, 120.16)):
                places.append((await inventory.create_location(uow, {
                    "code": code, "name": code, "kind": kind, "merchant_id": None, "address": f"{code} 1",
                    "city": "Hangzhou", "region": "浙江省 杭州市", "latitude": lat, "longitude": lon, "details": {}}))["id"])
            sales, quantities = {}, {}
            for sku, name, price in HOT_ITEMS[:skus]:
                draft = ProductDraft(handle=sku.lower(), name=name, variants=[
                    VariantDraft(sku=sku, name=name, prices=[PriceDraft(Channel.ONLINE, "CNY", price * 2)])])
                product_id = (await catalog.apply_draft(uow, merchant["id"], draft)).product_id
                [variant] = await catalog_repository.variants_of(uow.conn, [product_id])
                shelf = max(1, units // 5)  # each participating store holds a fifth of the units on its shelf
                await inventory.receive(uow, None, variant["id"], places[0], units - 2 * shelf, "11.11")
                for store in places[1:]:
                    await inventory.receive(uow, None, variant["id"], store, shelf, "11.11")
                sale = await promotions.create_sale(
                    uow, merchant["id"], variant_id=variant["id"], location_ids=places, name=f"11.11 {name}",
                    currency="CNY", price_minor=price, quantity=units, per_customer_limit=2,
                    starts_at=opens_at, ends_at=opens_at + timedelta(hours=24))
                sales[sku], quantities[sku] = sale["id"], units
            member_ids = []
            for n in range(shoppers):
                member = await customers.register(uow, phone=f"+86136{n:08d}", email=None, name=f"shopper {n}",
                                                  password=None)
                member_ids.append(member["id"])
        shopper_tokens = await issue_tokens(factory, "singles-day",
                                            [(Role.SHOPPER, {"customer_id": m}) for m in member_ids])
        clerk_tokens = await issue_tokens(factory, "singles-day", [(Role.CLERK, {"location_id": p}) for p in places[1:]])
        return World(sales, quantities, shopper_tokens, clerk_tokens, member_ids, opens_at)
    finally:
        await factory.engine.dispose()


async def _sign_in_everyone(base: str, world: World) -> None:
    """Every shopper and till opens the app before the sale (each server process checks each token once)."""
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        gate = asyncio.Semaphore(32)

        async def me(token: str) -> None:
            async with gate:
                await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})

        await asyncio.gather(*(me(t) for t in [*world.shopper_tokens, *world.clerk_tokens] * 3))


async def _open_soon(url: str, world: World, seconds: float) -> None:
    """Sets every sale to open `seconds` from now: the precise instant everybody is waiting for."""
    world.opens_at = datetime.now(UTC) + timedelta(seconds=seconds)
    engine = create_engine(Settings(database_url=url))
    try:
        async with engine.begin() as conn:
            await conn.execute(flash_sales.update().values(starts_at=world.opens_at))
    finally:
        await engine.dispose()


@dataclass
class Tally:
    acknowledged: Counter = field(default_factory=Counter)  # sku -> units with a 201
    by_second: Counter = field(default_factory=Counter)  # whole seconds since opening -> orders
    sold_out_at: dict[str, float] = field(default_factory=dict)
    answers: Counter = field(default_factory=Counter)


async def _shop(client: httpx.AsyncClient, world: World, tally: Tally, progress: Progress, bars: dict[str, Any],
                deadline: float, token: str, customer_id: int | None, rng: random.Random,
                gate: asyncio.Semaphore) -> None:
    """One shopper (or one till, when `customer_id` names the member it serves) trying SKUs until done."""
    wanted = rng.sample(list(world.sales), k=min(2, len(world.sales)))
    while wanted and time.monotonic() < deadline:
        sku = wanted[0]
        params = {"customer_id": customer_id} if customer_id else None
        try:
            async with gate:
                response = await client.post(
                    f"/api/v1/flash-sales/{world.sales[sku]}/orders", json={"quantity": 1}, params=params,
                    headers={"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex})
        except httpx.HTTPError:
            tally.answers["transport error"] += 1
            await asyncio.sleep(0.05)
            continue
        code = "201" if response.status_code == 201 else response.json().get("code", str(response.status_code))
        tally.answers[code] += 1
        since_open = (datetime.now(UTC) - world.opens_at).total_seconds()
        if code == "201":
            tally.acknowledged[sku] += 1
            tally.by_second[int(since_open)] += 1
            progress.update(bars[sku], advance=1)
            wanted.pop(0)
        elif code == "sold_out":
            tally.sold_out_at.setdefault(sku, since_open)
            wanted.pop(0)
        elif code in ("limit_exceeded", "not_participating"):
            wanted.pop(0)
        elif code == "not_started":
            await asyncio.sleep(0.02)
        else:
            await asyncio.sleep(0.05)
        if customer_id is not None:  # a till serves the next member in the queue
            customer_id = rng.choice(world.member_ids)


async def _drive(base: str, url: str, world: World, max_seconds: float, concurrency: int, console: Console
                 ) -> Tally:
    """Shoppers and tills start asking while the sale is still an hour away; once the first of them has been told
    `not_started`, the opening is set two seconds ahead (longer than a server process keeps its copy of a sale), the
    precise instant they are all waiting for."""
    tally = Tally()

    async def open_once_someone_is_waiting() -> None:
        waited = time.monotonic() + max_seconds
        while not tally.answers["not_started"] and time.monotonic() < waited:
            await asyncio.sleep(0.01)
        await _open_soon(url, world, seconds=2.0)
        console.print(f"the sale opens at {world.opens_at.isoformat(timespec='milliseconds')}; "
                      f"{tally.answers['not_started']} early requests were told not_started so far")

    rng = random.Random(1111)
    deadline = time.monotonic() + max_seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as progress:
        bars = {sku: progress.add_task(f"{sku:<11}", total=world.quantities[sku]) for sku in world.sales}
        async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
            gate = asyncio.Semaphore(concurrency)  # requests in flight, across shoppers and tills

            async def one(token: str, customer_id: int | None) -> None:
                await _shop(client, world, tally, progress, bars, deadline, token, customer_id,
                            random.Random(rng.random()), gate)

            tills = [one(token, rng.choice(world.member_ids)) for token in world.clerk_tokens for _ in range(20)]
            await asyncio.gather(open_once_someone_is_waiting(), *tills, *(one(t, None) for t in world.shopper_tokens))
    return tally


async def _outcome(url: str, world: World) -> dict[str, Any]:
    engine = create_engine(Settings(database_url=url))
    try:
        async with engine.connect() as conn:
            gmv = dict((await conn.execute(
                select(orders.c.channel, func.sum(orders.c.total_minor)).where(orders.c.flash_sale_id.is_not(None))
                .group_by(orders.c.channel))).all())
            units = dict((await conn.execute(
                select(order_lines.c.sku, func.sum(order_lines.c.quantity)).group_by(order_lines.c.sku))).all())
            sold = dict((await conn.execute(select(flash_sales.c.id, flash_sales.c.sold))).all())
            over_stock = (await conn.execute(
                select(func.count()).select_from(stock).where(stock.c.reserved > stock.c.on_hand))).scalar_one()
        report = await run_checks(engine)
    finally:
        await engine.dispose()
    oversold = sum(max(0, units.get(sku, 0) - world.quantities[sku]) for sku in world.sales)
    oversold += sum(max(0, sold[world.sales[sku]] - world.quantities[sku]) for sku in world.sales) + over_stock
    return {"gmv": gmv, "units": units, "oversold": oversold, "violations": [v.message for v in report.violations]}


def run(*, postgres: str | None, skus: int, units: int, shoppers: int, workers: int, max_seconds: float,
        concurrency: int, console: Console) -> dict[str, Any]:
    """Runs the simulation and prints its report; returns the figures (oversold and check violations included)."""
    with tempfile.TemporaryDirectory() as tmp:
        if postgres:
            database = f"unichannel_sim_{uuid.uuid4().hex[:8]}"
            asyncio.run(_admin(postgres, f'CREATE DATABASE "{database}"'))
            url = f"{postgres.rsplit('/', 1)[0].replace('postgresql://', 'postgresql+asyncpg://', 1)}/{database}"
        else:
            url, workers = f"sqlite+aiosqlite:///{Path(tmp) / 'singles-day.db'}", 1
        try:
            migrate.upgrade(Settings(database_url=url))
            console.print(f"seeding {skus} hot SKUs x {units} units, {shoppers} shoppers, 2 store tills ...")
            world = asyncio.run(_seed(url, skus, units, shoppers))
            server = Server(url, workers, {"UNICHANNEL_DATABASE_POOL_SIZE": "10"})
            try:
                console.print("everyone signs in before the opening ...")
                asyncio.run(_sign_in_everyone(server.base, world))
                tally = asyncio.run(_drive(server.base, url, world, max_seconds, concurrency, console))
            finally:
                server.stop()
            outcome = asyncio.run(_outcome(url, world))
        finally:
            if postgres:
                asyncio.run(_admin(postgres, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    _print_report(console, world, tally, outcome)
    return {"tally": tally, **outcome}


def _print_report(console: Console, world: World, tally: Tally, outcome: dict[str, Any]) -> None:
    per_second = Table(title="orders per second after the opening")
    per_second.add_column("second")
    per_second.add_column("orders", justify="right")
    for second in sorted(s for s in tally.by_second if s >= 0):
        per_second.add_row(str(second), f"{tally.by_second[second]:,}")
    console.print(per_second)
    skus = Table(title="hot SKUs")
    for column in ("SKU", "units", "acknowledged", "in database", "sold out after"):
        skus.add_column(column)
    for sku in world.sales:
        after = tally.sold_out_at.get(sku)
        skus.add_row(sku, str(world.quantities[sku]), str(tally.acknowledged[sku]), str(outcome["units"].get(sku, 0)),
                     f"{after:.2f} s" if after is not None else "not sold out")
    console.print(skus)
    gmv = " · ".join(f"{channel}: {Money(amount, 'CNY').display()}" for channel, amount in sorted(outcome["gmv"].items()))
    console.print(f"GMV by channel: {gmv or 'none'}")
    console.print(f"answers: {dict(tally.answers)}")
    verdict = "clean" if not outcome["violations"] else f"{len(outcome['violations'])} violations"
    console.print(f"oversold = {outcome['oversold']}; unichannel check: {verdict}")
