"""Payment gateways: the network side of paying. The ledger (payments.model) records what a gateway did.

A gateway authorizes an amount (money held on the shopper's card), captures it (money taken), voids an authorization
(hold released), refunds a capture, and reports what happened asynchronously by signed webhooks. Every call carries
an idempotency key, so a retried call never charges or pays back twice.

`SimulatedGateway` is built in for the demo and tests: deterministic, with documented test card tokens that decline
(`tok_decline`, `tok_insufficient_funds`) or time out (`tok_timeout`), configurable latency, and webhooks it signs
exactly like a real gateway, which tests may deliver duplicated, late or out of order.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import orjson

from unichannel.clock import Clock, SystemClock
from unichannel.errors import GatewayUnavailable, InvalidSignature, PaymentDeclined
from unichannel.settings import Settings

DECLINING_TOKENS = frozenset({"tok_decline", "tok_insufficient_funds"})
TIMING_OUT_TOKENS = frozenset({"tok_timeout"})
SIGNATURE_HEADER = "unichannel-signature"
SIGNATURE_TOLERANCE_SECONDS = 300


@dataclass(frozen=True, slots=True)
class Authorization:
    gateway_reference: str
    amount_minor: int
    currency: str
    gateway: str  # who holds it (`simulated`, `stripe`, `cash`...): its capture, void and refunds go back there


@dataclass(frozen=True, slots=True)
class Capture:
    payment_reference: str
    amount_minor: int
    currency: str


class EventKind:
    CAPTURED = "payment.captured"
    VOIDED = "payment.voided"
    REFUNDED = "refund.succeeded"
    ALL = (CAPTURED, VOIDED, REFUNDED)


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """A gateway's report, verified: what happened to which payment."""

    event_id: str
    kind: str
    gateway_reference: str
    amount_minor: int
    currency: str
    refund_key: str | None = None  # for refunds: the idempotency key the refund was asked with


class PaymentGateway(Protocol):
    name: str

    async def authorize(self, *, reference: str, amount_minor: int, currency: str, method: str, token: str | None,
                        idempotency_key: str) -> Authorization:
        """Holds the amount on the shopper's means of payment; PaymentDeclined if refused."""
        ...

    async def capture(self, gateway_reference: str, amount_minor: int, currency: str, *, idempotency_key: str
                      ) -> Capture:
        """Takes the authorized amount."""
        ...

    async def void(self, gateway_reference: str, *, idempotency_key: str) -> None:
        """Releases an authorization that will not be captured."""
        ...

    async def refund(self, payment_reference: str, amount_minor: int, currency: str, *, idempotency_key: str) -> None:
        """Pays money back; the same `idempotency_key` twice pays once."""
        ...

    def parse_webhook(self, body: bytes, headers: Mapping[str, str], now: float) -> WebhookEvent:
        """The event in a webhook request, once its signature is verified; InvalidSignature otherwise."""
        ...


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """`t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`: the signature header a webhook carries."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, body: bytes, header: str | None, now: float) -> None:
    """Refuses a webhook whose signature is missing, wrong, or older than the tolerance (a replay)."""
    if not header:
        raise InvalidSignature("the webhook carries no signature", field=SIGNATURE_HEADER)
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        raise InvalidSignature("the signature has no timestamp", field=SIGNATURE_HEADER) from None
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    if not hmac.compare_digest(expected, parts.get("v1", "")):
        raise InvalidSignature("the webhook signature does not match", field=SIGNATURE_HEADER)
    if abs(now - timestamp) > SIGNATURE_TOLERANCE_SECONDS:
        raise InvalidSignature("the webhook is too old (replayed?)", field=SIGNATURE_HEADER)


@dataclass
class SimulatedGateway:
    """An in-process gateway. Authorizations and captures are recorded; each state change queues a signed webhook
    in `outbox` (delivered by whoever drives the simulation)."""

    secret: str = field(default_factory=lambda: "whsec_" + secrets.token_hex(16))  # per process: nothing to leak
    latency_ms: int = 0
    clock: Clock = field(default_factory=SystemClock)
    # A timeout after the gateway acted: the capture happens (and its webhook is queued) but the answer is lost.
    capture_answer_lost: bool = False
    name: str = "simulated"
    captures: list[Capture] = field(default_factory=list)
    refunds: list[tuple[str, int, str]] = field(default_factory=list)
    voids: list[str] = field(default_factory=list)
    outbox: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)
    _done: dict[str, object] = field(default_factory=dict)  # idempotency key -> the result it gave
    _authorized: dict[str, Authorization] = field(default_factory=dict)
    _events: int = 0

    async def _network(self) -> None:
        if self.latency_ms:
            await asyncio.sleep(self.latency_ms / 1000)

    async def authorize(self, *, reference: str, amount_minor: int, currency: str, method: str, token: str | None,
                        idempotency_key: str) -> Authorization:
        await self._network()
        if idempotency_key in self._done:
            return self._done[idempotency_key]  # type: ignore[return-value]
        if token in TIMING_OUT_TOKENS:
            raise GatewayUnavailable("the payment gateway did not answer in time; nothing was charged, retry")
        if token in DECLINING_TOKENS:
            raise PaymentDeclined(f"the card was declined ({token.removeprefix('tok_')})", field="token")
        digest = hashlib.sha256(f"{reference}:{amount_minor}:{currency}:{idempotency_key}".encode()).hexdigest()
        authorization = Authorization("sim_" + digest[:20], amount_minor, currency, self.name)
        self._authorized[authorization.gateway_reference] = authorization
        self._done[idempotency_key] = authorization
        return authorization

    async def capture(self, gateway_reference: str, amount_minor: int, currency: str, *, idempotency_key: str
                      ) -> Capture:
        await self._network()
        if idempotency_key in self._done:
            return self._done[idempotency_key]  # type: ignore[return-value]
        if gateway_reference not in self._authorized or gateway_reference in self.voids:
            raise PaymentDeclined("no such authorization to capture", field="payment")
        capture = Capture(gateway_reference, amount_minor, currency)
        self.captures.append(capture)
        self._done[idempotency_key] = capture
        self._queue(EventKind.CAPTURED, gateway_reference, amount_minor, currency)
        if self.capture_answer_lost:
            raise GatewayUnavailable("the payment gateway did not answer in time; retry with the same Idempotency-Key")
        return capture

    async def void(self, gateway_reference: str, *, idempotency_key: str) -> None:
        await self._network()
        if idempotency_key in self._done:
            return
        if any(c.payment_reference == gateway_reference for c in self.captures):
            raise PaymentDeclined("the payment was captured; refund it instead of voiding", field="payment")
        self._done[idempotency_key] = None
        self.voids.append(gateway_reference)
        authorization = self._authorized.get(gateway_reference)
        if authorization is not None:
            self._queue(EventKind.VOIDED, gateway_reference, authorization.amount_minor, authorization.currency)

    async def refund(self, payment_reference: str, amount_minor: int, currency: str, *, idempotency_key: str) -> None:
        await self._network()
        if idempotency_key in self._done:
            return
        self._done[idempotency_key] = None
        self.refunds.append((payment_reference, amount_minor, currency))
        self._queue(EventKind.REFUNDED, payment_reference, amount_minor, currency, refund_key=idempotency_key)

    def _queue(self, kind: str, reference: str, amount_minor: int, currency: str, refund_key: str | None = None
               ) -> None:
        self._events += 1
        body = orjson.dumps({"id": f"evt_sim_{self._events}", "type": kind, "payment": reference,
                             "amount_minor": amount_minor, "currency": currency, "refund_key": refund_key})
        self.outbox.append((body, {SIGNATURE_HEADER: sign(self.secret, body, int(self.clock.now().timestamp())),
                                   "content-type": "application/json"}))

    def deliveries(self, *, copies: int = 1, newest_first: bool = False) -> list[tuple[bytes, dict[str, str]]]:
        """The queued webhooks as a gateway might deliver them: each `copies` times, possibly newest first."""
        queued = list(reversed(self.outbox)) if newest_first else list(self.outbox)
        return [delivery for delivery in queued for _ in range(copies)]

    def parse_webhook(self, body: bytes, headers: Mapping[str, str], now: float) -> WebhookEvent:
        verify(self.secret, body, headers.get(SIGNATURE_HEADER), now)
        try:
            data = orjson.loads(body)
            event = WebhookEvent(str(data["id"]), str(data["type"]), str(data["payment"]), int(data["amount_minor"]),
                                 str(data["currency"]), data.get("refund_key"))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            raise InvalidSignature("a signed webhook that is not a gateway event", field="body") from None
        return event


def build_card_gateway(settings: Settings, clock: Clock) -> PaymentGateway:
    """The card gateway the settings name (Stripe needs its keys in the environment; the settings refuse to start
    without)."""
    if settings.payment_gateway == "stripe":
        from unichannel.payments.stripe import StripeGateway

        assert settings.stripe_secret_key is not None and settings.stripe_webhook_secret is not None
        return StripeGateway(settings.stripe_secret_key.get_secret_value(),
                             settings.stripe_webhook_secret.get_secret_value())
    return SimulatedGateway(clock=clock, latency_ms=settings.simulated_gateway_latency_ms)


def build_gateway(settings: Settings, clock: Clock) -> PaymentGateway:
    """What the application pays through: the till's cash drawer in front of the card gateway the settings name, so
    cash never reaches a card gateway."""
    from unichannel.payments.cash import Gateways

    return Gateways(build_card_gateway(settings, clock))
