"""Cash at the till: who may record it, the drawer that takes it without a network, and the router that keeps it
away from the card gateway (and sends every capture, void and refund back to the gateway that made it)."""

from __future__ import annotations

import pytest

from unichannel.access.model import Principal, Role
from unichannel.errors import CashOnlyAtTill, InvalidSignature, PaymentDeclined
from unichannel.payments.cash import CashDrawer, CashPayout, Gateways
from unichannel.payments.gateway import SimulatedGateway
from unichannel.payments.model import check_may_take_cash

STORE_CLERK = Principal(1, Role.CLERK, location_id=7, location_kind="store")
STATION_OPERATOR = Principal(2, Role.CLERK, location_id=8, location_kind="village_station")
MERCHANT_STAFF = Principal(3, Role.MERCHANT, merchant_id=1)
OPERATOR = Principal(4, Role.OPERATOR)
SHOPPER = Principal(5, Role.SHOPPER, customer_id=1)


@pytest.mark.parametrize(
    ("principal", "may"),
    [(STORE_CLERK, True), (MERCHANT_STAFF, True), (OPERATOR, True), (SHOPPER, False), (STATION_OPERATOR, False)],
    ids=["store-clerk", "merchant-console", "operator", "shopper", "village-station-operator"],
)
def test_only_staff_at_a_till_or_the_console_record_cash(principal, may):
    if may:
        check_may_take_cash(principal, "cash")
    else:
        with pytest.raises(CashOnlyAtTill) as refused:
            check_may_take_cash(principal, "cash")
        assert (refused.value.status_code, refused.value.code, refused.value.field) == (403, "cash_only_at_till",
                                                                                       "method")
    check_may_take_cash(principal, "card")  # any caller may pay by card


async def test_the_drawer_takes_cash_at_once_under_a_reference_its_key_names():
    drawer = CashDrawer()
    first = await drawer.authorize(reference="order:1", amount_minor=9900, currency="CNY", method="cash", token=None,
                                   idempotency_key="authorize:order:1:k")
    again = await drawer.authorize(reference="order:1", amount_minor=9900, currency="CNY", method="cash", token=None,
                                   idempotency_key="authorize:order:1:k")
    other = await drawer.authorize(reference="order:1", amount_minor=9900, currency="CNY", method="cash", token=None,
                                   idempotency_key="authorize:order:1:k2")
    assert first == again and first.gateway_reference != other.gateway_reference
    assert first.gateway_reference.startswith("cash_") and (first.amount_minor, first.currency, first.gateway) == (
        9900, "CNY", "cash")
    captured = await drawer.capture(first.gateway_reference, 9900, "CNY", idempotency_key="capture:order:1:k")
    assert (captured.payment_reference, captured.amount_minor, captured.currency) == (first.gateway_reference, 9900,
                                                                                      "CNY")
    with pytest.raises(PaymentDeclined):
        await drawer.authorize(reference="order:1", amount_minor=9900, currency="CNY", method="card",
                               token="tok_visa", idempotency_key="k3")


async def test_a_cash_refund_is_recorded_once_as_cash_to_pay_back_at_the_till():
    drawer = CashDrawer()
    await drawer.refund("cash_abc", 3000, "CNY", idempotency_key="refund:4")
    await drawer.refund("cash_abc", 3000, "CNY", idempotency_key="refund:4")  # the sweeper retrying
    await drawer.refund("cash_abc", 1000, "CNY", idempotency_key="refund:5")
    assert drawer.payouts == [CashPayout("cash_abc", 3000, "CNY", "refund:4"),
                              CashPayout("cash_abc", 1000, "CNY", "refund:5")]


async def test_the_router_sends_cash_to_the_drawer_and_nothing_of_it_to_the_card_gateway():
    card = SimulatedGateway()
    gateways = Gateways(card)
    cash = await gateways.authorize(reference="order:1", amount_minor=9900, currency="CNY", method="cash",
                                    token=None, idempotency_key="authorize:1")
    await gateways.capture(cash.gateway_reference, 9900, "CNY", idempotency_key="capture:1")
    await gateways.refund(cash.gateway_reference, 9900, "CNY", idempotency_key="refund:1")
    await gateways.void(cash.gateway_reference, idempotency_key="void:stale:1")
    assert cash.gateway == "cash" and card._authorized == {}
    assert (card.captures, card.refunds, card.voids, card.outbox) == ([], [], [], [])
    assert gateways.cash.payouts == [CashPayout(cash.gateway_reference, 9900, "CNY", "refund:1")]


async def test_the_router_sends_cards_and_their_captures_voids_and_refunds_to_the_card_gateway():
    card = SimulatedGateway()
    gateways = Gateways(card)
    held = await gateways.authorize(reference="order:2", amount_minor=4550, currency="CNY", method="card",
                                    token="tok_visa", idempotency_key="authorize:2")
    await gateways.capture(held.gateway_reference, 4550, "CNY", idempotency_key="capture:2")
    await gateways.refund(held.gateway_reference, 1000, "CNY", idempotency_key="refund:2")
    other = await gateways.authorize(reference="order:3", amount_minor=100, currency="CNY", method="wallet",
                                     token=None, idempotency_key="authorize:3")
    await gateways.void(other.gateway_reference, idempotency_key="void:3")
    assert (held.gateway, other.gateway) == ("simulated", "simulated")
    assert [c.payment_reference for c in card.captures] == [held.gateway_reference]
    assert card.refunds == [(held.gateway_reference, 1000, "CNY")] and card.voids == [other.gateway_reference]
    assert gateways.cash.payouts == []


def test_webhooks_are_the_card_gateways_and_the_drawer_has_none():
    card = SimulatedGateway(secret="whsec_test")
    gateways = Gateways(card)
    assert gateways.name == "simulated"
    with pytest.raises(InvalidSignature):
        gateways.parse_webhook(b"{}", {}, now=0)  # read (and refused) by the card gateway: it carries no signature
    with pytest.raises(InvalidSignature):
        gateways.cash.parse_webhook(b"{}", {}, now=0)
