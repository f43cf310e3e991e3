"""Gateway webhooks: signed, applied once however often delivered, never resurrecting a final state; a timeout
after the gateway acted is recovered by the webhook or by a retry with the same Idempotency-Key."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.integration.test_orders_api import add, place
from tests.integration.test_payment_races import postgres_only
from tests.integration.test_payments_api import PRICE, balances, paid_order
from tests.integration.world import build_world, count
from unichannel.check import run_checks
from unichannel.errors import GatewayUnavailable
from unichannel.payments.gateway import SIGNATURE_HEADER, sign
from unichannel.payments.repository import gateway_events, ledger_transfers, payments, refunds
from unichannel.payments.service import void_stale_authorizations

WEBHOOK = "/api/v1/payments/webhooks/simulated"


async def deliver(env, delivery) -> tuple[int, dict]:
    body, headers = delivery
    response = await env.client.post(WEBHOOK, content=body, headers=headers)
    return response.status_code, response.json()


async def placed_order(env, world, who: str = "alice") -> int:
    await add(env, world, who)
    return (await place(env, world, who)).json()["orders"][0]["id"]


async def order_status(env, world, order_id: int) -> str:
    return (await env.client.get(f"/api/v1/orders/{order_id}", headers=world.auth("alice"))).json()["status"]


async def test_a_capture_whose_answer_was_lost_is_booked_by_the_webhook_once(env):
    world = await build_world(env)
    order_id = await placed_order(env, world)
    env.gateway.capture_answer_lost = True
    lost = await env.client.post(f"/api/v1/orders/{order_id}/pay", json={}, headers=world.auth("alice"))
    assert lost.status_code == 503 and lost.json()["code"] == "gateway_unavailable"
    assert await order_status(env, world, order_id) == "placed" and await count(env, ledger_transfers) == 0
    outcomes = [await deliver(env, d) for d in env.gateway.deliveries(copies=3)]
    assert [o[1]["outcome"] for o in outcomes] == ["captured", "duplicate", "duplicate"]
    assert {o[0] for o in outcomes} == {200}
    assert await order_status(env, world, order_id) == "paid"
    assert await balances(env, world) == {("shopper_funding", world.ids["alice"], "CNY"): -PRICE,
                                          ("escrow", 0, "CNY"): PRICE}
    assert await count(env, gateway_events) == 1
    assert (await run_checks(env.app.state.engine)).violations == []


async def test_a_retried_payment_with_the_same_idempotency_key_charges_once(env):
    world = await build_world(env)
    order_id = await placed_order(env, world)
    env.gateway.capture_answer_lost = True
    headers = {**world.auth("alice"), "Idempotency-Key": "pay-1"}
    first = await env.client.post(f"/api/v1/orders/{order_id}/pay", json={}, headers=headers)
    assert first.status_code == 503
    retried = await env.client.post(f"/api/v1/orders/{order_id}/pay", json={}, headers=headers)
    assert retried.status_code == 200 and retried.json()["status"] == "paid"
    again = await env.client.post(f"/api/v1/orders/{order_id}/pay", json={}, headers=headers)
    assert again.status_code == 200 and again.json()["status"] == "paid"  # a replay, not a second payment
    assert len(env.gateway.captures) == 1 and await count(env, payments) == 1
    [webhook] = env.gateway.deliveries()
    assert (await deliver(env, webhook))[1]["outcome"] == "duplicate"
    assert (await run_checks(env.app.state.engine)).violations == []


async def test_a_late_capture_event_never_resurrects_a_voided_payment(env):
    world = await build_world(env, warehouse_units=1, store_units=0)
    order_id = await placed_order(env, world)
    env.clock.advance(minutes=env.settings.reservation_hold_minutes, seconds=1)
    late = await env.client.post(f"/api/v1/orders/{order_id}/pay", json={}, headers=world.auth("alice"))
    assert late.status_code == 409  # the hold lapsed: the authorization was voided
    [voided] = env.gateway.deliveries()
    assert (await deliver(env, voided))[1]["outcome"] == "duplicate"  # we voided it ourselves already
    # a capture event for the same payment arrives late (out of order): it must change nothing
    reference = env.gateway.voids[0]
    body = (f'{{"id": "evt_late", "type": "payment.captured", "payment": "{reference}", "amount_minor": {PRICE}, '
            f'"currency": "CNY"}}').encode()
    headers = {SIGNATURE_HEADER: sign(env.gateway.secret, body, int(env.clock.now().timestamp()))}
    status, outcome = await deliver(env, (body, headers))
    assert (status, outcome["outcome"]) == (200, "ignored")
    async with env.uow(read_only=True) as uow:
        assert (await uow.conn.execute(select(payments.c.status))).scalar_one() == "voided"
    assert await count(env, ledger_transfers) == 0
    assert await order_status(env, world, order_id) == "placed"


async def test_a_capture_event_for_a_cancelled_order_is_booked_and_refunded_in_full(env):
    world = await build_world(env)
    order_id = await placed_order(env, world)
    env.gateway.capture_answer_lost = True
    await env.client.post(f"/api/v1/orders/{order_id}/pay", json={}, headers=world.auth("alice"))
    cancelled = await env.client.post(f"/api/v1/orders/{order_id}/cancel", headers=world.auth("alice"))
    assert cancelled.status_code == 200
    [captured] = env.gateway.deliveries()
    assert (await deliver(env, captured))[1]["outcome"] == "refunded"
    assert env.gateway.refunds == [(env.gateway.captures[0].payment_reference, PRICE, "CNY")]
    assert await balances(env, world) == {("shopper_funding", world.ids["alice"], "CNY"): 0,
                                          ("escrow", 0, "CNY"): 0}
    assert (await run_checks(env.app.state.engine)).violations == []


async def test_an_event_about_an_unknown_payment_is_refused_so_the_gateway_delivers_it_again(env):
    body = b'{"id": "evt_early", "type": "payment.captured", "payment": "sim_unknown", "amount_minor": 1, ' \
           b'"currency": "CNY"}'
    headers = {SIGNATURE_HEADER: sign(env.gateway.secret, body, int(env.clock.now().timestamp()))}
    status, error = await deliver(env, (body, headers))
    assert (status, error["code"]) == (409, "unknown_payment")
    assert await count(env, gateway_events) == 0  # not recorded: the redelivery will be applied


async def test_the_refund_webhook_marks_the_refund_paid_once(env):
    world = await build_world(env)
    order_id = await paid_order(env, world)
    refunded = await env.client.post(f"/api/v1/orders/{order_id}/refunds", json={"amount_minor": 500},
                                     headers=world.auth("staff_a"))
    assert refunded.status_code == 201
    refund_events = [d for d in env.gateway.deliveries(copies=2) if b"refund.succeeded" in d[0]]
    assert [(await deliver(env, d))[1]["outcome"] for d in refund_events] == ["duplicate", "duplicate"]
    async with env.uow(read_only=True) as uow:
        assert (await uow.conn.execute(select(refunds.c.status))).scalar_one() == "succeeded"


@pytest.mark.parametrize(
    "header",
    [None, "t=1,v1=00", "garbage", "v1=abc"],
    ids=["missing", "wrong-signature", "malformed", "no-timestamp"],
)
async def test_a_webhook_without_a_valid_signature_is_refused_and_changes_nothing(env, header):
    world = await build_world(env)
    order_id = await placed_order(env, world)
    env.gateway.capture_answer_lost = True
    await env.client.post(f"/api/v1/orders/{order_id}/pay", json={}, headers=world.auth("alice"))
    [(body, _)] = env.gateway.deliveries()
    response = await env.client.post(WEBHOOK, content=body, headers={SIGNATURE_HEADER: header} if header else {})
    assert response.status_code == 400 and response.json()["code"] == "invalid_signature"
    assert await order_status(env, world, order_id) == "placed" and await count(env, gateway_events) == 0


async def test_a_replayed_webhook_older_than_the_tolerance_is_refused(env):
    world = await build_world(env)
    order_id = await placed_order(env, world)
    env.gateway.capture_answer_lost = True
    await env.client.post(f"/api/v1/orders/{order_id}/pay", json={}, headers=world.auth("alice"))
    env.clock.advance(minutes=6)
    status, error = await deliver(env, env.gateway.deliveries()[0])
    assert (status, error["code"]) == (400, "invalid_signature")


async def test_a_webhook_for_another_gateway_is_not_found(env):
    response = await env.client.post("/api/v1/payments/webhooks/stripe", content=b"{}")
    assert response.status_code == 404 and response.json()["field"] == "gateway"


@postgres_only
async def test_fifty_concurrent_duplicates_of_one_capture_webhook_capture_exactly_once(env):
    world = await build_world(env)
    order_id = await placed_order(env, world)
    env.gateway.capture_answer_lost = True
    await env.client.post(f"/api/v1/orders/{order_id}/pay", json={}, headers=world.auth("alice"))
    outcomes = await asyncio.gather(*(deliver(env, d) for d in env.gateway.deliveries(copies=50)))
    assert Counter(o[1]["outcome"] for o in outcomes) == {"captured": 1, "duplicate": 49}
    async with env.uow(read_only=True) as uow:
        kinds = Counter((await uow.conn.execute(select(ledger_transfers.c.kind))).scalars())
    assert kinds == {"capture": 1}
    assert (await balances(env, world))[("escrow", 0, "CNY")] == PRICE
    assert await order_status(env, world, order_id) == "paid"
    assert (await run_checks(env.app.state.engine)).violations == []


async def test_an_authorization_never_captured_is_voided_by_the_sweeper_once_stale(env):
    world = await build_world(env)
    order_id = await placed_order(env, world)

    async def unreachable(*args, **kwargs):
        raise GatewayUnavailable("the gateway did not answer")

    env.gateway.capture = unreachable  # the capture request never reached the gateway
    failed = await env.client.post(f"/api/v1/orders/{order_id}/pay", json={}, headers=world.auth("alice"))
    assert failed.status_code == 503
    stale_after = timedelta(minutes=45)
    assert await void_stale_authorizations(env.uow, env.gateway, stale_after) == []  # not stale yet
    env.clock.advance(minutes=46)
    [voided] = await void_stale_authorizations(env.uow, env.gateway, stale_after)
    assert env.gateway.voids == [voided]
    async with env.uow(read_only=True) as uow:
        assert (await uow.conn.execute(select(payments.c.status))).scalar_one() == "voided"
    assert await void_stale_authorizations(env.uow, env.gateway, stale_after) == []


async def test_a_stale_authorization_the_gateway_did_capture_is_left_for_its_webhook(env):
    world = await build_world(env)
    order_id = await placed_order(env, world)
    env.gateway.capture_answer_lost = True
    await env.client.post(f"/api/v1/orders/{order_id}/pay", json={}, headers=world.auth("alice"))
    env.clock.advance(minutes=46)
    assert await void_stale_authorizations(env.uow, env.gateway, timedelta(minutes=45)) == []
    assert env.gateway.voids == []
    [captured] = env.gateway.deliveries()
    assert (await deliver(env, captured))[0] == 400  # signed 46 minutes ago: too old to trust
    body, _ = captured
    fresh = {SIGNATURE_HEADER: sign(env.gateway.secret, body, int(env.clock.now().timestamp()))}
    assert (await deliver(env, (body, fresh)))[1]["outcome"] == "refunded"  # the holds lapsed meanwhile
    assert (await balances(env, world))[("escrow", 0, "CNY")] == 0
    assert (await run_checks(env.app.state.engine)).violations == []


async def test_a_second_payment_while_the_first_is_in_flight_is_released_and_never_captured(env):
    world = await build_world(env)
    order_id = await placed_order(env, world)
    env.gateway.capture_answer_lost = True
    first = await env.client.post(f"/api/v1/orders/{order_id}/pay", json={}, headers=world.auth("alice"))
    assert first.status_code == 503  # captured at the gateway, but the answer was lost
    env.gateway.capture_answer_lost = False
    second = await env.client.post(f"/api/v1/orders/{order_id}/pay", json={}, headers=world.auth("alice"))
    assert second.status_code == 409 and second.json()["code"] == "payment_in_progress"
    assert len(env.gateway.captures) == 1 and len(env.gateway.voids) == 1  # the second hold was released
    [captured] = [d for d in env.gateway.deliveries() if b"payment.captured" in d[0]]
    assert (await deliver(env, captured))[1]["outcome"] == "captured"  # the first is booked by its webhook
    assert await order_status(env, world, order_id) == "paid"
    assert (await run_checks(env.app.state.engine)).violations == []


@postgres_only
async def test_two_payments_of_one_order_at_once_capture_once(env):
    world = await build_world(env)
    order_id = await placed_order(env, world)
    answers = await asyncio.gather(*(env.client.post(f"/api/v1/orders/{order_id}/pay", json={},
                                                     headers=world.auth("alice")) for _ in range(2)))
    assert sorted(a.status_code for a in answers) == [200, 409]
    assert len(env.gateway.captures) == 1
    async with env.uow(read_only=True) as uow:
        statuses = sorted((await uow.conn.execute(select(payments.c.status))).scalars())
    assert statuses in (["captured"], ["captured", "voided"])
    assert (await run_checks(env.app.state.engine)).violations == []


async def test_one_refund_the_gateway_refuses_does_not_hold_up_the_others(env):
    world = await build_world(env)
    first, second = await paid_order(env, world), await paid_order(env, world, "bob")
    refused_reference = env.gateway.captures[0].payment_reference
    real_refund = env.gateway.refund

    async def refuse_the_first(reference, amount, currency, *, idempotency_key):
        if reference == refused_reference:
            raise GatewayUnavailable("refunds to this card are failing")
        await real_refund(reference, amount, currency, idempotency_key=idempotency_key)

    env.gateway.refund = refuse_the_first
    for order_id in (first, second):
        booked = await env.client.post(f"/api/v1/orders/{order_id}/refunds", json={"amount_minor": 100},
                                       headers=world.auth("operator"))
        assert booked.status_code == 201 and booked.json()["status"] == "processing"  # booked, whatever the gateway
    async with env.uow(read_only=True) as uow:
        statuses = [s for (s,) in await uow.conn.execute(select(refunds.c.status).order_by(refunds.c.id))]
    assert statuses == ["processing", "succeeded"]
    assert [r[0] for r in env.gateway.refunds] == [env.gateway.captures[1].payment_reference]
