"""Ledger rules (payments.model): balanced postings, escrow capture / release / refund, fees, conversion, settlement."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from unichannel.errors import InvalidInput, RefundExceedsCaptured
from unichannel.payments import model
from unichannel.payments.model import AccountKey, AccountKind, Conversion, PaymentState, Posting, TransferKind

ESCROW_CNY = model.platform_account(AccountKind.ESCROW, "CNY")
ALICE_CNY = AccountKey(AccountKind.SHOPPER_FUNDING, 7, "CNY")
PAYABLE_CNY = AccountKey(AccountKind.MERCHANT_PAYABLE, 3, "CNY")
FEE_CNY = model.platform_account(AccountKind.FEE_REVENUE, "CNY")
CNY_TO_USD = Conversion("CNY", "USD", Decimal("0.1394740590"), date(2024, 11, 8))


@pytest.mark.parametrize(
    ("debit", "credit", "amount"),
    [
        (ALICE_CNY, ESCROW_CNY, 0),
        (ALICE_CNY, ESCROW_CNY, -5),
        (ALICE_CNY, ALICE_CNY, 5),
        (ALICE_CNY, AccountKey(AccountKind.ESCROW, 0, "USD"), 5),
    ],
    ids=["zero", "negative", "same-account", "two-currencies"],
)
def test_a_posting_moves_a_positive_amount_between_two_accounts_of_one_currency(debit, credit, amount):
    with pytest.raises(ValueError):
        Posting(debit, credit, amount)


def test_capture_moves_the_payment_from_the_shopper_into_escrow():
    transfer = model.capture(order_id=12, customer_id=7, amount_minor=19800, currency="CNY")
    assert transfer.kind is TransferKind.CAPTURE and transfer.order_id == 12
    assert transfer.movement() == {ALICE_CNY: -19800, ESCROW_CNY: 19800}
    assert transfer.net_by_currency() == {"CNY": 0}


@pytest.mark.parametrize(
    ("amount", "basis_points", "fee"),
    [(10000, 500, 500), (19999, 500, 999), (1, 500, 0), (12345, 0, 0), (12345, 10000, 12345), (333, 100, 3)],
    ids=["round", "fraction-stays-with-merchant", "tiny", "no-fee", "all", "one-percent"],
)
def test_the_platform_fee_is_rounded_down_so_the_fraction_stays_with_the_merchant(amount, basis_points, fee):
    assert model.platform_fee(amount, basis_points) == fee


def test_release_pays_the_merchant_what_escrow_holds_minus_the_fee():
    done = model.release(12, 3, held_minor=19999, currency="CNY", fee_basis_points=500)
    assert (done.released_minor, done.merchant_gross_minor, done.fee_minor) == (19999, 19999, 999)
    assert done.transfer.movement() == {ESCROW_CNY: -19999, PAYABLE_CNY: 19000, FEE_CNY: 999}


def test_release_to_a_merchant_in_another_currency_goes_through_the_fx_accounts_at_the_stored_rate():
    done = model.release(12, 3, held_minor=100000, currency="CNY", fee_basis_points=600, conversion=CNY_TO_USD)
    # CNY 1,000.00 * 0.1394740590 = USD 139.474059 -> 13947 cents (half to even); fee 6% rounded down = 836
    assert (done.merchant_gross_minor, done.fee_minor) == (13947, 836)
    assert done.transfer.movement() == {
        ESCROW_CNY: -100000,
        model.platform_account(AccountKind.FX_CONVERSION, "CNY"): 100000,
        model.platform_account(AccountKind.FX_CONVERSION, "USD"): -13947,
        AccountKey(AccountKind.MERCHANT_PAYABLE, 3, "USD"): 13111,
        model.platform_account(AccountKind.FEE_REVENUE, "USD"): 836,
    }
    assert done.transfer.net_by_currency() == {"CNY": 0, "USD": 0}
    assert done.transfer.conversion == CNY_TO_USD


@pytest.mark.parametrize(
    ("amount", "source", "target", "rate", "converted"),
    [
        (100, "CNY", "USD", "0.125", 12),  # 0.125 USD -> 12.5 cents -> half to even: 12
        (300, "CNY", "USD", "0.125", 38),  # 37.5 cents -> 38
        (10000, "CNY", "JPY", "21.35", 2135),  # JPY has no minor unit
        (2135, "JPY", "CNY", "0.0468384075", 10000),
        (1000, "KWD", "CNY", "23.1", 2310),  # KWD has three decimals: 1.000 KWD is CNY 23.10
    ],
    ids=["half-down-to-even", "half-up-to-even", "to-zero-decimals", "from-zero-decimals", "three-decimals"],
)
def test_a_conversion_rounds_half_to_even_in_the_target_currency_minor_unit(amount, source, target, rate, converted):
    assert Conversion(source, target, Decimal(rate), date(2024, 11, 11)).apply(amount) == converted


def _state(**changes) -> PaymentState:
    base = dict(order_id=12, customer_id=7, merchant_id=3, currency="CNY", captured_minor=10000)
    return PaymentState(**(base | changes))


def test_a_refund_before_release_comes_out_of_escrow():
    transfer = model.refund(_state(), 2500)
    assert transfer.movement() == {ESCROW_CNY: -2500, ALICE_CNY: 2500}


def test_a_refund_after_release_comes_out_of_the_merchant_payable_with_the_fee_given_back_in_proportion():
    released = _state(released_minor=10000, merchant_currency="CNY", merchant_gross_minor=10000, fee_minor=500)
    transfer = model.refund(released, 2500)
    assert transfer.movement() == {PAYABLE_CNY: -2375, FEE_CNY: -125, ALICE_CNY: 2500}


@given(st.lists(st.integers(min_value=1, max_value=997), min_size=1, max_size=12), st.integers(0, 10_000),
       st.sampled_from([None, CNY_TO_USD]))
def test_partial_refunds_after_release_give_back_exactly_the_whole_once_everything_is_refunded(
    parts, basis_points, conversion
):
    released_minor = 9973
    currency = conversion.target if conversion else "CNY"
    done = model.release(12, 3, released_minor, "CNY", basis_points, conversion)
    released = dict(captured_minor=released_minor, released_minor=released_minor, merchant_currency=currency,
                    merchant_gross_minor=done.merchant_gross_minor, fee_minor=done.fee_minor, conversion=conversion)
    totals: dict[AccountKey, int] = {}
    refunded = 0
    for part in [*parts, released_minor]:  # the last one refunds whatever is left
        amount = min(part, released_minor - refunded)
        if amount == 0:
            break
        state = _state(**released, refunded_minor=refunded, refunded_after_release_minor=refunded)
        transfer = model.refund(state, amount)
        assert transfer.movement()[ALICE_CNY] == amount  # every refund pays the shopper exactly its amount
        for account, change in transfer.movement().items():
            totals[account] = totals.get(account, 0) + change
        refunded += amount
    merchant_back = -totals.get(AccountKey(AccountKind.MERCHANT_PAYABLE, 3, currency), 0)
    fee_back = -totals.get(model.platform_account(AccountKind.FEE_REVENUE, currency), 0)
    assert merchant_back == done.merchant_gross_minor - done.fee_minor  # the merchant returns exactly what it got
    assert fee_back == done.fee_minor  # and the platform exactly its fee
    assert totals[ALICE_CNY] == released_minor  # the shopper gets back exactly what was paid


@pytest.mark.parametrize(
    ("state", "amount"),
    [(_state(), 10001), (_state(refunded_minor=9000), 1001), (_state(refunded_minor=10000), 1)],
    ids=["more-than-captured", "more-than-left", "fully-refunded"],
)
def test_a_refund_never_exceeds_what_was_captured_and_not_yet_refunded(state, amount):
    with pytest.raises(RefundExceedsCaptured):
        model.refund(state, amount)


@pytest.mark.parametrize("amount", [0, -100], ids=["zero", "negative"])
def test_a_refund_is_a_positive_amount(amount):
    with pytest.raises(InvalidInput):
        model.refund(_state(), amount)


def test_escrow_holds_captured_minus_refunded_until_release_and_nothing_after():
    assert _state(refunded_minor=2500).held_minor == 7500
    assert _state(released_minor=7500, refunded_minor=2500, merchant_currency="CNY").held_minor == 0


@pytest.mark.parametrize(("payable", "paid_out"), [(19000, 19000), (0, None), (-500, None)],
                         ids=["positive-is-paid-out", "zero-is-nothing", "negative-carries-over"])
def test_settlement_pays_out_only_a_positive_payable(payable, paid_out):
    transfer = model.settlement(3, "CNY", payable)
    if paid_out is None:
        assert transfer is None
    else:
        assert transfer.movement() == {PAYABLE_CNY: -paid_out,
                                       AccountKey(AccountKind.MERCHANT_SETTLED, 3, "CNY"): paid_out}


@given(st.integers(1, 10**9), st.sampled_from([3, 6, 12]), st.integers(0, 2000))
def test_an_instalment_schedule_sums_exactly_to_the_total_and_fee_with_the_spare_units_first(total, months, bp):
    schedule = model.instalment_schedule(total, months, bp, date(2026, 11, 11))
    amounts = [i.amount_minor for i in schedule]
    assert sum(amounts) == total + model.instalment_fee(total, bp)
    assert max(amounts) - min(amounts) <= 1 and amounts == sorted(amounts, reverse=True)
    assert [i.number for i in schedule] == list(range(1, months + 1))


def test_instalments_fall_due_monthly_on_the_purchase_day_or_the_end_of_a_shorter_month():
    schedule = model.instalment_schedule(120000, 3, 230, date(2026, 11, 30))
    assert [i.due_on for i in schedule] == [date(2026, 12, 30), date(2027, 1, 30), date(2027, 2, 28)]
    assert model.add_months(date(2027, 12, 31), 2) == date(2028, 2, 29)  # a leap year


@pytest.mark.parametrize("months", [0, 1, 4, 24], ids=["zero", "one", "four", "twenty-four"])
def test_instalments_are_offered_over_3_6_or_12_months_only(months):
    with pytest.raises(InvalidInput):
        model.instalment_schedule(10000, months, 0, date(2026, 11, 11))


@pytest.mark.parametrize(
    ("outstanding", "amount", "reduced"),
    [([100, 100, 100], 150, [100, 50, 0]), ([100, 0, 30], 30, [100, 0, 0]), ([34, 33, 33], 100, [0, 0, 0])],
    ids=["last-first", "skips-paid", "everything"],
)
def test_a_refund_pays_down_the_last_instalments_first(outstanding, amount, reduced):
    assert model.reduce_from_the_end(outstanding, amount) == reduced


def test_an_instalment_plan_lends_the_total_to_the_shopper_and_books_the_fee():
    transfer = model.instalment_plan(12, 7, 100000, 4500, "CNY")
    assert transfer.movement() == {
        AccountKey(AccountKind.INSTALMENT_RECEIVABLE, 7, "CNY"): -104500,
        ALICE_CNY: 100000,
        model.platform_account(AccountKind.INSTALMENT_FEE_REVENUE, "CNY"): 4500,
    }


def test_the_card_gateway_the_settings_name_is_built_behind_the_tills_cash_drawer():
    from unichannel.clock import SystemClock
    from unichannel.payments.cash import CashDrawer, Gateways
    from unichannel.payments.gateway import SimulatedGateway, build_gateway
    from unichannel.payments.stripe import StripeGateway
    from unichannel.settings import Settings

    simulated = build_gateway(Settings(simulated_gateway_latency_ms=250), SystemClock())
    assert isinstance(simulated, Gateways) and isinstance(simulated.cash, CashDrawer)
    assert isinstance(simulated.card, SimulatedGateway) and simulated.card.latency_ms == 250
    stripe = build_gateway(Settings(payment_gateway="stripe", stripe_secret_key="sk_test_x",
                                    stripe_webhook_secret="whsec_x", stripe_publishable_key="pk_test_x"),
                           SystemClock())
    assert isinstance(stripe.card, StripeGateway) and stripe.name == "stripe"  # webhooks come under the card's name
    with pytest.raises(ValueError, match="STRIPE_SECRET_KEY"):
        Settings(payment_gateway="stripe")
    with pytest.raises(ValueError, match="STRIPE_PUBLISHABLE_KEY"):
        Settings(payment_gateway="stripe", stripe_secret_key="sk_test_x", stripe_webhook_secret="whsec_x")


@pytest.mark.parametrize("key", ["sk_test_x", "rk_live_x", "pk_test_"], ids=["secret-key", "restricted-key", "empty"])
def test_only_a_publishable_key_is_taken_for_the_browser(key):
    from unichannel.settings import Settings

    with pytest.raises(ValueError, match="stripe_publishable_key"):
        Settings(stripe_publishable_key=key)
