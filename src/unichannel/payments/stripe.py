"""The Stripe adapter: PaymentIntents with manual capture, refunds, and signed webhooks.

Amounts go to Stripe as they are stored here: integer minor units (Stripe's "smallest currency unit", which is the
whole unit for zero-decimal currencies such as JPY), currencies in lower case. Every call sends an `Idempotency-Key`,
so a retried call is answered by Stripe with its first result. Keys come from settings, never from the repository.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import orjson

from unichannel.errors import GatewayUnavailable, InvalidSignature, PaymentDeclined
from unichannel.payments.gateway import Authorization, Capture, EventKind, WebhookEvent, verify

API_BASE = "https://api.stripe.com"
SIGNATURE_HEADER = "stripe-signature"
# Stripe's event types, as this platform reads them
EVENT_KINDS = {
    "payment_intent.succeeded": EventKind.CAPTURED,  # captured (amount_received)
    "payment_intent.canceled": EventKind.VOIDED,
    "refund.updated": EventKind.REFUNDED,  # acted on only when the refund's status is "succeeded"
    "refund.created": EventKind.REFUNDED,
}


def _refuses_payment_method(error: Mapping[str, Any]) -> bool:
    """Stripe's error says the request's `payment_method` (e.g. resource_missing: no such PaymentMethod)."""
    return error.get("type") == "invalid_request_error" and error.get("param") == "payment_method"


class StripeGateway:
    name = "stripe"

    def __init__(self, secret_key: str, webhook_secret: str, *, transport: httpx.AsyncBaseTransport | None = None,
                 timeout_seconds: float = 20.0) -> None:
        self._webhook_secret = webhook_secret
        self._client = httpx.AsyncClient(
            base_url=API_BASE, transport=transport, timeout=timeout_seconds,
            headers={"Authorization": f"Bearer {secret_key}", "Stripe-Version": "2024-06-20"},
        )

    async def _post(self, path: str, form: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        try:
            response = await self._client.post(path, data=form, headers={"Idempotency-Key": idempotency_key})
        except httpx.HTTPError as error:
            raise GatewayUnavailable(f"Stripe did not answer ({type(error).__name__}); retry") from None
        try:
            body = response.json()
        except ValueError:  # a proxy's or load balancer's HTML error page, not Stripe's answer
            body = None
        if not isinstance(body, dict):
            raise GatewayUnavailable(f"Stripe's answer could not be read (HTTP {response.status_code}); retry")
        error = body.get("error", {})
        if response.status_code == 402 or error.get("type") == "card_error":
            raise PaymentDeclined(error.get("message", "the card was declined"), field="token")
        if response.status_code >= 500 or response.status_code == 429:
            raise GatewayUnavailable("Stripe is unavailable; nothing was charged, retry")
        if response.status_code == 400 and _refuses_payment_method(error):
            # The PaymentMethod id came from the shopper's browser (Stripe.js): one Stripe does not know or cannot
            # use is the shopper's card to enter again, not Stripe being down.
            raise PaymentDeclined(error.get("message", "the card could not be used"), field="token")
        if response.status_code >= 400:
            raise GatewayUnavailable(f"Stripe refused the request: {error.get('message', '')}")
        return body

    async def authorize(self, *, reference: str, amount_minor: int, currency: str, method: str, token: str | None,
                        idempotency_key: str) -> Authorization:
        if not token:
            raise PaymentDeclined("a card payment needs a payment method token", field="token")
        intent = await self._post("/v1/payment_intents", {
            "amount": amount_minor, "currency": currency.lower(), "payment_method": token, "confirm": "true",
            "capture_method": "manual", "metadata[reference]": reference,
            "automatic_payment_methods[enabled]": "true", "automatic_payment_methods[allow_redirects]": "never",
        }, idempotency_key)
        if intent.get("status") != "requires_capture":
            raise PaymentDeclined(f"the payment was not authorized ({intent.get('status')})", field="token")
        return Authorization(intent["id"], int(intent["amount"]), intent["currency"].upper(), self.name)

    async def capture(self, gateway_reference: str, amount_minor: int, currency: str, *, idempotency_key: str
                      ) -> Capture:
        intent = await self._post(f"/v1/payment_intents/{gateway_reference}/capture",
                                  {"amount_to_capture": amount_minor}, idempotency_key)
        if intent.get("status") != "succeeded":
            raise GatewayUnavailable(f"Stripe did not capture ({intent.get('status')})")
        return Capture(intent["id"], int(intent["amount_received"]), intent["currency"].upper())

    async def void(self, gateway_reference: str, *, idempotency_key: str) -> None:
        await self._post(f"/v1/payment_intents/{gateway_reference}/cancel", {}, idempotency_key)

    async def refund(self, payment_reference: str, amount_minor: int, currency: str, *, idempotency_key: str) -> None:
        await self._post("/v1/refunds", {"payment_intent": payment_reference, "amount": amount_minor,
                                         "metadata[refund_key]": idempotency_key}, idempotency_key)

    def parse_webhook(self, body: bytes, headers: Mapping[str, str], now: float) -> WebhookEvent:
        verify(self._webhook_secret, body, headers.get(SIGNATURE_HEADER), now)
        try:
            event = orjson.loads(body)
            kind = EVENT_KINDS.get(event["type"], event["type"])
            obj = event["data"]["object"]
            if event["type"].startswith("refund."):
                if obj.get("status") != "succeeded":
                    kind = "refund.pending"  # not acted on until Stripe reports it succeeded
                return WebhookEvent(event["id"], kind, obj["payment_intent"], int(obj["amount"]),
                                    obj["currency"].upper(), (obj.get("metadata") or {}).get("refund_key"))
            amount = int(obj.get("amount_received") or obj["amount"])
            return WebhookEvent(event["id"], kind, obj["id"], amount, obj["currency"].upper())
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            raise InvalidSignature("a signed webhook that is not a Stripe event this platform reads",
                                   field="body") from None

    async def close(self) -> None:
        await self._client.aclose()
