"""Every error a client can see, named after its condition, with its HTTP status and a stable machine code.

This is the one list of error codes; the API turns each into JSON `{code, message, field}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

E = TypeVar("E")


class DomainError(Exception):
    """`message` is English, for the API and the logs; `details` carries the figures and names in it (a count, a SKU),
    so a page can say the same in the reader's language without parsing the English (pages/text.py `error_text`)."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None,
                 details: Mapping[str, str | int] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details: dict[str, str | int] = dict(details or {})


class MalformedJson(DomainError):
    status_code = 400
    code = "malformed_json"


class PayloadTooLarge(DomainError):
    status_code = 413
    code = "payload_too_large"


class InvalidInput(DomainError):
    status_code = 422
    code = "invalid_input"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Unauthenticated(DomainError):
    status_code = 401
    code = "unauthenticated"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class AlreadyExists(Conflict):
    code = "already_exists"


class AmbiguousCode(Conflict):
    code = "ambiguous_code"


class InsufficientStock(Conflict):
    """Fewer units are available than asked for (on hand minus reserved minus safety stock)."""

    code = "insufficient_stock"


class SoldOut(Conflict):
    """No location the order may be served from has the units: the buyer gets a definite no."""

    code = "sold_out"


class NotStarted(Conflict):
    """The sale has not opened yet."""

    code = "not_started"


class NotParticipating(Conflict):
    """This store does not take part in the sale."""

    code = "not_participating"


class LimitExceeded(Conflict):
    """The buyer already has as many units of this sale as one customer may buy."""

    code = "limit_exceeded"


class CannotFulfil(Conflict):
    """No location this delivery promise may come from has the units (or, for a promise that cannot be split, no
    single one has them all)."""

    code = "cannot_fulfil"


class ExpiredStock(Conflict):
    """Packing would need units past their best-before date: fresh produce is never sent expired."""

    code = "expired_stock"


class WrongPickupCode(DomainError):
    """The code given at a pickup counter is not the parcel's: the parcel stays where it is."""

    status_code = 422
    code = "wrong_pickup_code"


class ReturnWindowClosed(Conflict):
    code = "return_window_closed"


class ReservationExpired(Conflict):
    code = "reservation_expired"


class IllegalTransition(Conflict):
    code = "illegal_transition"


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"


class EmptyCart(Conflict):
    code = "empty_cart"


class PriceUnavailable(Conflict):
    code = "price_unavailable"


class CurrencyMismatch(DomainError):
    status_code = 422
    code = "currency_mismatch"


class PaymentDeclined(DomainError):
    status_code = 402
    code = "payment_declined"


class CashOnlyAtTill(Forbidden):
    """Only staff (a store's clerk at the till, merchant staff, an operator) record that an order was paid in cash."""

    code = "cash_only_at_till"


class RefundExceedsCaptured(Conflict):
    """A refund larger than what was captured and not yet refunded (design invariant 6)."""

    code = "refund_exceeds_captured"


class AlreadyCaptured(Conflict):
    """The order's payment was captured already: money is taken once."""

    code = "already_captured"


class PaymentInProgress(Conflict):
    """Another payment of this order is authorized or captured; this one was released (nothing taken)."""

    code = "payment_in_progress"


class InvalidSignature(DomainError):
    """A webhook whose signature is missing, wrong or too old: it is not from the gateway, or is a replay."""

    status_code = 400
    code = "invalid_signature"


class UnknownPayment(Conflict):
    """A gateway reported on a payment this platform has not recorded yet; the gateway retries later."""

    code = "unknown_payment"


class ServiceUnavailable(DomainError):
    status_code = 503
    code = "service_unavailable"


class GatewayUnavailable(ServiceUnavailable):
    """The payment gateway did not answer; nothing was charged. Retry with the same Idempotency-Key."""

    code = "gateway_unavailable"


class BatchFailed(ServiceUnavailable):
    """The coalesced transaction this request was part of failed; nothing of it was written. Retry."""

    code = "batch_failed"


ALL_ERRORS: tuple[type[DomainError], ...] = (
    DomainError,
    MalformedJson,
    InvalidInput,
    NotFound,
    Unauthenticated,
    Forbidden,
    Conflict,
    AlreadyExists,
    AmbiguousCode,
    InsufficientStock,
    SoldOut,
    NotStarted,
    LimitExceeded,
    NotParticipating,
    ReservationExpired,
    CannotFulfil,
    IllegalTransition,
    IdempotencyKeyReused,
    EmptyCart,
    PriceUnavailable,
    CurrencyMismatch,
    PaymentDeclined,
    CashOnlyAtTill,
    RefundExceedsCaptured,
    AlreadyCaptured,
    PaymentInProgress,
    InvalidSignature,
    UnknownPayment,
    ServiceUnavailable,
    GatewayUnavailable,
    BatchFailed,
)


def parse_choice(choices: type[E], value: object, field: str) -> E:
    """The enum member named by `value`, or InvalidInput listing the choices."""
    try:
        return choices(value)  # type: ignore[call-arg]
    except ValueError:
        names = ", ".join(str(getattr(c, "value", c)) for c in choices)  # type: ignore[attr-defined]
        raise InvalidInput(f"{value!r} is not one of: {names}", field=field) from None
