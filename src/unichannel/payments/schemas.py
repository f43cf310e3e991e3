"""Payment, refund, ledger and settlement request and response models.

Every amount is integer minor units plus its currency, with `display` formatted for the requested locale.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from unichannel.api_types import StrictModel
from unichannel.money import Money

MAX_MINOR = 10**15


class AmountOut(BaseModel):
    amount_minor: int
    currency: str
    display: str

    @classmethod
    def of(cls, amount_minor: int, currency: str, locale: str) -> AmountOut:
        return cls(amount_minor=amount_minor, currency=currency, display=Money(amount_minor, currency).localized(locale))


class RefundIn(StrictModel):
    amount_minor: int = Field(gt=0, le=MAX_MINOR, strict=True, description="in the order's currency, minor units")
    reason: str = Field(default="", max_length=200)


class RefundOut(BaseModel):
    id: int
    order_id: int
    amount: AmountOut
    reason: str
    status: str
    requested_by: str
    decided_by: str | None
    created_at: datetime
    updated_at: datetime


class EntryOut(BaseModel):
    debit: str  # kind:owner_id
    credit: str
    amount: AmountOut


class TransferOut(BaseModel):
    id: int
    kind: str
    reference: str
    fx_rate: str | None
    fx_rate_date: date | None
    created_at: datetime
    entries: list[EntryOut]


class PaymentOut(BaseModel):
    order_id: int
    status: str
    method: str
    gateway: str
    gateway_reference: str
    captured: AmountOut
    refunded: AmountOut
    held_in_escrow: AmountOut
    released_at: datetime | None
    released: AmountOut | None  # in the merchant's currency, before the fee
    fee: AmountOut | None
    fx_rate: str | None
    fx_rate_date: date | None
    refunds: list[RefundOut]
    transfers: list[TransferOut]


class AccountOut(BaseModel):
    id: int
    kind: str
    owner_type: str
    owner_id: int
    balance: AmountOut


class SettlementOut(BaseModel):
    merchant_id: int
    business_date: date
    cutoff_at: datetime
    carried_over: AmountOut
    released: AmountOut
    fee: AmountOut
    refunded: AmountOut
    payout: AmountOut


class WebhookOut(BaseModel):
    event_id: str
    outcome: str  # captured, voided, refunded, duplicate, ignored


class InstalmentOut(BaseModel):
    number: int
    due_on: date
    amount: AmountOut  # owed for this instalment (lower than scheduled once a refund paid part of it)
    paid: AmountOut
    paid_at: datetime | None
    is_late: bool


class PlanOut(BaseModel):
    id: int
    order_id: int
    status: str  # active, overdue, paid_off
    months: int
    total: AmountOut
    fee: AmountOut
    owed: AmountOut
    instalments: list[InstalmentOut]


class RepayIn(StrictModel):
    early: bool = Field(default=False, description="pay everything still owed now, instead of the next instalment")
    method: str = Field(default="card", pattern=r"^(card|wallet)$")
    token: str | None = Field(default=None, max_length=200)
