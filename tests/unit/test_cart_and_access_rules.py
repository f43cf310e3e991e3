"""Cart rules (`unichannel.checkout.model`) and access rules (`unichannel.access.model`)."""

from __future__ import annotations

import pytest

from unichannel.access.model import Principal, Role, split_token, token_binding_errors
from unichannel.catalog.model import Channel
from unichannel.checkout.model import CartItem, merged_quantity, price_cart
from unichannel.errors import DomainError, Forbidden, InvalidInput, NotFound, PriceUnavailable

# --- cart -------------------------------------------------------------------------------------------------------


def _item(variant_id: int, merchant_id: int, quantity: int = 1, *, is_active: bool = True) -> CartItem:
    return CartItem(
        line_id=variant_id * 10, variant_id=variant_id, merchant_id=merchant_id, product_id=variant_id,
        sku=f"SKU-{variant_id}", name=f"Variant {variant_id}", quantity=quantity, is_active=is_active,
    )


PRICES = {
    11: {("online", "CNY"): 1850},
    12: {("online", "CNY"): 999, ("online", "USD"): 150},
}


def test_a_line_costs_the_server_price_times_its_quantity_and_the_subtotal_is_exact() -> None:
    cart = price_cart([_item(11, 1, quantity=3), _item(12, 2, quantity=2)], PRICES, "CNY", Channel.ONLINE)
    assert [(p.unit_price_minor, p.total_minor) for p in cart.items] == [(1850, 5550), (999, 1998)]
    assert cart.subtotal_minor == 7548
    assert cart.is_purchasable is True
    cart.require_purchasable()


def test_a_line_without_a_price_in_the_cart_currency_is_not_purchasable() -> None:
    cart = price_cart([_item(11, 1, quantity=3), _item(12, 2, quantity=2)], PRICES, "USD", Channel.ONLINE)
    assert [(p.unit_price_minor, p.total_minor) for p in cart.items] == [(None, None), (150, 300)]
    assert cart.subtotal_minor == 300
    assert cart.is_purchasable is False
    with pytest.raises(PriceUnavailable) as raised:
        cart.require_purchasable()
    assert (raised.value.code, raised.value.field, raised.value.message) == (
        "price_unavailable", "currency", "SKU-11 has no USD price"
    )


def test_a_line_no_longer_sold_is_not_purchasable_even_when_priced() -> None:
    cart = price_cart([_item(11, 1, is_active=False)], PRICES, "CNY", Channel.ONLINE)
    assert cart.items[0].unit_price_minor == 1850
    assert cart.is_purchasable is False
    with pytest.raises(InvalidInput) as raised:
        cart.require_purchasable()
    assert (raised.value.code, raised.value.field) == ("invalid_input", "lines")


def test_an_empty_cart_is_not_purchasable() -> None:
    assert price_cart([], PRICES, "CNY", Channel.ONLINE).is_purchasable is False


def test_a_cart_splits_into_one_group_per_merchant_in_merchant_then_variant_id_order() -> None:
    items = [_item(30, 3), _item(12, 1), _item(5, 3), _item(11, 1)]
    groups = price_cart(items, {}, "CNY", Channel.ONLINE).by_merchant()
    assert {merchant: [p.item.variant_id for p in group] for merchant, group in groups.items()} == {
        1: [11, 12], 3: [5, 30]
    }
    assert list(groups) == [1, 3]


@pytest.mark.parametrize(
    ("existing", "added", "total"), [(2, 3, 5), (996, 3, 999)], ids=["below-maximum", "exactly-maximum"]
)
def test_adding_a_sku_already_in_the_cart_raises_its_quantity_up_to_the_maximum(
    existing: int, added: int, total: int
) -> None:
    assert merged_quantity(existing, added, 999) == total


def test_adding_a_sku_beyond_the_largest_line_quantity_is_refused() -> None:
    with pytest.raises(InvalidInput) as raised:
        merged_quantity(997, 3, 999)
    assert raised.value.field == "quantity"


# --- access -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "customer_id", "merchant_id", "location_id"),
    [
        (Role.SHOPPER, 1, None, None),
        (Role.CLERK, None, None, 5),
        (Role.MERCHANT, None, 2, None),
        (Role.OPERATOR, None, None, None),
    ],
    ids=["shopper-to-customer", "clerk-to-location", "merchant-to-merchant", "operator-to-nothing"],
)
def test_a_token_is_bound_to_exactly_what_its_role_needs(
    role: Role, customer_id: int | None, merchant_id: int | None, location_id: int | None
) -> None:
    token_binding_errors(role, customer_id, merchant_id, location_id)


@pytest.mark.parametrize(
    ("role", "customer_id", "merchant_id", "location_id", "field"),
    [
        (Role.SHOPPER, None, None, None, "customer_id"),
        (Role.CLERK, None, None, None, "location_id"),
        (Role.MERCHANT, None, None, None, "merchant_id"),
        (Role.SHOPPER, 1, 2, None, "merchant_id"),
        (Role.CLERK, None, 2, 5, "merchant_id"),
        (Role.MERCHANT, None, 2, 5, "location_id"),
        (Role.OPERATOR, 1, None, None, "customer_id"),
    ],
    ids=["shopper-without-customer", "clerk-without-location", "merchant-without-merchant", "shopper-plus-merchant",
         "clerk-plus-merchant", "merchant-plus-location", "operator-plus-customer"],
)
def test_a_token_missing_its_binding_or_bound_to_more_is_refused(
    role: Role, customer_id: int | None, merchant_id: int | None, location_id: int | None, field: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        token_binding_errors(role, customer_id, merchant_id, location_id)
    assert raised.value.field == field


SHOPPER = Principal(token_id=9, role=Role.SHOPPER, customer_id=4)
CLERK = Principal(token_id=9, role=Role.CLERK, location_id=5)
MERCHANT = Principal(token_id=9, role=Role.MERCHANT, merchant_id=2)
OPERATOR = Principal(token_id=9, role=Role.OPERATOR)


@pytest.mark.parametrize(
    ("principal", "merchant_id", "error"),
    [
        (MERCHANT, 2, None),
        (OPERATOR, 3, None),
        (MERCHANT, 3, NotFound),
        (SHOPPER, 2, Forbidden),
    ],
    ids=["merchant-own", "operator-any", "merchant-other-looks-absent", "shopper-forbidden"],
)
def test_a_merchant_touches_only_its_own_things_and_others_look_absent(
    principal: Principal, merchant_id: int, error: type[DomainError] | None
) -> None:
    if error is None:
        principal.check_merchant(merchant_id)
        return
    with pytest.raises(error) as raised:
        principal.check_merchant(merchant_id)
    assert raised.value.code == error.code


@pytest.mark.parametrize(
    ("principal", "location_id", "location_merchant_id", "error"),
    [
        (CLERK, 5, None, None),
        (MERCHANT, 7, 2, None),
        (OPERATOR, 7, 3, None),
        (CLERK, 6, None, NotFound),
        (MERCHANT, 7, 3, NotFound),
        (MERCHANT, 7, None, NotFound),
        (SHOPPER, 5, None, Forbidden),
    ],
    ids=["clerk-own-store", "merchant-own-run", "operator-any", "clerk-other-store", "merchant-other-merchant",
         "merchant-platform-run", "shopper-forbidden"],
)
def test_clerks_work_their_own_store_merchants_their_own_locations_operators_any(
    principal: Principal, location_id: int, location_merchant_id: int | None, error: type[DomainError] | None
) -> None:
    if error is None:
        principal.check_location(location_id, location_merchant_id)
        return
    with pytest.raises(error) as raised:
        principal.check_location(location_id, location_merchant_id)
    assert raised.value.code == error.code


@pytest.mark.parametrize(
    ("token", "parts"),
    [("uct_ab12_s3cr3t", ("ab12", "s3cr3t")), ("uct_ab12_s3_cr3t", ("ab12", "s3_cr3t"))],
    ids=["plain", "secret-with-underscore"],
)
def test_split_token_gives_the_public_id_and_secret(token: str, parts: tuple[str, str]) -> None:
    assert split_token(token) == parts


@pytest.mark.parametrize(
    "token",
    ["xyz_ab12_s3cr3t", "uct_ab12", "uct__s3cr3t", "uct_ab12_"],
    ids=["wrong-prefix", "no-secret", "empty-public-id", "empty-secret"],
)
def test_split_token_refuses_a_malformed_token_with_value_error(token: str) -> None:
    with pytest.raises(ValueError, match="^malformed token$"):
        split_token(token)


@pytest.mark.parametrize(
    ("principal", "key"),
    [(SHOPPER, "customer:4"), (CLERK, "token:9"), (OPERATOR, "token:9")],
    ids=["shopper-by-customer", "clerk-by-token", "operator-by-token"],
)
def test_a_principal_key_names_a_shopper_by_customer_and_staff_by_token(principal: Principal, key: str) -> None:
    assert principal.key == key
