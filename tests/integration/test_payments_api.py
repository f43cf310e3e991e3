"""Money through the API: escrow on payment, release on receipt (by the shopper or automatically), refunds before
and after release, settlement and its payout report, conversion for a merchant in another currency. On SQLite and
PostgreSQL; after every scenario `unichannel check` (which verifies the ledger) is clean."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text

from tests.integration.test_orders_api import add, place
from tests.integration.world import build_world, count
from unichannel.check import run_checks
from unichannel.orders import service as orders_service
from unichannel.payments.rates import conversion
from unichannel.payments.repository import ledger_entries, ledger_transfers, payments, refunds, settlements

PRICE = 9900  # brand-a's TEE-M; brand-a is a "brand": the platform keeps 5% (500 basis points) on release
FEE = 495


async def paid_order(env, world, who: str = "alice") -> int:
    await add(env, world, who)
    order_id = (await place(env, world, who)).json()["orders"][0]["id"]
    paid = await env.client.post(f"/api/v1/orders/{order_id}/pay", json={}, headers=world.auth(who))
    assert paid.status_code == 200, paid.text
    return order_id


async def deliver(env, world, order_id: int) -> None:
    for step in ("allocated", "shipped", "delivered"):
        moved = await env.client.post(f"/api/v1/orders/{order_id}/transitions", json={"to": step},
                                      headers=world.auth("staff_a"))
        assert moved.status_code == 200, moved.text


async def receive(env, world, order_id: int) -> None:
    """Ships and delivers the order, and the shopper confirms receipt: its escrow is released."""
    await deliver(env, world, order_id)
    confirmed = await env.client.post(f"/api/v1/orders/{order_id}/transitions", json={"to": "completed"},
                                      headers=world.auth("alice"))
    assert confirmed.status_code == 200, confirmed.text


async def balances(env, world, who: str = "operator") -> dict[tuple[str, int, str], int]:
    response = await env.client.get("/api/v1/ledger/accounts", headers=world.auth(who))
    assert response.status_code == 200, response.text
    return {(a["kind"], a["owner_id"], a["balance"]["currency"]): a["balance"]["amount_minor"]
            for a in response.json()}


async def payment(env, world, order_id: int, who: str = "alice", **params) -> dict:
    response = await env.client.get(f"/api/v1/orders/{order_id}/payment", headers=world.auth(who), params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def assert_ledger_checks_clean(env) -> None:
    assert (await run_checks(env.app.state.engine)).violations == []


async def test_paying_moves_the_money_from_the_shopper_into_escrow(env):
    world = await build_world(env)
    order_id = await paid_order(env, world)
    assert await balances(env, world) == {("shopper_funding", world.ids["alice"], "CNY"): -PRICE,
                                          ("escrow", 0, "CNY"): PRICE}
    view = await payment(env, world, order_id)
    assert (view["captured"]["amount_minor"], view["held_in_escrow"]["amount_minor"], view["released"]) == (
        PRICE, PRICE, None)
    assert [t["kind"] for t in view["transfers"]] == ["capture"]
    await assert_ledger_checks_clean(env)


async def test_confirming_receipt_releases_escrow_to_the_merchant_minus_the_platform_fee(env):
    world = await build_world(env)
    order_id = await paid_order(env, world)
    await deliver(env, world, order_id)
    confirmed = await env.client.post(f"/api/v1/orders/{order_id}/transitions", json={"to": "completed"},
                                      headers=world.auth("alice"))
    assert confirmed.status_code == 200, confirmed.text
    assert await balances(env, world) == {
        ("shopper_funding", world.ids["alice"], "CNY"): -PRICE, ("escrow", 0, "CNY"): 0,
        ("merchant_payable", world.ids["brand_a"], "CNY"): PRICE - FEE, ("fee_revenue", 0, "CNY"): FEE,
    }
    view = await payment(env, world, order_id)
    assert (view["held_in_escrow"]["amount_minor"], view["released"]["amount_minor"], view["fee"]["amount_minor"]) == (
        0, PRICE, FEE)
    await assert_ledger_checks_clean(env)


async def test_the_merchant_cannot_confirm_receipt_and_release_its_own_escrow(env):
    world = await build_world(env)
    order_id = await paid_order(env, world)
    await deliver(env, world, order_id)
    refused = await env.client.post(f"/api/v1/orders/{order_id}/transitions", json={"to": "completed"},
                                    headers=world.auth("staff_a"))
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    assert (await balances(env, world))[("escrow", 0, "CNY")] == PRICE
    assert await count(env, ledger_transfers) == 1  # only the capture


async def test_receipt_is_confirmed_automatically_n_days_after_delivery(env):
    world = await build_world(env)
    order_id = await paid_order(env, world)
    await deliver(env, world, order_id)
    env.clock.advance(days=env.settings.auto_confirm_days, seconds=-1)
    async with env.uow() as uow:
        assert await orders_service.confirm_delivered_orders(uow) == []
    env.clock.advance(seconds=1)
    async with env.uow() as uow:
        assert await orders_service.confirm_delivered_orders(uow) == [order_id]
    order = (await env.client.get(f"/api/v1/orders/{order_id}", headers=world.auth("alice"))).json()
    assert order["status"] == "completed" and order["history"][-1]["actor"] == "system:auto-confirm"
    assert (await balances(env, world))[("merchant_payable", world.ids["brand_a"], "CNY")] == PRICE - FEE
    async with env.uow() as uow:
        assert await orders_service.confirm_delivered_orders(uow) == []  # once only
    await assert_ledger_checks_clean(env)


async def test_an_open_refund_request_pauses_automatic_confirmation_until_it_is_decided(env):
    world = await build_world(env)
    order_id = await paid_order(env, world)
    await deliver(env, world, order_id)
    asked = await env.client.post(f"/api/v1/orders/{order_id}/refunds", json={"amount_minor": 3000,
                                  "reason": "a seam is open"}, headers=world.auth("alice"))
    assert asked.status_code == 201, asked.text
    assert asked.json()["status"] == "requested"
    env.clock.advance(days=30)
    async with env.uow() as uow:
        assert await orders_service.confirm_delivered_orders(uow) == []
    assert (await balances(env, world))[("escrow", 0, "CNY")] == PRICE  # asking moves no money
    rejected = await env.client.post(f"/api/v1/orders/{order_id}/refunds/{asked.json()['id']}/reject",
                                     headers=world.auth("staff_a"))
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    async with env.uow() as uow:
        assert await orders_service.confirm_delivered_orders(uow) == [order_id]
    assert env.gateway.refunds == []
    await assert_ledger_checks_clean(env)


async def test_an_approved_partial_refund_before_release_comes_out_of_escrow_and_is_paid_back_once(env):
    world = await build_world(env)
    order_id = await paid_order(env, world)
    asked = await env.client.post(f"/api/v1/orders/{order_id}/refunds", json={"amount_minor": 3000},
                                  headers=world.auth("alice"))
    approved = await env.client.post(f"/api/v1/orders/{order_id}/refunds/{asked.json()['id']}/approve",
                                     headers=world.auth("staff_a"))
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "processing"  # as the transaction committed; the gateway pays after
    view = await payment(env, world, order_id)
    assert [r["status"] for r in view["refunds"]] == ["succeeded"]
    assert (view["refunded"]["amount_minor"], view["held_in_escrow"]["amount_minor"]) == (3000, PRICE - 3000)
    assert env.gateway.refunds == [(env.gateway.captures[0].payment_reference, 3000, "CNY")]
    again = await env.client.post(f"/api/v1/orders/{order_id}/refunds/{asked.json()['id']}/approve",
                                  headers=world.auth("staff_a"))
    assert again.status_code == 409 and again.json()["code"] == "illegal_transition"
    assert len(env.gateway.refunds) == 1
    await assert_ledger_checks_clean(env)


async def test_a_refund_after_release_comes_out_of_the_merchant_payable_with_the_fee_given_back(env):
    world = await build_world(env)
    order_id = await paid_order(env, world)
    await receive(env, world, order_id)
    refunded = await env.client.post(f"/api/v1/orders/{order_id}/refunds", json={"amount_minor": 3300},
                                     headers=world.auth("staff_a"))
    assert refunded.status_code == 201, refunded.text
    # a third of the order back: the merchant gives a third of its 9,405 and the platform a third of its 495
    assert await balances(env, world) == {
        ("shopper_funding", world.ids["alice"], "CNY"): -PRICE + 3300, ("escrow", 0, "CNY"): 0,
        ("merchant_payable", world.ids["brand_a"], "CNY"): 9405 - 3135, ("fee_revenue", 0, "CNY"): 495 - 165,
    }
    await assert_ledger_checks_clean(env)


@pytest.mark.parametrize("amount", [PRICE + 1, 2**40], ids=["one-more-than-captured", "far-more"])
async def test_a_refund_beyond_what_was_captured_is_refused_and_writes_nothing(env, amount):
    world = await build_world(env)
    order_id = await paid_order(env, world)
    refused = await env.client.post(f"/api/v1/orders/{order_id}/refunds", json={"amount_minor": amount},
                                    headers=world.auth("staff_a"))
    assert refused.status_code == 409 and refused.json() == {
        "code": "refund_exceeds_captured", "message": refused.json()["message"], "field": "amount_minor"}
    assert await count(env, refunds) == 0 and await count(env, ledger_transfers) == 1
    assert env.gateway.refunds == []


async def test_a_second_refund_is_refused_once_everything_was_refunded(env):
    world = await build_world(env)
    order_id = await paid_order(env, world)
    for amount, status in ((6000, 201), (3900, 201), (1, 409)):
        response = await env.client.post(f"/api/v1/orders/{order_id}/refunds", json={"amount_minor": amount},
                                         headers=world.auth("operator"))
        assert response.status_code == status, response.text
    assert sum(r[1] for r in env.gateway.refunds) == PRICE
    await assert_ledger_checks_clean(env)


async def test_a_retried_refund_with_the_same_idempotency_key_refunds_once(env):
    world = await build_world(env)
    order_id = await paid_order(env, world)
    headers = {**world.auth("staff_a"), "Idempotency-Key": "refund-1"}
    first = await env.client.post(f"/api/v1/orders/{order_id}/refunds", json={"amount_minor": 1000}, headers=headers)
    second = await env.client.post(f"/api/v1/orders/{order_id}/refunds", json={"amount_minor": 1000}, headers=headers)
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.headers["Idempotent-Replay"] == "true" and second.json()["id"] == first.json()["id"]
    other = await env.client.post(f"/api/v1/orders/{order_id}/refunds", json={"amount_minor": 2000}, headers=headers)
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    assert await count(env, refunds) == 1 and len(env.gateway.refunds) == 1
    await assert_ledger_checks_clean(env)


async def test_cancelling_a_paid_order_refunds_it_in_full_from_escrow(env):
    world = await build_world(env)
    order_id = await paid_order(env, world)
    cancelled = await env.client.post(f"/api/v1/orders/{order_id}/cancel", json={"reason": "changed my mind"},
                                      headers=world.auth("alice"))
    assert cancelled.status_code == 200, cancelled.text
    assert await balances(env, world) == {("shopper_funding", world.ids["alice"], "CNY"): 0,
                                          ("escrow", 0, "CNY"): 0}
    assert env.gateway.refunds == [(env.gateway.captures[0].payment_reference, PRICE, "CNY")]
    await assert_ledger_checks_clean(env)


async def test_someone_elses_payment_is_not_found(env):
    world = await build_world(env)
    order_id = await paid_order(env, world)
    for who in ("bob", "staff_b"):
        response = await env.client.get(f"/api/v1/orders/{order_id}/payment", headers=world.auth(who))
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    asked = await env.client.post(f"/api/v1/orders/{order_id}/refunds", json={"amount_minor": 1},
                                  headers=world.auth("bob"))
    assert asked.status_code == 404 and await count(env, refunds) == 0


async def test_amounts_are_displayed_for_the_requested_locale(env):
    world = await build_world(env)
    order_id = await paid_order(env, world)
    assert (await payment(env, world, order_id))["captured"]["display"] == "¥99.00"
    assert (await payment(env, world, order_id, locale="en"))["captured"]["display"] == "CN¥99.00"
    unknown = await env.client.get(f"/api/v1/orders/{order_id}/payment", params={"locale": "xx_YY"},
                                   headers=world.auth("alice"))
    assert unknown.status_code == 422 and unknown.json()["field"] == "locale"


@pytest.mark.parametrize(
    "body", [{"amount_minor": 0}, {"amount_minor": -5}, {"amount_minor": "12"}, {"amount_minor": 1.5},
             {"amount_minor": 10**16}, {"amount_minor": 5, "reason": "x" * 201}, {}, {"amount_minor": 5, "to": "me"}],
    ids=["zero", "negative", "string", "fraction", "huge", "long-reason", "missing", "unknown-field"],
)
async def test_bad_refund_input_is_a_clear_422_and_writes_nothing(env, body):
    world = await build_world(env)
    order_id = await paid_order(env, world)
    response = await env.client.post(f"/api/v1/orders/{order_id}/refunds", json=body, headers=world.auth("staff_a"))
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_input" and response.json()["field"]
    assert await count(env, refunds) == 0


async def test_the_daily_settlement_pays_out_the_payable_once_even_if_run_twice(env):
    world = await build_world(env)
    order_id = await paid_order(env, world)
    await receive(env, world, order_id)
    day = env.clock.now().astimezone(ZoneInfo("Asia/Shanghai")).date()
    early = await env.client.post(f"/api/v1/settlements/{day}", headers=world.auth("operator"))
    assert early.status_code == 422 and early.json()["field"] == "business_date"  # the day is not over
    env.clock.advance(days=1)
    first = await env.client.post(f"/api/v1/settlements/{day}", headers=world.auth("operator"))
    assert first.status_code == 200, first.text
    [line] = first.json()
    assert (line["merchant_id"], line["released"]["amount_minor"], line["fee"]["amount_minor"],
            line["payout"]["amount_minor"], line["carried_over"]["amount_minor"]) == (
        world.ids["brand_a"], PRICE - FEE, FEE, PRICE - FEE, 0)
    transfers = await count(env, ledger_transfers)
    second = await env.client.post(f"/api/v1/settlements/{day}", headers=world.auth("operator"))
    assert second.json() == first.json()
    assert await count(env, ledger_transfers) == transfers and await count(env, settlements) == 1
    assert (await balances(env, world))[("merchant_payable", world.ids["brand_a"], "CNY")] == 0
    assert (await balances(env, world))[("merchant_settled", world.ids["brand_a"], "CNY")] == PRICE - FEE
    report = await env.client.get(f"/api/v1/settlements/{day}", params={"format": "csv"},
                                  headers=world.auth("staff_a"))
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/csv")
    assert report.text.splitlines() == [
        "business_date,merchant_id,currency,carried_over,released,fee,refunded,payout",
        f"{day},{world.ids['brand_a']},CNY,0.00,94.05,4.95,0.00,94.05",
    ]
    other = await env.client.get(f"/api/v1/settlements/{day}", headers=world.auth("staff_b"))
    assert other.json() == []  # a merchant sees only its own payouts
    refused = await env.client.post(f"/api/v1/settlements/{day}", headers=world.auth("staff_a"))
    assert refused.status_code == 403
    await assert_ledger_checks_clean(env)


async def test_a_refund_after_payout_leaves_a_negative_payable_that_is_carried_over_not_paid(env):
    world = await build_world(env)
    order_id = await paid_order(env, world)
    await receive(env, world, order_id)
    day = env.clock.now().astimezone(ZoneInfo("Asia/Shanghai")).date()
    env.clock.advance(days=1)
    await env.client.post(f"/api/v1/settlements/{day}", headers=world.auth("operator"))
    refunded = await env.client.post(f"/api/v1/orders/{order_id}/refunds", json={"amount_minor": PRICE},
                                     headers=world.auth("staff_a"))
    assert refunded.status_code == 201
    assert (await balances(env, world))[("merchant_payable", world.ids["brand_a"], "CNY")] == -(PRICE - FEE)
    env.clock.advance(days=1)
    [line] = (await env.client.post(f"/api/v1/settlements/{day + timedelta(days=1)}",
                                    headers=world.auth("operator"))).json()
    assert (line["refunded"]["amount_minor"], line["payout"]["amount_minor"]) == (PRICE - FEE, 0)
    assert (await balances(env, world))[("merchant_settled", world.ids["brand_a"], "CNY")] == PRICE - FEE
    await assert_ledger_checks_clean(env)


async def test_a_merchant_in_another_currency_is_paid_at_the_dated_ecb_rate_which_the_transfer_records(env):
    world = await build_world(env)
    async with env.uow() as uow:
        await uow.conn.execute(text("UPDATE merchants SET currency = 'USD', kind = 'overseas_brand' WHERE id = :id"),
                               {"id": world.ids["brand_a"]})
    order_id = await paid_order(env, world)
    await receive(env, world, order_id)
    view = await payment(env, world, order_id)
    release = next(t for t in view["transfers"] if t["kind"] == "release")
    assert release["fx_rate"] == view["fx_rate"] and release["fx_rate_date"] == view["fx_rate_date"]
    expected = conversion("CNY", "USD", env.clock.now().date())
    assert (Decimal(view["fx_rate"]), date.fromisoformat(view["fx_rate_date"])) == (expected.rate, expected.rate_date)
    gross = expected.apply(PRICE)
    fee = gross * 600 // 10_000  # overseas brands: 6%
    assert (view["released"], view["fee"]["amount_minor"]) == (
        {"amount_minor": gross, "currency": "USD", "display": view["released"]["display"]}, fee)
    assert (await balances(env, world))[("merchant_payable", world.ids["brand_a"], "USD")] == gross - fee
    await assert_ledger_checks_clean(env)


async def test_the_database_refuses_to_change_or_delete_a_ledger_entry(env):
    world = await build_world(env)
    await paid_order(env, world)
    for statement in ("UPDATE ledger_entries SET amount_minor = amount_minor + 1",
                      "DELETE FROM ledger_entries", "UPDATE ledger_transfers SET kind = 'refund'"):
        with pytest.raises(Exception, match="append-only"):
            async with env.uow() as uow:
                await uow.conn.execute(text(statement))
    async with env.uow() as uow:
        amounts = (await uow.conn.execute(select(ledger_entries.c.amount_minor))).scalars().all()
    assert amounts == [PRICE]


async def test_a_second_captured_payment_for_one_order_is_refused_by_the_database(env):
    world = await build_world(env)
    order_id = await paid_order(env, world)
    async with env.uow() as uow:
        [row] = (await uow.conn.execute(select(payments))).mappings().all()
    duplicate = {k: v for k, v in row.items() if k != "id"} | {"gateway_reference": "another"}
    with pytest.raises(Exception, match="(?i)unique"):
        async with env.uow() as uow:
            await uow.conn.execute(payments.insert().values(**duplicate))
    assert await count(env, payments) == 1
    assert order_id == row["order_id"]


async def test_merchants_see_only_their_own_accounts_and_clerks_none(env):
    world = await build_world(env)
    order_id = await paid_order(env, world)
    await receive(env, world, order_id)
    assert await balances(env, world, "staff_a") == {("merchant_payable", world.ids["brand_a"], "CNY"): PRICE - FEE}
    assert await balances(env, world, "staff_b") == {}
    assert await balances(env, world, "alice") == {("shopper_funding", world.ids["alice"], "CNY"): -PRICE}
    clerk = await env.client.get("/api/v1/ledger/accounts", headers=world.auth("clerk_1"))
    assert clerk.status_code == 403
    unknown = await env.client.get("/api/v1/ledger/accounts", params={"kind": "piggy_bank"},
                                   headers=world.auth("operator"))
    assert unknown.status_code == 422 and unknown.json()["field"] == "kind"



async def test_retried_money_moves_with_an_idempotency_key_are_answered_again_not_repeated(env):
    world = await build_world(env)
    order_id = await paid_order(env, world)
    await deliver(env, world, order_id)
    asked = (await env.client.post(f"/api/v1/orders/{order_id}/refunds", json={"amount_minor": 900},
                                   headers=world.auth("alice"))).json()
    approve = f"/api/v1/orders/{order_id}/refunds/{asked['id']}/approve"
    headers = {**world.auth("staff_a"), "Idempotency-Key": "approve-1"}
    first, second = [await env.client.post(approve, headers=headers) for _ in range(2)]
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.headers["Idempotent-Replay"] == "true" and second.json()["id"] == first.json()["id"]
    confirm = {**world.auth("alice"), "Idempotency-Key": "confirm-1"}
    moves = [await env.client.post(f"/api/v1/orders/{order_id}/transitions", json={"to": "completed"},
                                   headers=confirm) for _ in range(2)]
    assert [m.status_code for m in moves] == [200, 200] and moves[1].headers["Idempotent-Replay"] == "true"
    async with env.uow(read_only=True) as uow:
        kinds = sorted((await uow.conn.execute(select(ledger_transfers.c.kind))).scalars())
    assert kinds == ["capture", "refund", "release"]  # one of each, however often retried
    assert len(env.gateway.refunds) == 1
    await assert_ledger_checks_clean(env)


async def test_a_merchant_paid_out_in_a_currency_without_ecb_rates_is_refused(env):
    world = await build_world(env)
    response = await env.client.post("/api/v1/merchants", json={
        "slug": "dubai-dates", "name": "Dubai Dates", "kind": "overseas_brand", "country": "AE", "currency": "AED"},
        headers=world.auth("operator"))
    assert response.status_code == 422 and response.json()["field"] == "currency"


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])  # the first local midnight is before UTC's year 1
async def test_a_day_beyond_the_calendar_is_refused_by_settlement(env, day):
    world = await build_world(env)
    response = await env.client.post(f"/api/v1/settlements/{day}", headers=world.auth("operator"))
    assert response.status_code == 422 and response.json()["field"] == "business_date"
