"""Ledger rules: accounts, balanced transfers, escrow capture / release / refund, fees, conversion, settlement.

Pure: no database, HTTP or clock. Every money movement is a `Transfer` of `Posting`s; a posting moves a positive
amount of one currency from a debit account to a credit account, so each posting, and therefore each transfer,
sums to zero per currency by construction (the database holds the same shape). An account's balance is
credits minus debits: positive on accounts that hold money (escrow, a merchant's payable), negative on the
accounts money comes from (a shopper's funding account records what the shopper paid in).

Rounding, documented once:
- a platform fee is `floor(amount * basis_points / 10000)`: any fraction of a minor unit stays with the merchant;
- a conversion is `amount * rate` rounded half-to-even to the target currency's minor unit;
- a partial refund after release gives back shares computed cumulatively, `floor(total_share * refunded_so_far /
  released)` minus what earlier refunds gave back, so the shares of all refunds add up exactly to the whole once
  everything is refunded (no minor unit is ever lost or made between refunds).
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Any

from unichannel.access.model import Principal, Role
from unichannel.errors import CashOnlyAtTill, InvalidInput, RefundExceedsCaptured
from unichannel.money import minor_digits

PLATFORM = 0  # the owner id of the platform's own accounts
CASH = "cash"  # the payment method of notes handed over at a till


class AccountKind(StrEnum):
    SHOPPER_FUNDING = "shopper_funding"  # owner: customer; money the shopper paid in (negative) or got back
    ESCROW = "escrow"  # owner: platform; held for orders until receipt is confirmed
    MERCHANT_PAYABLE = "merchant_payable"  # owner: merchant; released to the merchant, not yet paid out
    MERCHANT_SETTLED = "merchant_settled"  # owner: merchant; paid out by the daily settlement
    FEE_REVENUE = "fee_revenue"  # owner: platform; commission kept on released orders
    INSTALMENT_RECEIVABLE = "instalment_receivable"  # owner: customer; what the shopper still owes on instalments
    INSTALMENT_FEE_REVENUE = "instalment_fee_revenue"  # owner: platform; fees of instalment plans
    FX_CONVERSION = "fx_conversion"  # owner: platform; one per currency: the two sides of every conversion


OWNER_TYPE = {
    AccountKind.SHOPPER_FUNDING: "customer",
    AccountKind.INSTALMENT_RECEIVABLE: "customer",
    AccountKind.MERCHANT_PAYABLE: "merchant",
    AccountKind.MERCHANT_SETTLED: "merchant",
}


def owner_type(kind: AccountKind) -> str:
    return OWNER_TYPE.get(kind, "platform")


CASH_REFERENCE_PREFIX = "cash_"  # no card gateway's reference starts so (Stripe: `pi_`, simulated: `sim_`)


def is_cash(gateway_reference: str) -> bool:
    return gateway_reference.startswith(CASH_REFERENCE_PREFIX)


def pays_back_in_cash(gateway_parts: list[list[Any]] | None) -> bool:
    """Whether a refund (its [[gateway reference, amount], ...]) is notes a store's clerk hands back."""
    return any(is_cash(reference) for reference, _ in gateway_parts or [])


def check_may_take_cash(principal: Principal, method: str, order: Mapping[str, Any]) -> None:
    """Cash is notes handed over a store's counter, so only the clerk of the store an order belongs to (its till
    sale, its pickup) says it was taken, or pays it back. Anyone else declaring cash would have an order marked paid,
    and escrow credited, with no money taken; a village station's operator keeps no till."""
    if method != CASH:
        return
    at_its_till = (principal.role is Role.CLERK and not principal.is_station_operator
                   and principal.location_id is not None and principal.location_id == order["location_id"])
    if not at_its_till:
        raise CashOnlyAtTill("cash is taken and paid back at the till of the order's store, by its clerk; pay by card",
                             field="method")


@dataclass(frozen=True, slots=True, order=True)
class AccountKey:
    kind: AccountKind
    owner_id: int
    currency: str


def platform_account(kind: AccountKind, currency: str) -> AccountKey:
    return AccountKey(kind, PLATFORM, currency)


class TransferKind(StrEnum):
    CAPTURE = "capture"  # a payment arrives: shopper -> escrow
    RELEASE = "release"  # receipt confirmed: escrow -> merchant payable and platform fee
    REFUND = "refund"  # money back to the shopper, from escrow or from the merchant's payable
    SETTLEMENT = "settlement"  # merchant payable -> settled (paid out)
    INSTALMENT_PLAN = "instalment_plan"  # the platform lends: receivable -> escrow (and the plan's fee)
    INSTALMENT_PAYMENT = "instalment_payment"  # the shopper repays: shopper -> receivable


@dataclass(frozen=True, slots=True)
class Posting:
    debit: AccountKey
    credit: AccountKey
    amount_minor: int

    def __post_init__(self) -> None:
        if self.amount_minor <= 0:
            raise ValueError(f"a posting moves a positive amount, not {self.amount_minor}")
        if self.debit.currency != self.credit.currency:
            raise ValueError("a posting stays in one currency; conversions go through the fx accounts")
        if self.debit == self.credit:
            raise ValueError("a posting moves money between two different accounts")

    @property
    def currency(self) -> str:
        return self.debit.currency


@dataclass(frozen=True, slots=True)
class Conversion:
    """The rate used to convert, and the date of the reference rate (stored on the transfer)."""

    source: str
    target: str
    rate: Decimal
    rate_date: date

    def apply(self, amount_minor: int) -> int:
        """`amount_minor` of the source currency in minor units of the target, rounded half to even."""
        major = Decimal(amount_minor).scaleb(-minor_digits(self.source)) * self.rate
        return int(major.scaleb(minor_digits(self.target)).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


@dataclass(frozen=True, slots=True)
class Transfer:
    kind: TransferKind
    postings: tuple[Posting, ...]
    order_id: int | None = None
    conversion: Conversion | None = None
    note: str = ""

    def net_by_currency(self) -> dict[str, int]:
        """Sum of the transfer's entries per currency: always zero (each posting nets itself out)."""
        net: dict[str, int] = {}
        for account, change in self.movement().items():
            net[account.currency] = net.get(account.currency, 0) + change
        return net

    def movement(self) -> dict[AccountKey, int]:
        """How much each touched account's balance changes (credit +, debit -)."""
        change: dict[AccountKey, int] = {}
        for posting in self.postings:
            change[posting.debit] = change.get(posting.debit, 0) - posting.amount_minor
            change[posting.credit] = change.get(posting.credit, 0) + posting.amount_minor
        return change


def _postings(*legs: tuple[AccountKey, AccountKey, int]) -> tuple[Posting, ...]:
    """Postings of the legs with a positive amount (a zero fee, say, is no posting at all). A negative leg is a bug
    in a rule, never silently dropped."""
    if any(amount < 0 for _, _, amount in legs):
        raise ValueError(f"a leg with a negative amount: {legs}")
    return tuple(Posting(debit, credit, amount) for debit, credit, amount in legs if amount > 0)


def platform_fee(amount_minor: int, basis_points: int) -> int:
    """The platform's commission on a released amount, rounded down (the fraction stays with the merchant)."""
    if not 0 <= basis_points <= 10_000:
        raise ValueError("a fee rate is between 0 and 10,000 basis points")
    return amount_minor * basis_points // 10_000


def share(total: int, part: int, whole: int) -> int:
    """floor(total * part / whole): the cumulative share of `total` that `part` of `whole` stands for."""
    return total * part // whole if whole else 0


def capture(order_id: int, customer_id: int, amount_minor: int, currency: str) -> Transfer:
    """A captured payment moves from the shopper into escrow, where it stays until receipt is confirmed."""
    shopper = AccountKey(AccountKind.SHOPPER_FUNDING, customer_id, currency)
    escrow = platform_account(AccountKind.ESCROW, currency)
    return Transfer(TransferKind.CAPTURE, _postings((shopper, escrow, amount_minor)), order_id=order_id)


@dataclass(frozen=True, slots=True)
class Release:
    """What a release did, kept on the payment so later refunds can reverse it exactly."""

    transfer: Transfer
    released_minor: int  # in the order's currency: what left escrow
    merchant_gross_minor: int  # in the merchant's currency, before the fee
    fee_minor: int  # in the merchant's currency


def release(
    order_id: int, merchant_id: int, held_minor: int, currency: str, fee_basis_points: int,
    conversion: Conversion | None = None,
) -> Release:
    """Receipt confirmed: what the order still holds in escrow goes to the merchant's payable minus the platform fee,
    converted to the merchant's currency when it differs (through the fx accounts, at the stored rate)."""
    if held_minor <= 0:
        raise ValueError("nothing is held in escrow for this order")
    escrow = platform_account(AccountKind.ESCROW, currency)
    target = conversion.target if conversion else currency
    if conversion is not None and conversion.source != currency:
        raise ValueError("the conversion must start from the order's currency")
    gross = conversion.apply(held_minor) if conversion else held_minor
    fee = platform_fee(gross, fee_basis_points)
    payable = AccountKey(AccountKind.MERCHANT_PAYABLE, merchant_id, target)
    revenue = platform_account(AccountKind.FEE_REVENUE, target)
    if conversion is None or conversion.target == currency:
        legs = _postings((escrow, payable, gross - fee), (escrow, revenue, fee))
    else:
        fx_in = platform_account(AccountKind.FX_CONVERSION, currency)
        fx_out = platform_account(AccountKind.FX_CONVERSION, target)
        legs = _postings((escrow, fx_in, held_minor), (fx_out, payable, gross - fee), (fx_out, revenue, fee))
    transfer = Transfer(TransferKind.RELEASE, legs, order_id=order_id, conversion=conversion)
    return Release(transfer, held_minor, gross, fee)


@dataclass(frozen=True, slots=True)
class PaymentState:
    """The money of one order's payment, in the order's currency unless noted."""

    order_id: int
    customer_id: int
    merchant_id: int
    currency: str
    captured_minor: int
    refunded_minor: int = 0  # refunded so far (before and after release)
    released_minor: int = 0  # what left escrow at release; 0 while held
    refunded_after_release_minor: int = 0
    merchant_currency: str | None = None  # set at release
    merchant_gross_minor: int = 0  # set at release, merchant currency
    fee_minor: int = 0  # set at release, merchant currency
    conversion: Conversion | None = None

    @property
    def is_released(self) -> bool:
        return self.merchant_currency is not None

    @property
    def refundable_minor(self) -> int:
        return self.captured_minor - self.refunded_minor

    @property
    def held_minor(self) -> int:
        """What escrow holds for this order: captured minus refunded, until released; then nothing."""
        return 0 if self.is_released else self.captured_minor - self.refunded_minor


def refund(state: PaymentState, amount_minor: int) -> Transfer:
    """Money back to the shopper: out of escrow before release; after release out of the merchant's payable, with
    the platform giving back its fee in proportion (cumulative shares: see the module's rounding note)."""
    if amount_minor <= 0:
        raise InvalidInput("a refund is a positive amount", field="amount_minor")
    if amount_minor > state.refundable_minor:
        raise RefundExceedsCaptured(
            f"at most {state.refundable_minor} can still be refunded of {state.captured_minor} captured",
            field="amount_minor",
        )
    shopper = AccountKey(AccountKind.SHOPPER_FUNDING, state.customer_id, state.currency)
    if not state.is_released:
        escrow = platform_account(AccountKind.ESCROW, state.currency)
        return Transfer(TransferKind.REFUND, _postings((escrow, shopper, amount_minor)), order_id=state.order_id)
    before, after = state.refunded_after_release_minor, state.refunded_after_release_minor + amount_minor
    released, net = state.released_minor, state.merchant_gross_minor - state.fee_minor
    # Cumulative shares of what the merchant kept and of the fee: each never decreases, so every leg is >= 0, and
    # over all refunds they add up exactly to what the release paid out.
    merchant_back = share(net, after, released) - share(net, before, released)
    fee_back = share(state.fee_minor, after, released) - share(state.fee_minor, before, released)
    target = state.merchant_currency or state.currency
    payable = AccountKey(AccountKind.MERCHANT_PAYABLE, state.merchant_id, target)
    revenue = platform_account(AccountKind.FEE_REVENUE, target)
    if target == state.currency:
        # No conversion: the shopper gets exactly the amount; the fee's share is given back, the merchant the rest.
        legs = _postings((payable, shopper, amount_minor - fee_back), (revenue, shopper, fee_back))
    else:
        fx_merchant = platform_account(AccountKind.FX_CONVERSION, target)
        fx_order = platform_account(AccountKind.FX_CONVERSION, state.currency)
        legs = _postings((payable, fx_merchant, merchant_back), (revenue, fx_merchant, fee_back),
                         (fx_order, shopper, amount_minor))
    return Transfer(TransferKind.REFUND, legs, order_id=state.order_id, conversion=state.conversion)


def settlement(merchant_id: int, currency: str, payable_minor: int) -> Transfer | None:
    """A merchant's positive payable is paid out; a negative one (refunds after a payout) carries over."""
    if payable_minor <= 0:
        return None
    payable = AccountKey(AccountKind.MERCHANT_PAYABLE, merchant_id, currency)
    settled = AccountKey(AccountKind.MERCHANT_SETTLED, merchant_id, currency)
    return Transfer(TransferKind.SETTLEMENT, _postings((payable, settled, payable_minor)))


# --- instalments --------------------------------------------------------------------------------------------------

INSTALMENT_MONTHS = (3, 6, 12)


@dataclass(frozen=True, slots=True)
class Instalment:
    number: int  # 1-based
    due_on: date
    amount_minor: int


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or the last day of that month when it is shorter (31 Jan + 1 month = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def instalment_fee(total_minor: int, basis_points: int) -> int:
    """The plan's fee on the amount financed, rounded down."""
    return total_minor * basis_points // 10_000


def instalment_schedule(total_minor: int, months: int, fee_basis_points: int, bought_on: date) -> list[Instalment]:
    """Monthly instalments of the total plus the fee, due from one month after purchase.

    Rounding: the amount (total + fee) is divided evenly; the minor units left over go one each to the first
    instalments, so the schedule sums exactly to total + fee and no two instalments differ by more than one unit.
    """
    if months not in INSTALMENT_MONTHS:
        raise InvalidInput(f"instalments are offered over {', '.join(map(str, INSTALMENT_MONTHS))} months",
                           field="months")
    if total_minor <= 0:
        raise InvalidInput("nothing to pay in instalments", field="total_minor")
    owed = total_minor + instalment_fee(total_minor, fee_basis_points)
    base, extra = divmod(owed, months)
    return [Instalment(n, add_months(bought_on, n), base + (1 if n <= extra else 0)) for n in range(1, months + 1)]


def reduce_from_the_end(outstanding: list[int], amount_minor: int) -> list[int]:
    """Unpaid instalment amounts after a refund of `amount_minor` is taken off them, last instalment first (the
    shopper's next payments stay as they were for as long as possible)."""
    left = amount_minor
    reduced = list(outstanding)
    for index in range(len(reduced) - 1, -1, -1):
        taken = min(left, reduced[index])
        reduced[index] -= taken
        left -= taken
    if left:
        raise ValueError("the reduction is larger than what is outstanding")
    return reduced


def instalment_plan(order_id: int, customer_id: int, total_minor: int, fee_minor: int, currency: str) -> Transfer:
    """The platform lends the shopper the order's total (which then pays the order like any payment) and books the
    plan's fee; the shopper's receivable account carries what they owe (a negative balance)."""
    receivable = AccountKey(AccountKind.INSTALMENT_RECEIVABLE, customer_id, currency)
    shopper = AccountKey(AccountKind.SHOPPER_FUNDING, customer_id, currency)
    revenue = platform_account(AccountKind.INSTALMENT_FEE_REVENUE, currency)
    return Transfer(TransferKind.INSTALMENT_PLAN,
                    _postings((receivable, shopper, total_minor), (receivable, revenue, fee_minor)), order_id=order_id)


def instalment_payment(order_id: int, customer_id: int, amount_minor: int, currency: str, note: str = "") -> Transfer:
    """Money from the shopper (or from a refund owed to them) pays down what they owe."""
    shopper = AccountKey(AccountKind.SHOPPER_FUNDING, customer_id, currency)
    receivable = AccountKey(AccountKind.INSTALMENT_RECEIVABLE, customer_id, currency)
    return Transfer(TransferKind.INSTALMENT_PAYMENT, _postings((shopper, receivable, amount_minor)),
                    order_id=order_id, note=note)


def refund_offset(order_id: int, customer_id: int, currency: str, fee_back_minor: int, offset_minor: int) -> Transfer:
    """After a refund of an instalment order: the plan's fee gives back its share to the shopper, and what the
    shopper is owed pays down their debt (the rest, if any, is paid back by the gateway)."""
    shopper = AccountKey(AccountKind.SHOPPER_FUNDING, customer_id, currency)
    receivable = AccountKey(AccountKind.INSTALMENT_RECEIVABLE, customer_id, currency)
    revenue = platform_account(AccountKind.INSTALMENT_FEE_REVENUE, currency)
    return Transfer(TransferKind.INSTALMENT_PAYMENT,
                    _postings((revenue, shopper, fee_back_minor), (shopper, receivable, offset_minor)),
                    order_id=order_id, note="paid by a refund")
