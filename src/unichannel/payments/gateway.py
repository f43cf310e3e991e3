"""Payment gateways: the network side of paying. The ledger (payments.model) records what the gateway did.

`SimulatedGateway` is built in for the demo and tests: it captures everything except the test card tokens that are
documented to decline, and it is deterministic (the same reference gives the same payment id).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

from unichannel.errors import PaymentDeclined

DECLINING_TOKENS = frozenset({"tok_decline", "tok_insufficient_funds"})


@dataclass(frozen=True, slots=True)
class Capture:
    payment_reference: str
    amount_minor: int
    currency: str


class PaymentGateway(Protocol):
    async def capture(self, reference: str, amount_minor: int, currency: str, method: str, token: str | None) -> Capture:
        ...

    async def refund(self, payment_reference: str, amount_minor: int, currency: str, *, idempotency_key: str) -> None:
        """Pays money back; the same `idempotency_key` twice pays once."""
        ...


class SimulatedGateway:
    name = "simulated"

    def __init__(self) -> None:
        self.captures: list[Capture] = []
        self.refunds: list[tuple[str, int, str]] = []
        self._refund_keys: set[str] = set()

    async def capture(self, reference: str, amount_minor: int, currency: str, method: str, token: str | None) -> Capture:
        if token in DECLINING_TOKENS:
            raise PaymentDeclined(f"the card was declined ({token.removeprefix('tok_')})", field="token")
        payment_id = "sim_" + hashlib.sha256(f"{reference}:{amount_minor}:{currency}".encode()).hexdigest()[:20]
        capture = Capture(payment_id, amount_minor, currency)
        self.captures.append(capture)
        return capture

    async def refund(self, payment_reference: str, amount_minor: int, currency: str, *, idempotency_key: str) -> None:
        if idempotency_key in self._refund_keys:
            return
        self._refund_keys.add(idempotency_key)
        self.refunds.append((payment_reference, amount_minor, currency))
