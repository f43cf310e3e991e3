"""Cash at the till: who may record it, the drawer that takes it without a network, and the router that keeps it
away from the card gateway (and sends every capture, void and refund back to the gateway that made it)."""

from __future__ import annotations

import pytest

from unichannel.access.model import Principal, Role
from unichannel.errors import CashOnlyAtTill, InvalidSignature, PaymentDeclined
from unichannel.payments.cash import CashDrawer, Gateways
from unichannel.payments.gateway import SimulatedGateway
from unichannel.payments.model import check_may_take_cash

STORE_CLERK = Principal(1, Role.CLERK, location_id=7, location_kind="store")
OTHER_STORE_CLERK = Principal(6, Role.CLERK, location_id=9, location_kind="store")
STATION_OPERATOR = Principal(2, Role.CLERK, location_id=8, location_kind="village_station")
MERCHANT_STAFF = Principal(3, Role.MERCHANT, merchant_id=1)
OPERATOR = Principal(4, Role.OPERATOR)
SHOPPER = Principal(5, Role.SHOPPER, customer_id=1)
AT_STORE_7 = {"location_id": 7}  # a till sale of store 7, or a parcel collected there
AT_STATION_8 = {"location_id": 8}
TO_A_HOME = {"location_id": None}


@pytest.mark.parametrize(
    ("principal", "order", "may"),
    [(STORE_CLERK, AT_STORE_7, True), (OTHER_STORE_CLERK, AT_STORE_7, False), (STORE_CLERK, TO_A_HOME, False),
     (MERCHANT_STAFF, AT_STORE_7, False), (OPERATOR, AT_STORE_7, False), (SHOPPER, AT_STORE_7, False),
     (STATION_OPERATOR, AT_STATION_8, False)],
    ids=["clerk-of-its-store", "clerk-of-another-store", "clerk-online-order", "merchant-staff", "operator",
         "shopper", "village-station-operator"],
)
def test_only_the_clerk_of_the_orders_store_records_cash(principal, order, may):
    if may:
        check_may_take_cash(principal, "cash", order)
    else:
        with pytest.raises(CashOnlyAtTill) as refused:
            check_may_take_cash(principal, "cash", order)
        assert (refused.value.status_code, refused.value.code, refused.value.field) == (403, "cash_only_at_till",
                                                                                       "method")
    check_may_take_cash(principal, "card", order)  # any caller may pay by card


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


async def test_the_drawer_never_pays_a_refund_itself_the_clerk_does():
    with pytest.raises(PaymentDeclined):
        await CashDrawer().refund("cash_abc", 3000, "CNY", idempotency_key="refund:4")


async def test_the_router_sends_cash_to_the_drawer_and_nothing_of_it_to_the_card_gateway():
    card = SimulatedGateway()
    gateways = Gateways(card)
    cash = await gateways.authorize(reference="order:1", amount_minor=9900, currency="CNY", method="cash",
                                    token=None, idempotency_key="authorize:1")
    await gateways.capture(cash.gateway_reference, 9900, "CNY", idempotency_key="capture:1")
    with pytest.raises(PaymentDeclined):  # paid back by the clerk, never by a gateway
        await gateways.refund(cash.gateway_reference, 9900, "CNY", idempotency_key="refund:1")
    await gateways.void(cash.gateway_reference, idempotency_key="void:stale:1")
    assert cash.gateway == "cash" and card._authorized == {}
    assert (card.captures, card.refunds, card.voids, card.outbox) == ([], [], [], [])


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


def test_webhooks_are_the_card_gateways_and_the_drawer_has_none():
    card = SimulatedGateway(secret="whsec_test")
    gateways = Gateways(card)
    assert gateways.name == "simulated"
    with pytest.raises(InvalidSignature):
        gateways.parse_webhook(b"{}", {}, now=0)  # read (and refused) by the card gateway: it carries no signature
    with pytest.raises(InvalidSignature):
        gateways.cash.parse_webhook(b"{}", {}, now=0)
