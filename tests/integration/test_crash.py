"""Crash test on PostgreSQL: kill -9 one of several server processes in the middle of a flash sale.

(A test that restarted PostgreSQL mid-sale was removed: restarting the machine's shared cluster from the suite once
left it down for every later test. Recovery after a database restart is an open item of issue 3.)

Every order a client saw acknowledged is in the database, nothing is oversold, the surviving processes keep selling,
and the holds of orders nobody pays (acknowledged or not) are released when they expire. No timing is asserted.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from tests.integration.flash import build_flash_world
from tests.integration.server import running_server
from unichannel.check import run_checks
from unichannel.clock import FixedClock, SystemClock
from unichannel.db import create_engine
from unichannel.orders import service as orders_service
from unichannel.orders.repository import order_lines, orders
from unichannel.promotions.repository import flash_sales
from unichannel.settings import Settings
from unichannel.uow import UnitOfWorkFactory

pytestmark = pytest.mark.postgres


async def _open_sale(settings: Settings):  # noqa: ANN202 - the FlashWorld of tests.integration.flash
    """A sale of 3,000 units, open since a second ago, 200 buyers with a limit of 100 each."""
    factory = UnitOfWorkFactory(create_engine(settings), SystemClock(), settings)
    try:
        return await build_flash_world(factory, datetime.now(UTC) - timedelta(seconds=1), units=3000, limit=100,
                                       buyers=200)
    finally:
        await factory.engine.dispose()


async def _stored(engine, world) -> tuple[set[int], int, int]:  # noqa: ANN001
    """(the sale's order ids in the database, the units in their lines, the sale's sold counter)."""
    async with engine.connect() as conn:
        stored = set((await conn.execute(select(orders.c.id).where(orders.c.flash_sale_id == world.sale_id)))
                     .scalars())
        units = (await conn.execute(select(func.sum(order_lines.c.quantity)))).scalar_one()
        sold = (await conn.execute(select(flash_sales.c.sold))).scalar_one()
    return stored, units, sold


def _workers(server_pid: int) -> list[int]:
    children = Path(f"/proc/{server_pid}/task/{server_pid}/children")
    return [int(pid) for pid in children.read_text().split()] if children.exists() else []


async def test_killing_a_server_process_mid_sale_loses_no_acknowledged_order(postgres_only_url):
    settings = Settings(database_url=postgres_only_url)
    world = await _open_sale(settings)
    acknowledged: dict[int, float] = {}  # order id -> when the client saw the 201
    failures = 0
    with running_server(postgres_only_url, workers=3) as base:
        from tests.integration import server as server_module

        server_pid = server_module.last_pid
        stop_at = time.monotonic() + 6
        killed_at: list[float] = []

        async def buyer(n: int, client: httpx.AsyncClient) -> None:
            nonlocal failures
            token = world.tokens[f"buyer{n % 200}"]
            while time.monotonic() < stop_at:
                try:
                    response = await client.post(f"/api/v1/flash-sales/{world.sale_id}/orders", json={"quantity": 1},
                                                 headers={"Authorization": f"Bearer {token}"})
                except httpx.HTTPError:
                    failures += 1
                    continue
                if response.status_code == 201:
                    acknowledged[response.json()["order_id"]] = time.monotonic()

        async def killer() -> None:
            await asyncio.sleep(2)
            victim = _workers(server_pid)[0]
            os.kill(victim, signal.SIGKILL)
            killed_at.append(time.monotonic())

        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            await asyncio.gather(killer(), *(buyer(n, client) for n in range(60)))
    assert killed_at, "the worker was killed"
    after_kill = [t for t in acknowledged.values() if t > killed_at[0] + 0.5]
    assert after_kill, "the surviving processes kept selling after the kill"

    engine = create_engine(settings)
    try:
        stored, units, sold = await _stored(engine, world)
        assert set(acknowledged) <= stored  # no acknowledged order lost
        assert units == sold == len(stored) <= 3000  # nothing oversold; every stored order counted once
        assert (await run_checks(engine)).violations == []
        later = FixedClock(datetime.now(UTC) + timedelta(minutes=settings.flash_hold_minutes + 1))
        expiring = UnitOfWorkFactory(engine, later, settings)
        cancelled: list[int] = []
        while True:
            async with expiring() as uow:
                batch = await orders_service.cancel_lapsed_orders(uow, limit=500)
            if not batch:
                break
            cancelled.extend(batch)
        assert sorted(cancelled) == sorted(stored)  # unpaid holds, acknowledged or not, all lapse and give back
        async with engine.connect() as conn:
            assert (await conn.execute(select(flash_sales.c.sold))).scalar_one() == 0
        assert (await run_checks(engine)).violations == []
    finally:
        await engine.dispose()
