"""The Stripe adapter against recorded Stripe responses (tests/fixtures/stripe): what it sends, how it reads the
answers and the webhooks, and a whole payment through the application. No test reaches the network: every request
goes to an httpx MockTransport that checks it and answers with a recording."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
import pytest_asyncio

from tests.conftest import OPENING, Env
from tests.integration.test_orders_api import add, place
from tests.integration.world import build_world
from unichannel.app import create_app
from unichannel.check import run_checks
from unichannel.clock import FixedClock
from unichannel.errors import GatewayUnavailable, InvalidSignature, PaymentDeclined
from unichannel.payments.gateway import EventKind, sign
from unichannel.payments.stripe import SIGNATURE_HEADER, StripeGateway
from unichannel.settings import Settings

RECORDINGS = Path(__file__).parents[1] / "fixtures" / "stripe"
INTENT = "pi_3QaLwX2eZvKYlo2C0sJ5hL8d"
SECRET_KEY = "sk_test_not_a_real_key"  # the transport is a mock: nothing is ever sent anywhere
WEBHOOK_SECRET = "whsec_test_not_a_real_secret"


def recording(name: str) -> dict:
    return json.loads((RECORDINGS / f"{name}.json").read_text())


class RecordedStripe:
    """Answers each Stripe endpoint with its recording and keeps every request for the test to inspect; `refusal`
    names a recorded error that Stripe answers to every request with 400 instead."""

    def __init__(self, declines: bool = False, status: int | None = None, refusal: str | None = None) -> None:
        self.requests: list[tuple[str, str, dict[str, str], dict[str, str]]] = []
        self.declines, self.status, self.refusal = declines, status, refusal

    def __call__(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        self.requests.append((request.method, request.url.path, form, dict(request.headers)))
        if self.status is not None:
            return httpx.Response(self.status, json={"error": {"type": "api_error", "message": "try later"}})
        if self.refusal is not None:
            return httpx.Response(400, json=recording(self.refusal))
        path = request.url.path
        if path == "/v1/payment_intents":
            if self.declines:
                return httpx.Response(402, json=recording("card_declined"))
            return httpx.Response(200, json=recording("payment_intent_requires_capture"))
        if path == f"/v1/payment_intents/{INTENT}/capture":
            return httpx.Response(200, json=recording("payment_intent_succeeded"))
        if path == f"/v1/payment_intents/{INTENT}/cancel":
            return httpx.Response(200, json=recording("payment_intent_canceled"))
        if path == "/v1/refunds":
            return httpx.Response(200, json=recording("refund_succeeded") | {"amount": int(form["amount"])})
        return httpx.Response(404, json={"error": {"type": "invalid_request_error", "message": "unrecorded"}})


def gateway(stripe: RecordedStripe) -> StripeGateway:
    return StripeGateway(SECRET_KEY, WEBHOOK_SECRET, transport=httpx.MockTransport(stripe))


async def test_authorize_creates_a_manual_capture_payment_intent_in_minor_units_with_the_idempotency_key():
    stripe = RecordedStripe()
    authorization = await gateway(stripe).authorize(reference="order:1", amount_minor=9900, currency="CNY",
                                                    method="card", token="pm_card_visa", idempotency_key="authorize:k1")
    assert (authorization.gateway_reference, authorization.amount_minor, authorization.currency) == (INTENT, 9900,
                                                                                                    "CNY")
    [(method, path, form, headers)] = stripe.requests
    assert (method, path) == ("POST", "/v1/payment_intents")
    assert form == {"amount": "9900", "currency": "cny", "payment_method": "pm_card_visa", "confirm": "true",
                         "capture_method": "manual", "metadata[reference]": "order:1",
                         "automatic_payment_methods[enabled]": "true",
                         "automatic_payment_methods[allow_redirects]": "never"}
    assert headers["authorization"] == f"Bearer {SECRET_KEY}" and headers["idempotency-key"] == "authorize:k1"


async def test_capture_void_and_refund_call_their_endpoints_with_their_own_keys():
    stripe = RecordedStripe()
    adapter = gateway(stripe)
    captured = await adapter.capture(INTENT, 9900, "CNY", idempotency_key="capture:k1")
    await adapter.void(INTENT, idempotency_key="void:k1")
    await adapter.refund(INTENT, 3000, "CNY", idempotency_key="refund:1")
    assert (captured.payment_reference, captured.amount_minor) == (INTENT, 9900)
    assert [(p, f, h["idempotency-key"]) for _, p, f, h in stripe.requests] == [
        (f"/v1/payment_intents/{INTENT}/capture", {"amount_to_capture": "9900"}, "capture:k1"),
        (f"/v1/payment_intents/{INTENT}/cancel", {}, "void:k1"),
        ("/v1/refunds", {"payment_intent": INTENT, "amount": "3000", "metadata[refund_key]": "refund:1"}, "refund:1"),
    ]


async def test_a_declined_card_is_a_payment_declined_error_with_stripes_message():
    with pytest.raises(PaymentDeclined, match="Your card was declined"):
        await gateway(RecordedStripe(declines=True)).authorize(
            reference="order:1", amount_minor=9900, currency="CNY", method="card", token="pm_card_visa",
            idempotency_key="k")


async def test_a_payment_method_stripe_does_not_know_is_declined_on_the_card_field_with_stripes_message():
    """The PaymentMethod id comes from the shopper's browser: Stripe refusing it (400 invalid_request_error on
    `payment_method`) is the shopper's card to enter again, not Stripe being down (it was a 503 gateway_unavailable)."""
    stripe = RecordedStripe(refusal="payment_method_missing")
    with pytest.raises(PaymentDeclined) as declined:
        await gateway(stripe).authorize(reference="order:1", amount_minor=9900, currency="CNY", method="card",
                                        token="pm_1QaLwX2eZvKYlo2CnotMine", idempotency_key="k")
    assert (declined.value.status_code, declined.value.code, declined.value.field, declined.value.message) == (
        402, "payment_declined", "token", "No such PaymentMethod: 'pm_1QaLwX2eZvKYlo2CnotMine'")
    assert [path for _, path, _, _ in stripe.requests] == ["/v1/payment_intents"]


async def test_any_other_request_stripe_refuses_stays_a_gateway_unavailable_error_with_stripes_message():
    with pytest.raises(GatewayUnavailable, match="Stripe refused the request: Invalid integer: 99.5"):
        await gateway(RecordedStripe(refusal="amount_invalid")).authorize(
            reference="order:1", amount_minor=9900, currency="CNY", method="card", token="pm_card_visa",
            idempotency_key="k")


@pytest.mark.parametrize("status", [500, 503, 429], ids=["error", "unavailable", "rate-limited"])
async def test_stripe_being_unavailable_is_a_gateway_unavailable_error(status):
    with pytest.raises(GatewayUnavailable):
        await gateway(RecordedStripe(status=status)).capture(INTENT, 9900, "CNY", idempotency_key="k")


async def test_a_network_failure_is_a_gateway_unavailable_error():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    adapter = StripeGateway(SECRET_KEY, WEBHOOK_SECRET, transport=httpx.MockTransport(refuse))
    with pytest.raises(GatewayUnavailable, match="ConnectError"):
        await adapter.void(INTENT, idempotency_key="k")


@pytest.mark.parametrize(("status", "body"), [(502, b"<html>Bad Gateway</html>"), (200, b"[]")],
                         ids=["a-proxy-error-page", "not-an-object"])
async def test_an_answer_that_is_not_stripes_json_is_a_gateway_unavailable_error(status, body):
    def proxy(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"content-type": "text/html"})

    adapter = StripeGateway(SECRET_KEY, WEBHOOK_SECRET, transport=httpx.MockTransport(proxy))
    with pytest.raises(GatewayUnavailable, match="could not be read"):
        await adapter.capture(INTENT, 9900, "CNY", idempotency_key="k")


def signed(name: str, at: int, secret: str = WEBHOOK_SECRET, **object_changes) -> tuple[bytes, dict[str, str]]:
    event = recording(name)
    event["data"]["object"].update(object_changes)
    body = json.dumps(event).encode()
    return body, {SIGNATURE_HEADER: sign(secret, body, at)}


@pytest.mark.parametrize(
    ("name", "changes", "kind", "amount", "refund_key"),
    [
        ("event_payment_intent_succeeded", {}, EventKind.CAPTURED, 9900, None),
        ("event_refund_updated", {}, EventKind.REFUNDED, 3000, "refund:1"),
        ("event_refund_updated", {"status": "pending"}, "refund.pending", 3000, "refund:1"),
    ],
    ids=["captured", "refund-succeeded", "refund-still-pending"],
)
def test_signed_stripe_events_are_read_into_gateway_events(name, changes, kind, amount, refund_key):
    body, headers = signed(name, 1731254460, **changes)
    event = gateway(RecordedStripe()).parse_webhook(body, headers, now=1731254470)
    assert (event.kind, event.gateway_reference, event.amount_minor, event.currency, event.refund_key) == (
        kind, INTENT, amount, "CNY", refund_key)


@pytest.mark.parametrize(("secret", "now"), [("whsec_someone_else", 1731254470), (WEBHOOK_SECRET, 1731254460 + 301)],
                         ids=["wrong-secret", "too-old"])
def test_a_stripe_event_with_a_bad_or_stale_signature_is_refused(secret, now):
    body, headers = signed("event_payment_intent_succeeded", 1731254460, secret=secret)
    with pytest.raises(InvalidSignature):
        gateway(RecordedStripe()).parse_webhook(body, headers, now=now)


@pytest_asyncio.fixture
async def stripe_env(sqlite_template, tmp_path) -> AsyncIterator[tuple[Env, RecordedStripe]]:
    import shutil

    path = tmp_path / "unichannel.db"
    shutil.copy(sqlite_template, path)
    settings = Settings(database_url=f"sqlite+aiosqlite:///{path}", public_base_url="https://shop.example")
    clock, stripe = FixedClock(OPENING), RecordedStripe()
    app = create_app(settings, clock=clock, gateway=gateway(stripe), run_background_tasks=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield Env(app, client, clock, None, settings), stripe  # type: ignore[arg-type]


async def test_a_whole_payment_through_stripe_lands_in_escrow_and_its_webhooks_change_nothing_twice(stripe_env):
    env, stripe = stripe_env
    world = await build_world(env)
    await add(env, world, "alice")
    order_id = (await place(env, world, "alice")).json()["orders"][0]["id"]
    paid = await env.client.post(f"/api/v1/orders/{order_id}/pay", json={"token": "pm_card_visa"},
                                 headers={**world.auth("alice"), "Idempotency-Key": "checkout-7"})
    assert paid.status_code == 200 and paid.json()["status"] == "paid", paid.text
    assert paid.json()["payment_reference"] == INTENT
    assert [p for _, p, _, _ in stripe.requests] == ["/v1/payment_intents", f"/v1/payment_intents/{INTENT}/capture"]
    now = int(env.clock.now().timestamp())
    body, headers = signed("event_payment_intent_succeeded", now)
    webhook = await env.client.post("/api/v1/payments/webhooks/stripe", content=body, headers=headers)
    assert webhook.status_code == 200 and webhook.json()["outcome"] == "duplicate"
    refunded = await env.client.post(f"/api/v1/orders/{order_id}/refunds", json={"amount_minor": 3000},
                                     headers=world.auth("staff_a"))
    assert refunded.status_code == 201
    assert stripe.requests[-1][1:3] == ("/v1/refunds", {"payment_intent": INTENT, "amount": "3000",
                                                         "metadata[refund_key]": f"refund:{refunded.json()['id']}"})
    body, headers = signed("event_refund_updated", now, metadata={"refund_key": f"refund:{refunded.json()['id']}"})
    webhook = await env.client.post("/api/v1/payments/webhooks/stripe", content=body, headers=headers)
    assert webhook.json()["outcome"] == "duplicate"  # the refund was marked paid when Stripe answered
    payment = (await env.client.get(f"/api/v1/orders/{order_id}/payment", headers=world.auth("alice"))).json()
    assert (payment["gateway"], payment["captured"]["amount_minor"], payment["held_in_escrow"]["amount_minor"]) == (
        "stripe", 9900, 6900)
    assert [r["status"] for r in payment["refunds"]] == ["succeeded"]
    assert (await run_checks(env.app.state.engine)).violations == []
