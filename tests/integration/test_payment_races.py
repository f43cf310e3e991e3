"""Money races on real PostgreSQL: concurrent requests on separate connections, through the application in-process.

No timing is asserted: only how much money moved and how many transfers exist.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from sqlalchemy import func, select

from tests.integration.test_payments_api import PRICE, balances, deliver, paid_order
from tests.integration.world import build_world, count
from unichannel.check import run_checks
from unichannel.orders import service as orders_service
from unichannel.payments.repository import ledger_transfers, payments, refunds

postgres_only = pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


@postgres_only
async def test_twenty_concurrent_refunds_never_refund_more_than_was_captured(env):
    world = await build_world(env)
    order_id = await paid_order(env, world)

    async def refund(n: int) -> int:
        response = await env.client.post(f"/api/v1/orders/{order_id}/refunds", json={"amount_minor": 1000},
                                         headers=world.auth("operator" if n % 2 else "staff_a"))
        return response.status_code

    statuses = Counter(await asyncio.gather(*(refund(n) for n in range(20))))
    assert statuses == {201: 9, 409: 11}  # 9 x 1,000 fit under 9,900; the tenth would not
    async with env.uow(read_only=True) as uow:
        refunded = (await uow.conn.execute(select(payments.c.refunded_minor))).scalar_one()
        kinds = Counter((await uow.conn.execute(select(ledger_transfers.c.kind))).scalars())
    assert refunded == 9000 and kinds == {"capture": 1, "refund": 9}
    assert await count(env, refunds) == 9 and sum(r[1] for r in env.gateway.refunds) == 9000
    assert (await balances(env, world))[("escrow", 0, "CNY")] == PRICE - 9000
    assert (await run_checks(env.app.state.engine)).violations == []


@postgres_only
async def test_receipt_confirmed_by_the_shopper_the_operator_and_the_sweeper_at_once_releases_escrow_once(env):
    world = await build_world(env)
    order_id = await paid_order(env, world)
    await deliver(env, world, order_id)
    env.clock.advance(days=env.settings.auto_confirm_days + 1)

    async def confirm(who: str) -> int:
        response = await env.client.post(f"/api/v1/orders/{order_id}/transitions", json={"to": "completed"},
                                         headers=world.auth(who))
        return response.status_code

    async def sweep() -> int:
        async with env.uow() as uow:
            return 200 if await orders_service.confirm_delivered_orders(uow) == [order_id] else 409

    statuses = Counter(await asyncio.gather(*(confirm("alice" if n % 2 else "operator") for n in range(8)),
                                            sweep(), sweep()))
    assert statuses[200] == 1 and statuses[409] == 9
    async with env.uow(read_only=True) as uow:
        releases = (await uow.conn.execute(
            select(func.count()).select_from(ledger_transfers).where(ledger_transfers.c.kind == "release"))).scalar_one()
    assert releases == 1
    assert (await balances(env, world))[("merchant_payable", world.ids["brand_a"], "CNY")] == PRICE - 495
    assert (await run_checks(env.app.state.engine)).violations == []


@postgres_only
async def test_a_refund_racing_the_release_lands_on_one_side_of_it_exactly(env):
    world = await build_world(env)
    order_id = await paid_order(env, world)
    await deliver(env, world, order_id)

    async def confirm() -> int:
        return (await env.client.post(f"/api/v1/orders/{order_id}/transitions", json={"to": "completed"},
                                      headers=world.auth("alice"))).status_code

    async def refund() -> int:
        return (await env.client.post(f"/api/v1/orders/{order_id}/refunds", json={"amount_minor": 3300},
                                      headers=world.auth("staff_a"))).status_code

    assert sorted(await asyncio.gather(confirm(), refund())) == [200, 201]
    account = await balances(env, world)
    # before release: escrow paid 3,300 back and released 6,600 (fee 330); after: payable and fee gave back 3,135
    # and 165 of 9,405 and 495. Either way the merchant ends with 6,270 and the platform with 330.
    assert account[("merchant_payable", world.ids["brand_a"], "CNY")] == 6270
    assert account[("fee_revenue", 0, "CNY")] == 330
    assert account[("escrow", 0, "CNY")] == 0
    assert (await run_checks(env.app.state.engine)).violations == []
