"""Races on real PostgreSQL through the real HTTP server (uvicorn, two worker processes).

No timing is asserted: only who won, how many orders exist and what the stock rows say.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest
from sqlalchemy import func, select

from unichannel.access.model import Role
from unichannel.access.service import issue_token
from unichannel.catalog import service as catalog
from unichannel.catalog.model import Channel, PriceDraft, ProductDraft, VariantDraft
from unichannel.check import run_checks
from unichannel.checkout import service as cart
from unichannel.clock import SystemClock
from unichannel.customers import service as customers
from unichannel.db import create_engine
from unichannel.inventory import service as inventory
from unichannel.inventory.repository import reservations, stock
from unichannel.orders.repository import checkouts, orders
from unichannel.settings import Settings
from unichannel.uow import UnitOfWorkFactory

from tests.integration.server import running_server

pytestmark = pytest.mark.postgres
HOME = {"mode": "home_delivery", "address": {"name": "Buyer", "phone": "+8613900000000", "line1": "1 Road",
                                             "city": "Hangzhou"}}


async def _seed(url: str, *, buyers: int, units: int, quantity: int = 1) -> tuple[str, list[int], int, int]:
    """A hot SKU with `units` in one warehouse and `buyers` members with it in their carts; an operator token."""
    factory = UnitOfWorkFactory(create_engine(Settings(database_url=url)), SystemClock(), Settings(database_url=url))
    try:
        async with factory() as uow:
            merchant = await catalog.create_merchant(uow, slug="hot-brand", name="Hot", kind="brand", country="CN",
                                                     currency="CNY")
            warehouse = await inventory.create_location(uow, {
                "code": "WH-HOT", "name": "Hot warehouse", "kind": "warehouse", "merchant_id": None,
                "address": "1 Dock", "city": "Hangzhou", "region": "", "latitude": 30.3, "longitude": 120.1,
                "details": {}})
            draft = ProductDraft(handle="hot", name="Hot item", variants=[
                VariantDraft(sku="HOT-1", name="one", prices=[PriceDraft(Channel.ONLINE, "CNY", 1111)])])
            product_id = (await catalog.apply_draft(uow, merchant["id"], draft)).product_id
            from unichannel.catalog import repository as catalog_repository

            [variant] = await catalog_repository.variants_of(uow.conn, [product_id])
            await inventory.receive(uow, None, variant["id"], warehouse["id"], units, "PO-HOT")
            customer_ids = []
            for n in range(buyers):
                member = await customers.register(uow, phone=f"+86139{n:08d}", email=None, name=f"buyer {n}",
                                                  password=None)
                await cart.add_item(uow, member["id"], variant, quantity, added_via=Channel.ONLINE,
                                    channel=Channel.ONLINE)
                customer_ids.append(member["id"])
            token = (await issue_token(uow, Role.OPERATOR, name="race")).token
        return token, customer_ids, variant["id"], warehouse["id"]
    finally:
        await factory.engine.dispose()


async def _database_state(url: str, variant_id: int, location_id: int) -> dict[str, int]:
    engine = create_engine(Settings(database_url=url))
    try:
        async with engine.connect() as conn:
            level = (await conn.execute(select(stock.c.on_hand, stock.c.reserved).where(
                stock.c.variant_id == variant_id, stock.c.location_id == location_id))).one()
            return {
                "orders": (await conn.execute(select(func.count()).select_from(orders))).scalar_one(),
                "checkouts": (await conn.execute(select(func.count()).select_from(checkouts))).scalar_one(),
                "holds": (await conn.execute(select(func.count()).select_from(reservations))).scalar_one(),
                "on_hand": level.on_hand,
                "reserved": level.reserved,
                "violations": len((await run_checks(engine)).violations),
            }
    finally:
        await engine.dispose()


async def _post_all(base: str, requests: list[tuple[dict, dict]]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(requests), max_keepalive_connections=len(requests))
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        start = asyncio.Event()

        async def one(headers: dict, params: dict) -> httpx.Response:
            await start.wait()
            return await client.post("/api/v1/orders", json={"delivery": HOME}, headers=headers, params=params)

        tasks = [asyncio.create_task(one(h, p)) for h, p in requests]
        await asyncio.sleep(0.1)
        start.set()
        return await asyncio.gather(*tasks)


async def test_two_hundred_buyers_racing_for_fifty_units_get_exactly_fifty_orders(postgres_only_url):
    token, buyers, variant_id, location_id = await _seed(postgres_only_url, buyers=200, units=50)
    with running_server(postgres_only_url, workers=2) as base:
        responses = await _post_all(base, [
            ({"Authorization": f"Bearer {token}", "Idempotency-Key": f"buy-{c}"}, {"customer_id": c}) for c in buyers
        ])
    outcomes = Counter((r.status_code, r.json().get("code")) for r in responses)
    assert outcomes == {(201, None): 50, (409, "sold_out"): 150}
    winners = {r.json()["orders"][0]["customer_id"] for r in responses if r.status_code == 201}
    assert len(winners) == 50
    state = await _database_state(postgres_only_url, variant_id, location_id)
    assert state == {"orders": 50, "checkouts": 50, "holds": 50, "on_hand": 50, "reserved": 50, "violations": 0}


async def test_twenty_concurrent_retries_with_one_key_make_exactly_one_order(postgres_only_url):
    token, [buyer], variant_id, location_id = await _seed(postgres_only_url, buyers=1, units=10, quantity=3)
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "the-one-key"}
    with running_server(postgres_only_url, workers=2) as base:
        responses = await _post_all(base, [(headers, {"customer_id": buyer})] * 20)
    assert [r.status_code for r in responses] == [201] * 20
    assert len({r.json()["checkout_id"] for r in responses}) == 1
    assert len({r.json()["orders"][0]["id"] for r in responses}) == 1
    state = await _database_state(postgres_only_url, variant_id, location_id)
    assert state == {"orders": 1, "checkouts": 1, "holds": 1, "on_hand": 10, "reserved": 3, "violations": 0}



async def test_several_server_processes_racing_five_thousand_flash_orders_for_five_hundred_units(postgres_only_url):
    from datetime import UTC, datetime, timedelta

    from unichannel.promotions.repository import flash_sale_purchases, flash_sales

    from tests.integration.flash import build_flash_world

    settings = Settings(database_url=postgres_only_url)
    factory = UnitOfWorkFactory(create_engine(settings), SystemClock(), settings)
    try:
        world = await build_flash_world(factory, datetime.now(UTC) - timedelta(seconds=1), units=500, limit=2,
                                        buyers=1000)
    finally:
        await factory.engine.dispose()
    asks = [(world.tokens[f"buyer{n % 1000}"], f"{n}") for n in range(5000)]  # each buyer asks five times
    with running_server(postgres_only_url, workers=3) as base:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
            gate = asyncio.Semaphore(200)

            async def one(token: str, key: str) -> httpx.Response:
                async with gate:
                    return await client.post(f"/api/v1/flash-sales/{world.sale_id}/orders", json={"quantity": 1},
                                             headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key})

            responses = await asyncio.gather(*(one(token, key) for token, key in asks))
    outcomes = Counter((r.status_code, r.json().get("code")) for r in responses)
    assert outcomes[(201, None)] == 500
    assert set(outcomes) <= {(201, None), (409, "sold_out"), (409, "limit_exceeded")}
    assert sum(outcomes.values()) == 5000
    engine = create_engine(settings)
    try:
        async with engine.connect() as conn:
            sold = (await conn.execute(select(flash_sales.c.sold))).scalar_one()
            per_buyer = [q for (q,) in await conn.execute(select(flash_sale_purchases.c.quantity))]
        assert sold == 500 and sum(per_buyer) == 500 and max(per_buyer) <= 2
        assert (await run_checks(engine)).violations == []
    finally:
        await engine.dispose()
    state = await _database_state(postgres_only_url, world.variant_id, world.warehouse_id)
    assert state == {"orders": 500, "checkouts": 0, "holds": 500, "on_hand": 500, "reserved": 500, "violations": 0}
