"""Cash at the till never goes through the card gateway, and a card at the storefront is entered with Stripe.js.

With Stripe configured, every request to Stripe goes to the recorded Stripe of test_stripe_adapter (an httpx
MockTransport that keeps each request), so "Stripe was not called" is asserted on what it received. Both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
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
from unichannel.payments import service as payments_service
from unichannel.payments.repository import payments
from unichannel.settings import Settings

PUBLISHABLE_KEY = "pk_test_51NotARealKeyJustForTheTests"
CARD = "pm_1QaLwX2eZvKYlo2CcardVisa"  # what Stripe.js would post: a PaymentMethod id
HOME = {"mode": "home_delivery", "name": "Alice", "address_phone": "+8613900000101", "line1": "1 Wensan Rd",
        "city": "Hangzhou"}
CASH_AT_THE_TILL = "A card at the till needs a card reader (Stripe Terminal)"
HOME_DELIVERY = {"mode": "home_delivery", "address": {"name": "Alice", "phone": "+8613900000101",
                                                      "line1": "1 Wensan Rd", "city": "Hangzhou", "latitude": 30.28,
                                                      "longitude": 120.13}}


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
    # Booked (escrow -> shopper), and waiting for the clerk to hand the notes back: no gateway pays it.
    assert (refund["status"], refund["amount"]["amount_minor"]) == ("processing", 9900)
    assert (payment["refunded"]["amount_minor"], payment["held_in_escrow"]["amount_minor"]) == (9900, 0)
    assert postings(payment)[-1] == ("refund", "escrow:0", f"shopper_funding:{world.ids['alice']}", 9900)
    assert await payments_service.pay_back_processing_refunds(env.uow, env.app.state.gateway) == []  # the sweeper
    assert [r["status"] for r in (await payment_of(env, world, order["id"]))["refunds"]] == ["processing"]

    till = await env.client.get("/pos", params={"lang": "en"})
    assert 'data-testid="cash-refunds"' in till.text and f'data-refund="{refund["id"]}"' in till.text
    assert "¥99.00" in till.text.split('data-testid="cash-refunds"', 1)[1].split("</section>", 1)[0]
    paid_back = await env.client.post(f"/pos/refunds/{order['id']}/{refund['id']}/paid-back")
    assert paid_back.status_code == 303 and paid_back.headers["location"] == "/pos"
    assert [r["status"] for r in (await payment_of(env, world, order["id"]))["refunds"]] == ["succeeded"]
    assert 'data-testid="cash-refunds"' not in (await env.client.get("/pos")).text
    again = await env.client.post(f"/pos/refunds/{order['id']}/{refund['id']}/paid-back", params={"lang": "en"})
    assert again.status_code == 409 and "succeeded" in again.text  # said on the till, not a stack trace
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
    refund_id = refunded.json()["id"]
    payment = await payment_of(env, world, order["id"])
    assert [(r["status"], r["amount"]["amount_minor"]) for r in payment["refunds"]] == [("processing", 3000)]
    path = f"/api/v1/orders/{order['id']}/refunds/{refund_id}/paid-back-in-cash"
    for who, status, code in (("alice", 403, "cash_only_at_till"), ("staff_a", 403, "cash_only_at_till"),
                              ("clerk_2", 404, "not_found")):  # only the clerk of the order's store hands it back
        refused = await env.client.post(path, headers=world.auth(who))
        assert (refused.status_code, refused.json()["code"]) == (status, code), (who, refused.text)
    done = await env.client.post(path, headers=world.auth("clerk_1"))
    assert done.status_code == 200 and (done.json()["status"], done.json()["id"]) == ("succeeded", refund_id)
    twice = await env.client.post(path, headers=world.auth("clerk_1"))
    assert (twice.status_code, twice.json()["code"]) == (409, "illegal_transition")
    assert stripe.requests == []
    assert (await run_checks(env.app.state.engine)).violations == []


async def test_only_the_clerk_of_the_orders_store_records_cash_and_merchant_staff_never_do(env):
    world = await build_world(env)
    await env.client.post("/api/v1/cart/lines", json={"sku": "TEE-M", "merchant": "brand-a", "quantity": 1},
                          headers=world.auth("alice"))
    placed = await env.client.post("/api/v1/orders", json={"delivery": HOME_DELIVERY}, headers=world.auth("alice"))
    order_id = placed.json()["orders"][0]["id"]
    for who in ("staff_a", "operator", "clerk_1"):  # an online order to a home: no till took any notes for it
        refused = await env.client.post(f"/api/v1/orders/{order_id}/pay", json={"method": "cash"},
                                        headers=world.auth(who))
        assert (refused.status_code, refused.json()["code"]) == (403, "cash_only_at_till") or (
            who == "clerk_1" and refused.status_code == 404), (who, refused.text)
    assert await count(env, payments) == 0 and env.gateway.captures == []

    await env.client.post("/api/v1/cart/lines", json={"sku": "TEE-M", "merchant": "brand-a", "quantity": 1},
                          headers=world.auth("bob"))
    pickup = await env.client.post("/api/v1/orders", json={"delivery": {"mode": "pickup",
                                                                        "location_id": world.ids["STORE-1"]}},
                                   headers=world.auth("bob"))
    assert pickup.status_code == 201, pickup.text
    pickup_id = pickup.json()["orders"][0]["id"]
    paid = await env.client.post(f"/api/v1/orders/{pickup_id}/pay", json={"method": "cash"},
                                 headers=world.auth("clerk_1"))  # paid at the counter it is collected from
    assert paid.status_code == 200 and paid.json()["status"] == "paid", paid.text
    payment = await payment_of(env, world, pickup_id)
    assert (payment["gateway"], payment["captured"]["amount_minor"]) == ("cash", 9900)
    assert env.gateway.captures == []


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


# A Chinese page said the generic "填写的内容不符合要求，请检查后重试" by the card: text.py had no (invalid_input, token).
@pytest.mark.parametrize(
    ("token", "lang", "said"),
    [
        ("", "en", "Enter your card details"),
        ("", "zh_CN", "请填写银行卡信息"),
        ("tok_visa", "en", "The card details did not come back from Stripe; enter your card again"),
        ("pm_<script>", "zh_CN", "没有收到 Stripe 返回的银行卡信息，请重新填写银行卡"),
    ],
    ids=["no-card-english", "no-card-chinese", "not-a-payment-method-english", "not-a-payment-method-chinese"],
)
async def test_checkout_with_stripe_and_no_card_entered_says_so_by_the_card_and_places_nothing(
    stripe_env, token, lang, said
):
    env, stripe = stripe_env
    world = await build_world(env)
    await signed_in(env, world)
    await env.client.post(f"/cart/add/{world.ids['tee']}")
    refused = await env.client.post("/checkout", data={"option": f"store_pickup:{world.ids['STORE-1']}",
                                                       "token": token}, params={"lang": lang})
    assert refused.status_code == 422 and card_error(refused.text) == said
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


async def test_a_payment_method_stripe_does_not_know_is_declined_by_the_card_field_and_the_order_stays_payable(
    stripe_env
):
    env, stripe = stripe_env
    world = await build_world(env)
    await signed_in(env, world)
    await env.client.post(f"/cart/add/{world.ids['tee']}")
    stripe.refusal = "payment_method_missing"  # Stripe's 400 resource_missing on `payment_method` (was a 503)

    declined = await env.client.post("/checkout", data={"option": f"store_pickup:{world.ids['STORE-1']}",
                                                        "token": "pm_1QaLwX2eZvKYlo2CnotMine"},
                                     params={"lang": "en"})

    assert declined.status_code == 402, declined.text
    assert card_error(declined.text) == "No such PaymentMethod: &#39;pm_1QaLwX2eZvKYlo2CnotMine&#39;"
    [order] = await orders_of(env, world)
    assert order["status"] == "placed" and f'action="/orders/{order["id"]}/pay"' in declined.text
    assert [path for _, path, _, _ in stripe.requests] == ["/v1/payment_intents"]
    assert await count(env, payments) == 0


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
