"""Crash tests on PostgreSQL, in the middle of a flash sale: kill -9 one of several server processes; crash and restart
the database itself (a throw-away cluster of the test's own, never the machine's shared one).

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
from tests.integration.scratch_postgres import postgres_bin_dir, scratch_cluster
from tests.integration.server import running_server
from unichannel.check import run_checks
from unichannel.clock import FixedClock, SystemClock
from unichannel.db import create_engine
from unichannel.orders import service as orders_service
from unichannel.orders.repository import order_lines, orders
from unichannel.promotions.repository import flash_sales
from unichannel import migrate
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


@pytest.mark.skipif(postgres_bin_dir() is None, reason="needs PostgreSQL's server binaries to run a cluster of its own")
async def test_crashing_postgresql_mid_sale_loses_no_acknowledged_order_and_sales_resume(postgres_only_url):
    with scratch_cluster() as cluster:
        settings = Settings(database_url=cluster.url)
        await asyncio.to_thread(migrate.upgrade, settings)
        world = await _open_sale(settings)
        acknowledged: dict[int, float] = {}
        restarted_at: list[float] = []
        with running_server(cluster.url, workers=2) as base:
            give_up_at = time.monotonic() + 120  # bounded, whatever happens

            def done() -> bool:
                if time.monotonic() > give_up_at:
                    return True
                return bool(restarted_at) and (sum(t > restarted_at[0] for t in acknowledged.values()) >= 50
                                               or time.monotonic() > restarted_at[0] + 30)

            async def buyer(n: int, client: httpx.AsyncClient) -> None:
                token = world.tokens[f"buyer{n % 200}"]
                while not done():
                    try:
                        response = await client.post(f"/api/v1/flash-sales/{world.sale_id}/orders",
                                                     json={"quantity": 1}, headers={"Authorization": f"Bearer {token}"})
                    except httpx.HTTPError:
                        await asyncio.sleep(0.05)
                        continue
                    if response.status_code == 201:
                        acknowledged[response.json()["order_id"]] = time.monotonic()
                    elif response.status_code >= 500:
                        await asyncio.sleep(0.05)  # 503 batch_failed while the database is away: retry

            async def crasher() -> None:
                await asyncio.sleep(2)
                await asyncio.to_thread(cluster.crash_and_restart)
                restarted_at.append(time.monotonic())

            async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                await asyncio.gather(crasher(), *(buyer(n, client) for n in range(40)))
        assert restarted_at, "PostgreSQL was crashed and restarted"
        assert sum(t < restarted_at[0] for t in acknowledged.values()) > 0, "orders were acknowledged before the crash"
        after = sorted(t for t in acknowledged.values() if t > restarted_at[0])
        print(f"{len(acknowledged) - len(after)} orders before the crash, {len(after)} after; first "
              f"{after[0] - restarted_at[0] if after else float('nan'):.2f} s after the restart")
        assert len(after) >= 50, f"sales resumed after the restart ({len(after)} orders acknowledged in 30 s)"
        engine = create_engine(settings)
        try:
            stored, units, sold = await _stored(engine, world)
            assert set(acknowledged) <= stored  # committed before the crash means still there after WAL replay
            assert units == sold == len(stored) <= 3000
            assert (await run_checks(engine)).violations == []
        finally:
            await engine.dispose()
