"""Demo orders that put money in every part of the ledger: an order released to a brand, one released to the overseas
brand in US dollars at the ECB rate, one held in escrow with a partial refund, and one paid in six instalments.

Everything goes through the same use cases as the API (cart, place, pay through the simulated gateway, ship,
confirm receipt, refund), so the demo ledger obeys every rule `unichannel check` verifies.
"""

from __future__ import annotations

from dataclasses import dataclass

from unichannel.access.model import Principal, Role
from unichannel.catalog import repository as catalog_repository
from unichannel.catalog.model import Channel
from unichannel.checkout import service as cart
from unichannel.customers import service as customers
from unichannel.demo import world
from unichannel.orders import service as orders
from unichannel.orders.model import Address, DeliveryChoice, DeliveryMode, OrderStatus
from unichannel.payments import service as payments
from unichannel.payments.gateway import PaymentGateway
from unichannel.uow import UnitOfWorkFactory

OPERATOR = Principal(token_id=0, role=Role.OPERATOR)  # the demo's own hand: no token is issued for it


@dataclass(frozen=True, slots=True)
class DemoPurchase:
    member: int  # index into world.members()
    merchant: str
    months: int | None = None  # paid in instalments over this many months
    confirmed: bool = False  # shipped, delivered and receipt confirmed: the escrow is released
    refund_minor: int = 0  # refunded in part by the merchant's side, while still in escrow


PURCHASES = (
    DemoPurchase(0, "woo-apparel", confirmed=True),
    DemoPurchase(1, "saleor-goods", confirmed=True),
    DemoPurchase(2, "woo-apparel", refund_minor=1000),
    DemoPurchase(3, "woo-apparel", months=6),
)


async def seed_purchases(uow_factory: UnitOfWorkFactory, gateway: PaymentGateway) -> int:
    """Makes the demo purchases; returns how many orders they placed."""
    placed = 0
    for purchase in PURCHASES:
        member = world.members()[purchase.member]
        async with uow_factory() as uow:
            customer = await customers.lookup(uow, phone=member.phone, email=None if member.phone else member.email)
            shopper = Principal(token_id=0, role=Role.SHOPPER, customer_id=customer["id"])
            merchant = await catalog_repository.get_merchant_by_slug(uow.conn, purchase.merchant)
            variant = await _first_variant_with_a_cny_price(uow, merchant["id"])
            await cart.add_item(uow, customer["id"], variant, 1, added_via=Channel.ONLINE, channel=Channel.ONLINE)
            address = Address(name=member.name, phone=member.phone or "", line1="1 Demo Road", city="Hangzhou",
                              latitude=30.27, longitude=120.15)
            _, [order_id] = await orders.place_orders(uow, shopper, customer["id"],
                                                      DeliveryChoice(DeliveryMode.HOME_DELIVERY, address=address))
        placed += 1
        method = "instalments" if purchase.months else "card"
        await orders.pay(uow_factory, gateway, shopper, order_id, method=method, token=None, months=purchase.months)
        if purchase.confirmed:
            for step in (OrderStatus.ALLOCATED, OrderStatus.SHIPPED, OrderStatus.DELIVERED):
                async with uow_factory() as uow:
                    await orders.move(uow, OPERATOR, order_id, step)
            async with uow_factory() as uow:
                await orders.move(uow, shopper, order_id, OrderStatus.COMPLETED, note="arrived, thank you")
        if purchase.refund_minor:
            async with uow_factory() as uow:
                order = await orders.visible_order(uow, OPERATOR, order_id)
                await payments.refund(uow, order, purchase.refund_minor, reason="a button was missing",
                                      actor="demo:operator")
            await payments.pay_back_processing_refunds(uow_factory, gateway)
    return placed


async def _first_variant_with_a_cny_price(uow, merchant_id: int) -> dict:  # noqa: ANN001
    products = await catalog_repository.search_products(
        uow.conn, text=None, category_ids=None, merchant_id=merchant_id, only_active=True, limit=50, offset=0)
    variants = await catalog_repository.variants_of(uow.conn, [p["id"] for p in products])
    prices = await cart.prices_by_variant(uow, [v["id"] for v in variants])
    for variant in sorted(variants, key=lambda v: v["id"]):
        if ("online", "CNY") in prices.get(variant["id"], {}) and variant["is_active"]:
            return variant
    raise LookupError(f"merchant {merchant_id} sells nothing priced online in CNY")
