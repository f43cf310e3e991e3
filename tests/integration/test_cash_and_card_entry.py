"""Cash at the till never goes through the card gateway, and a card at the storefront is entered with Stripe.js.

With Stripe configured, every request to Stripe goes to the recorded Stripe of test_stripe_adapter (an httpx
MockTransport that keeps each request), so "Stripe was not called" is asserted on what it received. Both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from sqlalchemy import select

from tests.conftest import OPENING, Env
from tests.integration.test_pos_pages import TEE_BARCODE, at_the_till, orders_of, scan
from tests.integration.test_shop_pages import signed_in
from tests.integration.test_stripe_adapter import INTENT, SECRET_KEY, WEBHOOK_SECRET, RecordedStripe, gateway
from tests.integration.world import build_world, count, stock_of
from unichannel.app import create_app
from unichannel.check import run_checks
from unichannel.clock import FixedClock
from unichannel.orders.repository import orders
from unichannel.payments.cash import CashPayout
from unichannel.payments.repository import payments
from unichannel.settings import Settings

PUBLISHABLE_KEY = "pk_test_51NotARealKeyJustForTheTests"
CARD = "pm_1QaLwX2eZvKYlo2CcardVisa"  # what Stripe.js would post: a PaymentMethod id
HOME = {"mode": "home_delivery", "name": "Alice", "address_phone": "+8613900000101", "line1": "1 Wensan Rd",
        "city": "Hangzhou"}
CASH_AT_THE_TILL = "A card at the till needs a card reader (Stripe Terminal)"


@pytest_asyncio.fixture
async def stripe_env(database_url: str) -> AsyncIterator[tuple[Env, RecordedStripe]]:
    """The application configured for Stripe (all three keys), its card gateway answering from recordings."""
    settings = Settings(database_url=database_url, public_base_url="https://shop.example", payment_gateway="stripe",
                        stripe_secret_key=SECRET_KEY, stripe_webhook_secret=WEBHOOK_SECRET,
                        stripe_publishable_key=PUBLISHABLE_KEY)
    clock, stripe = FixedClock(OPENING), RecordedStripe()
    app = create_app(settings, clock=clock, gateway=gateway(stripe), run_background_tasks=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield Env(app, client, clock, None, settings), stripe  # type: ignore[arg-type]


async def payment_of(env: Env, world, order_id: int) -> dict:
    found = await env.client.get(f"/api/v1/orders/{order_id}/payment", headers=world.auth("operator"))
    assert found.status_code == 200, found.text
    return found.json()


def card_error(html: str) -> str:
    """The text shown next to the card field (its `token-error` paragraph)."""
    return html.split('id="token-error"', 1)[1].split(">", 1)[1].split("</p>", 1)[0]


def postings(payment: dict) -> list[tuple[str, str, str, int]]:
    return [(t["kind"], e["debit"], e["credit"], e["amount"]["amount_minor"])
            for t in payment["transfers"] for e in t["entries"]]


async def test_a_till_cash_sale_with_stripe_configured_calls_stripe_never_and_is_booked_like_any_capture(stripe_env):
    env, stripe = stripe_env
    world = await build_world(env)
    await at_the_till(env, world)
    await scan(env, TEE_BARCODE)
    sold = await env.client.post("/pos/sell", data={"mode": "in_store", "payment": "cash"})
    assert sold.status_code == 303 and sold.headers["location"].startswith("/pos/receipt/"), sold.text
    assert stripe.requests == []
    [order] = await orders_of(env, world)
    assert (order["status"], order["total_minor"]) == ("completed", 9900)
    payment = await payment_of(env, world, order["id"])
    assert (payment["gateway"], payment["method"]) == ("cash", "cash")
    assert payment["gateway_reference"].startswith("cash_") and order["payment_reference"] == payment[
        "gateway_reference"]
    assert (payment["captured"]["amount_minor"], payment["held_in_escrow"]["amount_minor"]) == (9900, 0)
    alice, brand_a = world.ids["alice"], world.ids["brand_a"]
    assert postings(payment) == [
        ("capture", f"shopper_funding:{alice}", "escrow:0", 9900),  # into escrow, as a card capture
        ("release", "escrow:0", f"merchant_payable:{brand_a}", 9405),  # handed over: released, 5% brand fee
        ("release", "escrow:0", "fee_revenue:0", 495),
    ]
    assert await stock_of(env, world.ids["tee"], world.ids["STORE-1"]) == (1, 0)
    assert (await run_checks(env.app.state.engine)).violations == []


async def test_a_cash_sale_cancelled_before_delivery_is_paid_back_as_cash_at_the_till_not_by_stripe(stripe_env):
    env, stripe = stripe_env
    world = await build_world(env)
    await at_the_till(env, world)
    await scan(env, TEE_BARCODE)
    sold = await env.client.post("/pos/sell", data=HOME | {"payment": "cash"})
    assert sold.status_code == 303, sold.text
    [order] = await orders_of(env, world)
    assert (order["status"], order["total_minor"]) == ("paid", 9900)
    held = await payment_of(env, world, order["id"])
    assert held["held_in_escrow"]["amount_minor"] == 9900  # delivered later: escrow holds the cash till then

    cancelled = await env.client.post(f"/api/v1/orders/{order['id']}/cancel", json={"reason": "changed her mind"},
                                      headers=world.auth("clerk_1"))
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled", cancelled.text
    payment = await payment_of(env, world, order["id"])
    [refund] = payment["refunds"]
    assert (refund["status"], refund["amount"]["amount_minor"]) == ("succeeded", 9900)
    assert (payment["refunded"]["amount_minor"], payment["held_in_escrow"]["amount_minor"]) == (9900, 0)
    assert env.app.state.gateway.cash.payouts == [
        CashPayout(payment["gateway_reference"], 9900, "CNY", f"refund:{refund['id']}")]
    assert postings(payment)[-1] == ("refund", "escrow:0", f"shopper_funding:{world.ids['alice']}", 9900)
    assert stripe.requests == []
    assert (await run_checks(env.app.state.engine)).violations == []


async def test_a_refund_of_a_handed_over_cash_sale_is_cash_to_pay_back_and_stripe_hears_nothing(stripe_env):
    env, stripe = stripe_env
    world = await build_world(env)
    await at_the_till(env, world)
    await scan(env, TEE_BARCODE)
    await env.client.post("/pos/sell", data={"mode": "in_store", "payment": "cash"})
    [order] = await orders_of(env, world)
    refunded = await env.client.post(f"/api/v1/orders/{order['id']}/refunds", json={"amount_minor": 3000},
                                     headers=world.auth("staff_a"))
    assert refunded.status_code == 201, refunded.text
    payment = await payment_of(env, world, order["id"])
    assert [(r["status"], r["amount"]["amount_minor"]) for r in payment["refunds"]] == [("succeeded", 3000)]
    assert env.app.state.gateway.cash.payouts == [
        CashPayout(payment["gateway_reference"], 3000, "CNY", f"refund:{refunded.json()['id']}")]
    assert stripe.requests == []
    assert (await run_checks(env.app.state.engine)).violations == []


async def test_a_shopper_cannot_pay_by_cash_through_the_api_and_nothing_is_taken(env):
    world = await build_world(env)
    await env.client.post("/api/v1/cart/lines", json={"sku": "TEE-M", "merchant": "brand-a", "quantity": 1},
                          headers=world.auth("alice"))
    placed = await env.client.post("/api/v1/orders", json={"delivery": {"mode": "pickup",
                                                                        "location_id": world.ids["STORE-1"]}},
                                   headers=world.auth("alice"))
    order_id = placed.json()["orders"][0]["id"]
    refused = await env.client.post(f"/api/v1/orders/{order_id}/pay", json={"method": "cash"},
                                    headers={**world.auth("alice"), "Idempotency-Key": "cash-1"})
    assert refused.status_code == 403, refused.text
    assert (refused.json()["code"], refused.json()["field"]) == ("cash_only_at_till", "method")
    assert "till" in refused.json()["message"]
    assert await count(env, payments) == 0
    assert env.gateway._authorized == {} and env.gateway.captures == []
    order = await env.client.get(f"/api/v1/orders/{order_id}", headers=world.auth("alice"))
    assert order.json()["status"] == "placed"
    paid = await env.client.post(f"/api/v1/orders/{order_id}/pay", json={"method": "card", "token": "tok_visa"},
                                 headers=world.auth("alice"))
    assert paid.status_code == 200 and paid.json()["status"] == "paid"  # the order stayed payable by card


async def test_checkout_with_stripe_mounts_a_card_element_and_pays_with_the_payment_method_it_posts(stripe_env):
    env, stripe = stripe_env
    world = await build_world(env)
    await signed_in(env, world)
    await env.client.post(f"/cart/add/{world.ids['tee']}")
    page = await env.client.get("/checkout", params={"lang": "en"})
    assert page.status_code == 200
    assert '<script src="https://js.stripe.com/v3/" defer></script>' in page.text
    assert f'data-stripe-key="{PUBLISHABLE_KEY}"' in page.text and 'id="card-element"' in page.text
    assert 'name="token" value=""' in page.text and 'data-testid="simulated-card"' not in page.text
    assert SECRET_KEY not in page.text and WEBHOOK_SECRET not in page.text

    placed = await env.client.post("/checkout", data={"option": f"store_pickup:{world.ids['STORE-1']}",
                                                      "token": CARD})
    assert placed.status_code == 303, placed.text
    [order] = await orders_of(env, world)
    assert placed.headers["location"] == f"/orders/{order['id']}"
    assert (order["status"], order["payment_reference"]) == ("paid", INTENT)
    [(_, path, form, _), (_, capture_path, _, _)] = stripe.requests
    assert (path, form["payment_method"], form["amount"]) == ("/v1/payment_intents", CARD, "9900")
    assert capture_path == f"/v1/payment_intents/{INTENT}/capture"
    payment = await payment_of(env, world, order["id"])
    assert (payment["gateway"], payment["method"], payment["held_in_escrow"]["amount_minor"]) == ("stripe", "card",
                                                                                                 9900)


async def test_checkout_with_stripe_and_no_card_entered_places_nothing(stripe_env):
    env, stripe = stripe_env
    world = await build_world(env)
    await signed_in(env, world)
    await env.client.post(f"/cart/add/{world.ids['tee']}")
    for token in ("", "tok_visa", "pm_<script>"):
        refused = await env.client.post("/checkout", data={"option": f"store_pickup:{world.ids['STORE-1']}",
                                                           "token": token}, params={"lang": "en"})
        assert refused.status_code == 422 and card_error(refused.text) == "Enter your card details", token
        assert f'data-stripe-key="{PUBLISHABLE_KEY}"' in refused.text
    async with env.uow() as uow:
        assert (await uow.conn.execute(select(orders.c.id))).all() == []
    assert stripe.requests == []
    assert await stock_of(env, world.ids["tee"], world.ids["STORE-1"]) == (2, 0)


async def test_a_declined_card_shows_stripes_message_by_the_card_and_the_order_is_paid_later_from_its_page(stripe_env):
    env, stripe = stripe_env
    world = await build_world(env)
    await signed_in(env, world)
    await env.client.post(f"/cart/add/{world.ids['tee']}")
    stripe.declines = True
    declined = await env.client.post("/checkout", data={"option": f"store_pickup:{world.ids['STORE-1']}",
                                                        "token": CARD}, params={"lang": "en"})
    assert declined.status_code == 402, declined.text
    [order] = await orders_of(env, world)
    assert order["status"] == "placed"
    assert card_error(declined.text) == "Your card was declined."  # Stripe's own words
    assert f'action="/orders/{order["id"]}/pay"' in declined.text and 'id="card-element"' in declined.text
    assert await count(env, payments) == 0  # declined at authorization: nothing held, nothing recorded

    stripe.declines = False
    again = await env.client.get(f"/orders/{order['id']}", params={"lang": "en"})
    assert "Pay now" in again.text and f'data-stripe-key="{PUBLISHABLE_KEY}"' in again.text
    paid = await env.client.post(f"/orders/{order['id']}/pay", data={"token": "pm_1QaLwX2eZvKYlo2CsecondCard"})
    assert paid.status_code == 303 and paid.headers["location"] == f"/orders/{order['id']}"
    assert [r[2].get("payment_method") for r in stripe.requests if r[1] == "/v1/payment_intents"] == [
        CARD, "pm_1QaLwX2eZvKYlo2CsecondCard"]
    [order] = await orders_of(env, world)
    assert order["status"] == "paid"
    assert (await run_checks(env.app.state.engine)).violations == []


async def test_with_the_simulated_gateway_checkout_says_the_card_is_simulated_and_loads_no_stripe(env):
    world = await build_world(env)
    await signed_in(env, world)
    await env.client.post(f"/cart/add/{world.ids['tee']}")
    page = await env.client.get("/checkout", params={"lang": "en"})
    assert 'data-testid="simulated-card"' in page.text and "Simulated card" in page.text
    assert "js.stripe.com" not in page.text and "data-stripe-key" not in page.text
    declined = await env.client.post("/checkout", data={"option": f"store_pickup:{world.ids['STORE-1']}",
                                                        "token": "tok_decline"}, params={"lang": "en"})
    assert declined.status_code == 402
    assert card_error(declined.text) == "the card was declined (decline)"
    [order] = await orders_of(env, world)
    in_chinese = await env.client.post(f"/orders/{order['id']}/pay", data={"token": "tok_insufficient_funds"},
                                       params={"lang": "zh_CN"})
    assert in_chinese.status_code == 402  # a Chinese page says it in Chinese and keeps the gateway's own reason
    assert card_error(in_chinese.text) == "支付没有被接受，没有扣款（the card was declined (insufficient_funds)）"
    paid = await env.client.post(f"/orders/{order['id']}/pay")  # the simulated card that pays
    assert paid.status_code == 303 and paid.headers["location"] == f"/orders/{order['id']}"
    assert [c.amount_minor for c in env.gateway.captures] == [9900]


async def test_the_till_with_stripe_says_a_card_needs_a_terminal_and_takes_cash(stripe_env):
    env, stripe = stripe_env
    world = await build_world(env)
    await at_the_till(env, world)
    await scan(env, TEE_BARCODE)
    till = await env.client.get("/pos", params={"lang": "en"})
    assert 'data-testid="no-terminal"' in till.text and CASH_AT_THE_TILL in till.text
    assert 'value="tok_visa"' not in till.text and 'value="card" disabled' in till.text
    refused = await env.client.post("/pos/sell", data={"mode": "in_store", "payment": "card"},
                                    params={"lang": "en"}, headers={"HX-Request": "true"})
    assert refused.status_code == 422 and 'id="payment-error"' in refused.text
    assert CASH_AT_THE_TILL in refused.text.split('id="payment-error"', 1)[1]
    assert await orders_of(env, world) == [] and stripe.requests == []
    cart = await env.client.get("/api/v1/cart", headers=world.auth("alice"))
    assert [(ln["sku"], ln["quantity"]) for ln in cart.json()["lines"]] == [("TEE-M", 1)]
    sold = await env.client.post("/pos/sell", data={"mode": "in_store", "payment": "cash"})
    assert sold.status_code == 303, sold.text
    assert [o["status"] for o in await orders_of(env, world)] == ["completed"] and stripe.requests == []
