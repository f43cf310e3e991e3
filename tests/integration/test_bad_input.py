"""Bad requests get a clear 4xx as JSON `{code, message, field}`, never a 500, and write nothing at all."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as default
from typing import Any

import pytest

from tests.integration.world import HOME, World, build_world, count, stock_of
from unichannel.catalog.repository import categories, merchants, prices, products, variants
from unichannel.checkout.repository import cart_lines, carts
from unichannel.events import outbox_events
from unichannel.idempotency import idempotency_keys
from unichannel.inventory.repository import locations, reservations, stock, stock_movements
from unichannel.orders.repository import checkouts, order_history, order_lines, orders

WATCHED_TABLES = (
    orders, order_lines, order_history, checkouts, reservations, carts, cart_lines, stock, stock_movements,
    outbox_events, idempotency_keys, products, variants, prices, categories, merchants, locations,
)


async def snapshot(env, world: World) -> dict[str, Any]:
    """Row counts of every table a request could write, and the tee's stock level at the warehouse."""
    counts: dict[str, Any] = {table.name: await count(env, table) for table in WATCHED_TABLES}
    counts["tee@WH"] = await stock_of(env, world.ids["tee"], world.ids["WH"])
    return counts


def bearer(who: str) -> Callable[[World], str]:
    return lambda world: f"Bearer {world.tokens[who]}"


def wrong_secret(world: World) -> str:
    prefix, public_id, _ = world.tokens["alice"].split("_", 2)
    return f"Bearer {prefix}_{public_id}_{'x' * 43}"


@dataclass(frozen=True)
class Bad:
    """One bad request and the exact refusal it must get."""

    method: str
    path: str
    status: int
    code: str
    field: str | None = None
    body: Any = None  # JSON, or a function of the world giving JSON
    raw: bytes | None = None  # sent as-is with Content-Type: application/json
    authorization: Callable[[World], str] | None = default(default=bearer("alice"))
    cart: bool = False  # alice's cart holds 2 of brand-a's TEE-M first
    headers: dict[str, str] = default(default_factory=dict)


def tee(**changes: Any) -> dict[str, Any]:
    return {"sku": "TEE-M", "merchant": "brand-a", "quantity": 1, **changes}


def product(**changes: Any) -> dict[str, Any]:
    return {"name": "Linen Shirt", "variants": [{"sku": "LINEN-1", "prices": [{"currency": "CNY",
                                                                               "amount_minor": 100}]}], **changes}


def delivery(**fields: Any) -> Callable[[World], dict]:
    return lambda world: {"delivery": {k: world.ids[v] if k == "location_id" and isinstance(v, str) else v
                                       for k, v in fields.items()}}


ORDER = {"cart": True, "headers": {"Idempotency-Key": "bad-order-1"}}

CASES = [
    # the body
    pytest.param(Bad("POST", "/api/v1/cart/lines", 400, "malformed_json", raw=b'{"sku": "TEE-M", "quantity": '),
                 id="malformed-json"),
    pytest.param(Bad("POST", "/api/v1/cart/lines", 422, "invalid_input", None, body=[tee()]), id="body-is-a-list"),
    pytest.param(Bad("POST", "/api/v1/cart/lines", 422, "invalid_input", None, body={"quantity": 1}),
                 id="neither-sku-nor-code"),
    pytest.param(Bad("POST", "/api/v1/cart/lines", 404, "not_found", "sku", body=tee(sku="NOPE-1")),
                 id="unknown-sku"),
    pytest.param(Bad("POST", "/api/v1/cart/lines", 404, "not_found", "sku", body=tee(merchant="nobody")),
                 id="unknown-merchant"),
    *[
        pytest.param(Bad("POST", "/api/v1/cart/lines", 422, "invalid_input", "quantity", body=tee(quantity=q)),
                     id=f"quantity-{name}")
        for name, q in (("0", 0), ("minus-1", -1), ("10e12", 10**12), ("two", "two"), ("1.5", 1.5),
                        ("null", None))
    ],
    pytest.param(Bad("POST", "/api/v1/cart/lines", 422, "invalid_input", "sku", body=tee(sku="S" * 65)),
                 id="sku-65-chars"),
    pytest.param(Bad("POST", "/api/v1/cart/lines", 422, "invalid_input", "code", body={"code": "C" * 513}),
                 id="code-513-chars"),
    pytest.param(Bad("POST", "/api/v1/cart/lines", 422, "invalid_input", "unit_price_minor",
                     body=tee(unit_price_minor=1)), id="client-sent-price"),
    pytest.param(Bad("POST", "/api/v1/cart/lines", 422, "invalid_input", "location_id", body=tee(location_id=999999)),
                 id="cart-line-at-unknown-location"),
    pytest.param(Bad("POST", "/api/v1/products", 422, "invalid_input", "name", body=product(name="N" * 201),
                     authorization=bearer("staff_a")), id="product-name-201-chars"),
    pytest.param(Bad("POST", "/api/v1/products", 422, "invalid_input", "variants.0.sku",
                     body=product(variants=[{"sku": "S" * 65}]), authorization=bearer("staff_a")),
                 id="product-sku-65-chars"),
    pytest.param(Bad("POST", "/api/v1/products", 422, "invalid_input", "variants", body=product(variants=[]),
                     authorization=bearer("staff_a")), id="product-without-variants"),
    pytest.param(Bad("POST", "/api/v1/products", 422, "invalid_input", "variants.0.prices.0.currency",
                     body=product(variants=[{"sku": "L-1", "prices": [{"currency": "YUAN", "amount_minor": 1}]}]),
                     authorization=bearer("staff_a")), id="product-price-currency-4-letters"),
    pytest.param(Bad("POST", "/api/v1/products", 422, "invalid_input", "variants.0.prices.0.amount_minor",
                     body=product(variants=[{"sku": "L-1", "prices": [{"currency": "CNY", "amount_minor": -1}]}]),
                     authorization=bearer("staff_a")), id="product-negative-price"),
    pytest.param(Bad("PUT", "/api/v1/cart/currency", 422, "invalid_input", "currency", body={"currency": "XX"}),
                 id="currency-XX"),
    pytest.param(Bad("PUT", "/api/v1/cart/currency", 422, "invalid_input", "currency", body={"currency": "ZZZ"}),
                 id="currency-ZZZ"),
    # the query and the path
    pytest.param(Bad("GET", "/api/v1/products?q=" + "q" * 101, 422, "invalid_input", "q", authorization=None),
                 id="search-text-101-chars"),
    pytest.param(Bad("GET", "/api/v1/products?limit=0", 422, "invalid_input", "limit", authorization=None),
                 id="search-limit-0"),
    pytest.param(Bad("GET", "/api/v1/products/abc", 422, "invalid_input", "product_id", authorization=None),
                 id="product-id-not-a-number"),
    pytest.param(Bad("GET", "/api/v1/products/999999", 404, "not_found", "product_id", authorization=None),
                 id="unknown-product"),
    pytest.param(Bad("GET", "/api/v1/cart?customer_id=0", 422, "invalid_input", "customer_id"),
                 id="customer-id-0"),
    # ids beyond the database's 64-bit integers
    *[
        pytest.param(Bad(method, path, 422, "invalid_input", name, body=body, authorization=authorization),
                     id=f"id-2**63-{case}")
        for case, method, path, name, body, authorization in (
            ("product", "GET", f"/api/v1/products/{2**63}", "product_id", None, None),
            ("qr", "GET", f"/api/v1/variants/{2**63}/qr.svg", "variant_id", None, None),
            ("cart-customer", "GET", f"/api/v1/cart?customer_id={2**63}", "customer_id", None, bearer("clerk_1")),
            ("stock-receive", "POST", "/api/v1/stock/receive", "variant_id",
             {"variant_id": 2**63, "location_id": 1, "quantity": 1}, bearer("operator")),
        )
    ],
    # who is asking
    pytest.param(Bad("POST", "/api/v1/cart/lines", 401, "unauthenticated", body=tee(), authorization=None),
                 id="no-token"),
    pytest.param(Bad("POST", "/api/v1/cart/lines", 401, "unauthenticated", body=tee(),
                     authorization=lambda world: "Bearer garbage"), id="garbage-token"),
    pytest.param(Bad("POST", "/api/v1/cart/lines", 401, "unauthenticated", body=tee(),
                     authorization=wrong_secret), id="token-with-wrong-secret"),
    pytest.param(Bad("POST", "/api/v1/cart/lines", 401, "unauthenticated", body=tee(),
                     authorization=lambda world: "Basic YWxpY2U6cGFzcw=="), id="basic-auth"),
    pytest.param(Bad("POST", "/api/v1/cart/lines", 401, "unauthenticated", body=tee(),
                     authorization=lambda world: "Bearer "), id="empty-bearer"),
    # routes
    pytest.param(Bad("GET", "/api/v1/no-such-thing", 404, "not_found", authorization=None), id="unknown-route"),
    pytest.param(Bad("DELETE", "/api/v1/cart", 405, "method_not_allowed"), id="wrong-method"),
    # placing orders
    pytest.param(Bad("POST", "/api/v1/orders", 409, "empty_cart", "cart", body={"delivery": HOME},
                     headers={"Idempotency-Key": "bad-order-1"}), id="order-with-empty-cart"),
    pytest.param(Bad("POST", "/api/v1/orders", 422, "invalid_input", "delivery.location_id",
                     body=delivery(mode="pickup", location_id="WH"), **ORDER), id="pickup-at-a-warehouse"),
    pytest.param(Bad("POST", "/api/v1/orders", 422, "invalid_input", "delivery.location_id",
                     body=delivery(mode="pickup", location_id=999999), **ORDER), id="pickup-at-unknown-location"),
    pytest.param(Bad("POST", "/api/v1/orders", 422, "invalid_input", "delivery.location_id",
                     body=delivery(mode="pickup"), **ORDER), id="pickup-without-location"),
    pytest.param(Bad("POST", "/api/v1/orders", 422, "invalid_input", "delivery.address",
                     body=delivery(mode="home_delivery"), **ORDER), id="home-delivery-without-address"),
    pytest.param(Bad("POST", "/api/v1/orders", 422, "invalid_input", "delivery.address.line1",
                     body={"delivery": {**HOME, "address": {k: v for k, v in HOME["address"].items()
                                                            if k != "line1"}}}, **ORDER),
                 id="home-delivery-address-without-street"),
    pytest.param(Bad("POST", "/api/v1/orders", 422, "invalid_input", "delivery.mode",
                     body=delivery(mode="teleport"), **ORDER), id="unknown-delivery-mode"),
    pytest.param(Bad("POST", "/api/v1/orders", 422, "invalid_input", "delivery.mode",
                     body=delivery(mode="in_store", location_id="STORE-1"), **ORDER), id="shopper-sells-in-store"),
    pytest.param(Bad("POST", "/api/v1/orders", 422, "invalid_input", "delivery", body={}, **ORDER),
                 id="order-without-delivery"),
    pytest.param(Bad("POST", "/api/v1/orders", 422, "invalid_input", "Idempotency-Key", body={"delivery": HOME},
                     cart=True, headers={"Idempotency-Key": "k" * 201}), id="idempotency-key-201-chars"),
]


@pytest.mark.parametrize("bad", CASES)
async def test_bad_request_gets_an_exact_json_error_and_writes_nothing(env, bad: Bad):
    world = await build_world(env)
    if bad.cart:
        added = await env.client.post("/api/v1/cart/lines", json=tee(quantity=2), headers=world.auth("alice"))
        assert added.status_code == 201, added.text
    before = await snapshot(env, world)
    headers = dict(bad.headers)
    if bad.authorization is not None:
        headers["Authorization"] = bad.authorization(world)
    if bad.raw is not None:
        request = {"content": bad.raw, "headers": {**headers, "Content-Type": "application/json"}}
    else:
        body = bad.body(world) if callable(bad.body) else bad.body
        request = {"json": body, "headers": headers} if bad.method in ("POST", "PUT", "PATCH") else {"headers": headers}

    response = await env.client.request(bad.method, bad.path, **request)

    assert response.status_code == bad.status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()
    assert set(error) == {"code", "message", "field"}
    assert (error["code"], error["field"]) == (bad.code, bad.field)
    assert isinstance(error["message"], str) and error["message"]
    assert await snapshot(env, world) == before


async def test_after_a_refused_order_the_cart_is_intact_and_the_same_key_still_places_it(env):
    world = await build_world(env)
    await env.client.post("/api/v1/cart/lines", json=tee(quantity=2), headers=world.auth("alice"))
    key = {**world.auth("alice"), "Idempotency-Key": "retry-me"}

    refused = await env.client.post("/api/v1/orders", json={"delivery": {"mode": "pickup",
                                                                         "location_id": world.ids["WH"]}},
                                    headers=key)
    placed = await env.client.post("/api/v1/orders", json={"delivery": HOME}, headers=key)

    assert refused.status_code == 422, refused.text
    assert placed.status_code == 201, placed.text
    assert [order["total_minor"] for order in placed.json()["orders"]] == [19800]
    assert await count(env, orders) == 1 and await count(env, reservations) == 1
    assert await count(env, cart_lines) == 0
    assert await stock_of(env, world.ids["tee"], world.ids["WH"]) == (10, 2)
