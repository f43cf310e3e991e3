"""Cart rules: one cart per customer across channels, priced by the domain from the catalog, never by the client."""

from __future__ import annotations

from dataclasses import dataclass, field

from unichannel.catalog.model import Channel, choose_price
from unichannel.errors import InvalidInput, PriceUnavailable


@dataclass(frozen=True, slots=True)
class CartItem:
    line_id: int
    variant_id: int
    merchant_id: int
    product_id: int
    sku: str
    name: str
    quantity: int
    is_active: bool = True


@dataclass(frozen=True, slots=True)
class PricedItem:
    item: CartItem
    unit_price_minor: int | None  # None: no price in the cart's currency for this channel

    @property
    def total_minor(self) -> int | None:
        return None if self.unit_price_minor is None else self.unit_price_minor * self.item.quantity


@dataclass(slots=True)
class PricedCart:
    currency: str
    channel: Channel
    items: list[PricedItem] = field(default_factory=list)

    @property
    def subtotal_minor(self) -> int:
        return sum(p.total_minor or 0 for p in self.items)

    @property
    def is_purchasable(self) -> bool:
        return bool(self.items) and all(p.unit_price_minor is not None and p.item.is_active for p in self.items)

    def by_merchant(self) -> dict[int, list[PricedItem]]:
        """Items grouped per merchant, in merchant id order: each merchant's goods become one order."""
        groups: dict[int, list[PricedItem]] = {}
        for priced in sorted(self.items, key=lambda p: (p.item.merchant_id, p.item.variant_id)):
            groups.setdefault(priced.item.merchant_id, []).append(priced)
        return groups

    def require_purchasable(self) -> None:
        for priced in self.items:
            if not priced.item.is_active:
                raise InvalidInput(f"{priced.item.sku} is no longer sold", field="lines",
                                   details={"sku": priced.item.sku})
            if priced.unit_price_minor is None:
                raise PriceUnavailable(f"{priced.item.sku} has no {self.currency} price", field="currency",
                                       details={"sku": priced.item.sku, "currency": self.currency})


def price_cart(
    items: list[CartItem],
    prices: dict[int, dict[tuple[str, str], int]],
    currency: str,
    channel: Channel,
) -> PricedCart:
    """Prices every line from the catalog's prices for the channel and currency (see `choose_price`)."""
    cart = PricedCart(currency=currency, channel=channel)
    for item in items:
        cart.items.append(PricedItem(item, choose_price(prices.get(item.variant_id, {}), channel, currency)))
    return cart


def merged_quantity(existing: int, added: int, maximum: int) -> int:
    """Adding a SKU already in the cart raises its quantity; a line never exceeds the largest line quantity."""
    total = existing + added
    if total > maximum:
        raise InvalidInput(f"a cart line holds at most {maximum} units", field="quantity", details={"maximum": maximum})
    return total
