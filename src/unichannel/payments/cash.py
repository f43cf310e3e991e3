"""Cash at the till, and the router that keeps it away from the card gateway.

Cash handed to a clerk is not a card authorization: no network is asked, and nothing can decline it. `CashDrawer`
is a gateway in the sense of `gateway.PaymentGateway` so that cash is paid and voided through the same use cases as a
card, and booked in the ledger (shopper -> escrow) exactly like any capture. A refund of cash is notes the store's
clerk hands back: it waits, as `processing`, until the clerk says so (`payments.service.paid_back_in_cash`), so the
drawer never pays one itself and keeps no state. `Gateways` is what the
application pays through: it sends the method `cash` to the drawer and every other method to the card gateway, and
sends each capture, void and refund back to the gateway whose reference it names.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from unichannel.errors import InvalidSignature, PaymentDeclined
from unichannel.payments.gateway import Authorization, Capture, PaymentGateway, WebhookEvent
from unichannel.payments.model import CASH, CASH_REFERENCE_PREFIX, is_cash

log = logging.getLogger(__name__)

@dataclass
class CashDrawer:
    """The till's drawer. Authorizing is taking the notes, so capture changes nothing; a void is handing them back.
    References are derived from the idempotency key, so a retried payment names the same cash."""

    name: str = CASH

    async def authorize(self, *, reference: str, amount_minor: int, currency: str, method: str, token: str | None,
                        idempotency_key: str) -> Authorization:
        if method != CASH:
            raise PaymentDeclined("the cash drawer takes cash only", field="method")
        digest = hashlib.sha256(f"{reference}:{amount_minor}:{currency}:{idempotency_key}".encode()).hexdigest()
        return Authorization(CASH_REFERENCE_PREFIX + digest[:24], amount_minor, currency, self.name)

    async def capture(self, gateway_reference: str, amount_minor: int, currency: str, *, idempotency_key: str
                      ) -> Capture:
        return Capture(gateway_reference, amount_minor, currency)

    async def void(self, gateway_reference: str, *, idempotency_key: str) -> None:
        log.info("cash %s handed back at the till (nothing was booked)", gateway_reference)

    async def refund(self, payment_reference: str, amount_minor: int, currency: str, *, idempotency_key: str) -> None:
        raise PaymentDeclined("cash is paid back by the clerk at the till, who then says so", field="payment")

    def parse_webhook(self, body: bytes, headers: Mapping[str, str], now: float) -> WebhookEvent:
        raise InvalidSignature("cash is booked at the till; no webhook speaks for it", field="body")


class Gateways:
    """The one `PaymentGateway` the application pays through: cash goes to the drawer, every other method to the
    card gateway; a capture, void or refund goes to the gateway that made its reference (so the sweeper's refunds
    and voids of cash never reach the card gateway); webhooks are the card gateway's (cash has none), so `name` is
    the card gateway's, the one webhooks are delivered under."""

    def __init__(self, card: PaymentGateway, cash: CashDrawer | None = None) -> None:
        self.card = card
        self.cash = cash if cash is not None else CashDrawer()
        self.name = card.name

    def _holder(self, gateway_reference: str) -> PaymentGateway:
        return self.cash if is_cash(gateway_reference) else self.card

    async def authorize(self, *, reference: str, amount_minor: int, currency: str, method: str, token: str | None,
                        idempotency_key: str) -> Authorization:
        gateway = self.cash if method == CASH else self.card
        return await gateway.authorize(reference=reference, amount_minor=amount_minor, currency=currency,
                                       method=method, token=token, idempotency_key=idempotency_key)

    async def capture(self, gateway_reference: str, amount_minor: int, currency: str, *, idempotency_key: str
                      ) -> Capture:
        return await self._holder(gateway_reference).capture(gateway_reference, amount_minor, currency,
                                                             idempotency_key=idempotency_key)

    async def void(self, gateway_reference: str, *, idempotency_key: str) -> None:
        await self._holder(gateway_reference).void(gateway_reference, idempotency_key=idempotency_key)

    async def refund(self, payment_reference: str, amount_minor: int, currency: str, *, idempotency_key: str) -> None:
        await self._holder(payment_reference).refund(payment_reference, amount_minor, currency,
                                                     idempotency_key=idempotency_key)

    def parse_webhook(self, body: bytes, headers: Mapping[str, str], now: float) -> WebhookEvent:
        return self.card.parse_webhook(body, headers, now)

    async def close(self) -> None:
        """Closes the card gateway's HTTP client, if it has one (Stripe)."""
        close = getattr(self.card, "close", None)
        if close is not None:
            await close()
