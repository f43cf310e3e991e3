"""Instalments through the API: the plan pays the order at once, the shopper repays monthly or early, a missed
instalment makes the plan overdue, and a refund pays down the debt before any money goes back through the gateway.
On SQLite and PostgreSQL; `unichannel check` (which ties each receivable to its plans) is clean after each."""

from __future__ import annotations

import pytest

from tests.integration.test_orders_api import add, place
from tests.integration.test_payments_api import PRICE, balances, receive
from tests.integration.world import build_world, count
from unichannel.check import run_checks
from unichannel.payments import instalments
from unichannel.payments.repository import instalment_plans

SIX_MONTH_FEE = PRICE * 450 // 10_000  # 445: 4.5% for six months, rounded down


async def financed_order(env, world, months: int = 6, who: str = "alice") -> tuple[int, dict]:
    await add(env, world, who)
    order_id = (await place(env, world, who)).json()["orders"][0]["id"]
    paid = await env.client.post(f"/api/v1/orders/{order_id}/pay", json={"method": "instalments", "months": months},
                                 headers=world.auth(who))
    assert paid.status_code == 200 and paid.json()["status"] == "paid", paid.text
    [plan] = (await env.client.get("/api/v1/instalment-plans", headers=world.auth(who))).json()
    return order_id, plan


async def repay(env, world, plan_id: int, **body):
    return await env.client.post(f"/api/v1/instalment-plans/{plan_id}/payments", json=body, headers=world.auth("alice"))


async def clean(env) -> None:
    assert (await run_checks(env.app.state.engine)).violations == []


async def test_paying_in_six_instalments_pays_the_order_at_once_from_money_the_platform_lends(env):
    world = await build_world(env)
    order_id, plan = await financed_order(env, world)
    assert (plan["order_id"], plan["months"], plan["status"], plan["fee"]["amount_minor"]) == (
        order_id, 6, "active", SIX_MONTH_FEE)
    amounts = [i["amount"]["amount_minor"] for i in plan["instalments"]]
    assert sum(amounts) == plan["owed"]["amount_minor"] == PRICE + SIX_MONTH_FEE  # 10,345 = 6 x 1,724 + 1
    assert amounts == [1725, 1724, 1724, 1724, 1724, 1724]
    assert await balances(env, world) == {
        ("instalment_receivable", world.ids["alice"], "CNY"): -(PRICE + SIX_MONTH_FEE),
        ("shopper_funding", world.ids["alice"], "CNY"): 0,  # lent in, paid out to escrow
        ("instalment_fee_revenue", 0, "CNY"): SIX_MONTH_FEE,
        ("escrow", 0, "CNY"): PRICE,
    }
    assert env.gateway.captures == []  # nothing was charged to a card yet
    await clean(env)


async def test_the_merchant_is_paid_as_for_any_purchase_while_the_platform_carries_the_receivable(env):
    world = await build_world(env)
    order_id, _ = await financed_order(env, world)
    await receive(env, world, order_id)
    account = await balances(env, world)
    assert account[("merchant_payable", world.ids["brand_a"], "CNY")] == PRICE - 495
    assert account[("instalment_receivable", world.ids["alice"], "CNY")] == -(PRICE + SIX_MONTH_FEE)
    await clean(env)


async def test_repaying_pays_the_oldest_instalment_and_early_repayment_pays_everything_left(env):
    world = await build_world(env)
    _, plan = await financed_order(env, world)
    first = await repay(env, world, plan["id"])
    assert first.status_code == 201, first.text
    assert [i["paid"]["amount_minor"] for i in first.json()["instalments"]] == [1725, 0, 0, 0, 0, 0]
    assert first.json()["owed"]["amount_minor"] == PRICE + SIX_MONTH_FEE - 1725
    early = await repay(env, world, plan["id"], early=True)
    assert early.status_code == 201 and early.json()["status"] == "paid_off"
    assert early.json()["owed"]["amount_minor"] == 0
    assert [c.amount_minor for c in env.gateway.captures] == [1725, PRICE + SIX_MONTH_FEE - 1725]
    account = await balances(env, world)
    assert account[("instalment_receivable", world.ids["alice"], "CNY")] == 0
    assert account[("shopper_funding", world.ids["alice"], "CNY")] == -(PRICE + SIX_MONTH_FEE)
    again = await repay(env, world, plan["id"])
    assert again.status_code == 409 and again.json()["code"] == "illegal_transition"
    await clean(env)


async def test_a_missed_instalment_makes_the_plan_overdue_until_it_is_paid(env):
    world = await build_world(env)
    _, plan = await financed_order(env, world, months=3)
    env.clock.advance(days=31)  # 11.11 + 1 month: the first instalment was due yesterday or today
    async with env.uow() as uow:
        overdue = await instalments.mark_overdue(uow)
    env.clock.advance(days=2)
    async with env.uow() as uow:
        overdue += await instalments.mark_overdue(uow)
    assert overdue == [plan["id"]]
    view = (await env.client.get(f"/api/v1/instalment-plans/{plan['id']}", headers=world.auth("alice"))).json()
    assert view["status"] == "overdue" and [i["is_late"] for i in view["instalments"]] == [True, False, False]
    caught_up = await repay(env, world, plan["id"])
    assert caught_up.json()["status"] == "active"
    await clean(env)


async def test_cancelling_an_order_in_instalments_clears_the_debt_and_the_fee_without_touching_a_card(env):
    world = await build_world(env)
    order_id, plan = await financed_order(env, world)
    cancelled = await env.client.post(f"/api/v1/orders/{order_id}/cancel", headers=world.auth("alice"))
    assert cancelled.status_code == 200
    view = (await env.client.get(f"/api/v1/instalment-plans/{plan['id']}", headers=world.auth("alice"))).json()
    assert view["status"] == "paid_off" and view["owed"]["amount_minor"] == 0
    assert env.gateway.refunds == []
    account = await balances(env, world)
    assert account[("instalment_receivable", world.ids["alice"], "CNY")] == 0
    assert account[("instalment_fee_revenue", 0, "CNY")] == 0  # the whole order refunded: the whole fee too
    assert account[("escrow", 0, "CNY")] == 0 and account[("shopper_funding", world.ids["alice"], "CNY")] == 0
    await clean(env)


async def test_a_refund_beyond_what_is_still_owed_goes_back_through_the_gateway_from_the_repayments(env):
    world = await build_world(env)
    order_id, plan = await financed_order(env, world)
    await repay(env, world, plan["id"], early=True)  # all 10,345 repaid
    refunded = await env.client.post(f"/api/v1/orders/{order_id}/refunds", json={"amount_minor": 4950},
                                     headers=world.auth("staff_a"))
    assert refunded.status_code == 201
    # half the order back, with half the fee (222): nothing is owed any more, so all of it goes to the card
    assert env.gateway.refunds == [(env.gateway.captures[0].payment_reference, 4950 + 222, "CNY")]
    account = await balances(env, world)
    assert account[("shopper_funding", world.ids["alice"], "CNY")] == -(PRICE + SIX_MONTH_FEE) + 4950 + 222
    assert account[("instalment_fee_revenue", 0, "CNY")] == SIX_MONTH_FEE - 222
    await clean(env)


async def test_a_partial_refund_pays_down_the_last_instalments_first(env):
    world = await build_world(env)
    order_id, plan = await financed_order(env, world)
    refunded = await env.client.post(f"/api/v1/orders/{order_id}/refunds", json={"amount_minor": 3300},
                                     headers=world.auth("staff_a"))
    assert refunded.status_code == 201 and env.gateway.refunds == []
    view = (await env.client.get(f"/api/v1/instalment-plans/{plan['id']}", headers=world.auth("alice"))).json()
    # 3,300 and its share of the fee (148) come off the last instalments: 1,724 + 1,724 of 3,448
    assert [i["amount"]["amount_minor"] for i in view["instalments"]] == [1725, 1724, 1724, 1724, 0, 0]
    assert view["owed"]["amount_minor"] == PRICE + SIX_MONTH_FEE - 3300 - 148
    await clean(env)


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [({"method": "instalments"}, 422, "months"), ({"method": "instalments", "months": 4}, 422, "months"),
     ({"method": "instalments", "months": "6"}, 422, "months")],
    ids=["no-months", "four-months", "months-as-text"],
)
async def test_bad_instalment_requests_are_refused_and_create_no_plan(env, body, status, field):
    world = await build_world(env)
    await add(env, world, "alice")
    order_id = (await place(env, world, "alice")).json()["orders"][0]["id"]
    response = await env.client.post(f"/api/v1/orders/{order_id}/pay", json=body, headers=world.auth("alice"))
    assert response.status_code == status and response.json()["field"] == field, response.text
    assert await count(env, instalment_plans) == 0


async def test_someone_elses_plan_is_not_found(env):
    world = await build_world(env)
    _, plan = await financed_order(env, world)
    response = await env.client.post(f"/api/v1/instalment-plans/{plan['id']}/payments", json={},
                                     headers=world.auth("bob"))
    assert response.status_code == 404 and env.gateway.captures == []


async def test_a_repayment_that_could_not_be_booked_is_refunded_and_a_retry_never_books_it(env, monkeypatch):
    world = await build_world(env)
    _, plan = await financed_order(env, world)

    async def database_fails(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(instalments, "book_repayment", database_fails)
    headers = {**world.auth("alice"), "Idempotency-Key": "repay-1"}
    with pytest.raises(RuntimeError):
        await env.client.post(f"/api/v1/instalment-plans/{plan['id']}/payments", json={}, headers=headers)
    assert [r[1] for r in env.gateway.refunds] == [1725]  # the capture went back
    monkeypatch.undo()
    retried = await env.client.post(f"/api/v1/instalment-plans/{plan['id']}/payments", json={}, headers=headers)
    assert retried.status_code == 409 and retried.json()["field"] == "Idempotency-Key"
    view = (await env.client.get(f"/api/v1/instalment-plans/{plan['id']}", headers=world.auth("alice"))).json()
    assert view["owed"]["amount_minor"] == PRICE + SIX_MONTH_FEE  # nothing was booked as paid
    fresh = await repay(env, world, plan["id"])
    assert fresh.status_code == 201 and fresh.json()["owed"]["amount_minor"] == PRICE + SIX_MONTH_FEE - 1725
    captured = [d for d in env.gateway.deliveries() if b"payment.captured" in d[0]]
    outcomes = [(await env.client.post("/api/v1/payments/webhooks/simulated", content=body, headers=h)).json()
                for body, h in captured]
    assert [o["outcome"] for o in outcomes] == ["duplicate", "duplicate"]  # repayments are no order payments
    await clean(env)
