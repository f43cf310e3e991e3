"""Cart use cases: the one cart a member has on the web, the phone and at the till."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from unichannel.catalog import repository as catalog_repository
from unichannel.catalog.model import Channel, choose_price, parse_scan_payload
from unichannel.checkout import repository
from unichannel.checkout.model import PricedCart, merged_quantity, price_cart
from unichannel.customers import repository as customers_repository
from unichannel.errors import AmbiguousCode, InvalidInput, NotFound, PriceUnavailable
from unichannel.inventory import repository as inventory_repository
from unichannel.inventory.model import check_quantity
from unichannel.money import check_currency
from unichannel.uow import UnitOfWork


@dataclass(slots=True)
class CartView:
    cart: dict[str, Any]
    priced: PricedCart


async def prices_by_variant(uow: UnitOfWork, variant_ids: list[int]) -> dict[int, dict[tuple[str, str], int]]:
    table: dict[int, dict[tuple[str, str], int]] = {}
    for row in await catalog_repository.prices_of(uow.conn, variant_ids):
        table.setdefault(row["variant_id"], {})[(row["channel"], row["currency"])] = row["amount_minor"]
    return table


async def _cart(uow: UnitOfWork, customer_id: int) -> dict[str, Any]:
    if await customers_repository.get_customer(uow.conn, customer_id) is None:
        raise NotFound("no such member", field="customer_id")
    return await repository.get_or_create_cart(uow.conn, customer_id, uow.settings.default_currency, uow.now())


async def view(uow: UnitOfWork, customer_id: int, channel: Channel) -> CartView:
    """The member's cart priced by the server for the channel asking (web/phone or a store till)."""
    cart = await _cart(uow, customer_id)
    items = await repository.cart_items(uow.conn, cart["id"])
    prices = await prices_by_variant(uow, [i.variant_id for i in items])
    return CartView(cart, price_cart(items, prices, cart["currency"], channel))


async def resolve_variant(
    uow: UnitOfWork, *, sku: str | None, merchant_slug: str | None, code: str | None
) -> dict[str, Any]:
    """The SKU meant by a SKU (+ merchant), a scanned QR payload, or a barcode; one, or a clear error."""
    if code is not None:
        scanned = parse_scan_payload(code)
        if scanned.variant_id is not None:
            variant = await catalog_repository.get_variant(uow.conn, scanned.variant_id)
            if variant is None:
                raise NotFound("this QR code names a product that does not exist", field="code")
            return variant
        matches = await catalog_repository.find_variants_by_code(uow.conn, scanned.text or "")
        field = "code"
    elif sku is not None:
        if merchant_slug is not None:
            merchant = await catalog_repository.get_merchant_by_slug(uow.conn, merchant_slug)
            variant = merchant and await catalog_repository.get_variant_by_sku(uow.conn, merchant["id"], sku)
            matches = [variant] if variant else []
        else:
            matches = [v for v in await catalog_repository.find_variants_by_code(uow.conn, sku) if v["sku"] == sku]
        field = "sku"
    else:
        raise InvalidInput("give a sku or a scanned code", field="sku")
    if not matches:
        raise NotFound("no product has this SKU or barcode", field=field)
    if len(matches) > 1:
        raise AmbiguousCode("several merchants use this code; say which merchant", field="merchant")
    return matches[0]


async def add_item(
    uow: UnitOfWork,
    customer_id: int,
    variant: dict[str, Any],
    quantity: int,
    *,
    added_via: Channel,
    channel: Channel,
    location_id: int | None = None,
) -> CartView:
    """Puts a SKU in the member's cart (or raises its quantity); refuses SKUs not sold or not priced in the cart's
    currency."""
    check_quantity(quantity, uow.settings.max_line_quantity)
    if location_id is not None and await inventory_repository.get_location(uow.conn, location_id) is None:
        raise InvalidInput("no such store", field="location_id")
    cart = await _cart(uow, customer_id)
    product = await catalog_repository.get_product(uow.conn, variant["product_id"])
    if not variant["is_active"] or product is None or not product["is_active"]:
        raise NotFound("this product is not for sale", field="sku")
    prices = await prices_by_variant(uow, [variant["id"]])
    if choose_price(prices.get(variant["id"], {}), channel, cart["currency"]) is None:
        raise PriceUnavailable(
            f"{variant['sku']} has no {cart['currency']} price for the {channel.value} channel", field="currency",
            details={"sku": variant["sku"], "currency": cart["currency"]},
        )
    line = await repository.find_line(uow.conn, cart["id"], variant_id=variant["id"])
    if line is None:
        await repository.insert_line(
            uow.conn,
            {
                "cart_id": cart["id"],
                "variant_id": variant["id"],
                "quantity": quantity,
                "added_via": added_via.value,
                "location_id": location_id,
                "added_at": uow.now(),
            },
        )
    else:
        total = merged_quantity(line["quantity"], quantity, uow.settings.max_line_quantity)
        await repository.set_line_quantity(uow.conn, line["id"], total)
    await repository.touch_cart(uow.conn, cart["id"], uow.now())
    uow.emit("cart.changed", "cart", cart["id"], {"customer_id": customer_id, "variant_id": variant["id"]})
    return await view(uow, customer_id, channel)


async def set_quantity(uow: UnitOfWork, customer_id: int, line_id: int, quantity: int, channel: Channel) -> CartView:
    """Sets a line's quantity (0 removes it)."""
    if quantity != 0:
        check_quantity(quantity, uow.settings.max_line_quantity)
    cart = await _cart(uow, customer_id)
    line = await repository.find_line(uow.conn, cart["id"], line_id=line_id)
    if line is None:
        raise NotFound("no such line in this cart", field="line_id")
    if quantity == 0:
        await repository.delete_lines(uow.conn, cart["id"], [line_id])
    else:
        await repository.set_line_quantity(uow.conn, line_id, quantity)
    await repository.touch_cart(uow.conn, cart["id"], uow.now())
    uow.emit("cart.changed", "cart", cart["id"], {"customer_id": customer_id, "variant_id": line["variant_id"]})
    return await view(uow, customer_id, channel)


async def set_currency(uow: UnitOfWork, customer_id: int, currency: str, channel: Channel) -> CartView:
    """Switches the currency the cart is priced in."""
    code = check_currency(currency)
    cart = await _cart(uow, customer_id)
    await repository.touch_cart(uow.conn, cart["id"], uow.now(), currency=code)
    return await view(uow, customer_id, channel)
