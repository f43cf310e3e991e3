"""Catalog through the HTTP API: merchants, products and prices, visibility, search, availability, QR codes, imports."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from unichannel.catalog.repository import categories, merchants, prices, products, variants
from unichannel.inventory.repository import stock, stock_movements

from tests.integration.world import HOME, build_world, count, stock_of

ROOT = Path(__file__).resolve().parents[2]
WOO_SAMPLE = ROOT / "src" / "unichannel" / "demo" / "data" / "woocommerce_sample_products.csv"
SHOPIFY_FIXTURE = ROOT / "tests" / "fixtures" / "shopify_products.csv"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CATALOG_TABLES = (products, variants, prices, categories)


def assert_error(response, status: int, code: str, field: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.json() == {"code": code, "message": response.json()["message"], "field": field}


async def catalog_counts(env) -> dict[str, int]:
    return {table.name: await count(env, table) for table in CATALOG_TABLES}


async def create_product(env, world, who: str, name: str, sku: str, *, category_path=(), is_active=True,
                         price_list=(("CNY", 1000),), barcode=None, merchant=None):
    body = {
        "name": name, "category_path": list(category_path), "is_active": is_active,
        "variants": [{"sku": sku, "barcode": barcode,
                      "prices": [{"currency": c, "amount_minor": a} for c, a in price_list]}],
    }
    if merchant is not None:
        body["merchant"] = merchant
    return await env.client.post("/api/v1/products", json=body, headers=world.auth(who))


async def search(env, world=None, who: str | None = None, **params) -> list[str]:
    headers = world.auth(who) if who else {}
    found = await env.client.get("/api/v1/products", params=params, headers=headers)
    assert found.status_code == 200, found.text
    return [p["name"] for p in found.json()["items"]]


async def price_rows(env, variant_id: int) -> list[tuple[str, str, int]]:
    async with env.uow() as uow:
        rows = await uow.conn.execute(
            select(prices.c.channel, prices.c.currency, prices.c.amount_minor)
            .where(prices.c.variant_id == variant_id).order_by(prices.c.id)
        )
        return [tuple(r) for r in rows]


async def variant_id_of(env, sku: str) -> int | None:
    async with env.uow() as uow:
        return (await uow.conn.execute(select(variants.c.id).where(variants.c.sku == sku))).scalar_one_or_none()


# --- merchants ---------------------------------------------------------------------------------------------------

async def test_operator_creates_a_merchant(env):
    world = await build_world(env)
    body = {"slug": "west-lake-farm", "name": "West Lake Farm", "kind": "farm_cooperative", "country": "cn",
            "currency": "cny"}

    created = await env.client.post("/api/v1/merchants", json=body, headers=world.auth("operator"))

    assert created.status_code == 201, created.text
    assert created.json() == {"id": created.json()["id"], "slug": "west-lake-farm", "name": "West Lake Farm",
                              "kind": "farm_cooperative", "country": "CN", "currency": "CNY",
                              "fulfilment_strategy": "keep_shelves_stocked"}
    assert await count(env, merchants) == 4


@pytest.mark.parametrize("who", ["alice", "staff_a", "clerk_1"])
async def test_only_an_operator_may_create_a_merchant(env, who):
    world = await build_world(env)
    body = {"slug": "sneaky", "name": "Sneaky", "kind": "brand", "country": "CN", "currency": "CNY"}

    refused = await env.client.post("/api/v1/merchants", json=body, headers=world.auth(who))

    assert_error(refused, 403, "forbidden")
    assert await count(env, merchants) == 3


async def test_merchant_slug_is_unique(env):
    world = await build_world(env)
    body = {"slug": "brand-a", "name": "Another A", "kind": "brand", "country": "CN", "currency": "CNY"}

    refused = await env.client.post("/api/v1/merchants", json=body, headers=world.auth("operator"))

    assert_error(refused, 409, "already_exists", "slug")
    assert await count(env, merchants) == 3


# --- products and prices -----------------------------------------------------------------------------------------

async def test_merchant_staff_create_a_product_with_variants_priced_in_cny_and_usd(env):
    world = await build_world(env)
    before = await catalog_counts(env)
    body = {
        "name": "Silk Scarf",
        "category_path": ["Clothing", "Accessories"],
        "variants": [
            {"sku": "SCARF-RED", "name": "Red", "options": {"Color": "Red"}, "barcode": "6901234500017",
             "prices": [{"currency": "CNY", "amount_minor": 12900, "compare_at_minor": 15900},
                        {"currency": "usd", "amount_minor": 1800}]},
            {"sku": "SCARF-BLU", "name": "Blue", "options": {"Color": "Blue"},
             "prices": [{"currency": "CNY", "amount_minor": 11900}]},
        ],
    }

    created = await env.client.post("/api/v1/products", json=body, headers=world.auth("staff_a"))

    assert created.status_code == 201, created.text
    product = created.json()
    assert (product["merchant_id"], product["handle"], product["name"], product["is_active"]) == (
        world.ids["brand_a"], "silk-scarf", "Silk Scarf", True)
    assert [(v["sku"], v["options"], v["barcode"], v["available"]) for v in product["variants"]] == [
        ("SCARF-RED", {"Color": "Red"}, "6901234500017", 0),
        ("SCARF-BLU", {"Color": "Blue"}, None, 0),
    ]
    assert [[(p["channel"], p["currency"], p["amount_minor"], p["compare_at_minor"], p["display"])
             for p in v["prices"]] for v in product["variants"]] == [
        [("online", "CNY", 12900, 15900, "CNY 129.00"), ("online", "USD", 1800, None, "USD 18.00")],
        [("online", "CNY", 11900, None, "CNY 119.00")],
    ]
    after = await catalog_counts(env)
    assert after == {**before, "products": before["products"] + 1, "variants": before["variants"] + 2,
                     "prices": before["prices"] + 3, "categories": before["categories"] + 1}


async def test_staff_cannot_create_a_product_for_another_merchant(env):
    world = await build_world(env)
    before = await catalog_counts(env)

    refused = await create_product(env, world, "staff_b", "Fake Tee", "FAKE-1", merchant="brand-a")

    assert_error(refused, 404, "not_found", "merchant")
    assert await catalog_counts(env) == before


async def test_a_shopper_cannot_create_a_product(env):
    world = await build_world(env)
    before = await catalog_counts(env)

    refused = await create_product(env, world, "alice", "My Tee", "MINE-1")

    assert_error(refused, 403, "forbidden")
    assert await catalog_counts(env) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Cotton Tee Again", "handle": "tee", "variants": [{"sku": "TEE-L"}]}, "handle"),
        ({"name": "Second Mug", "variants": [{"sku": "MUG-1"}]}, "sku"),
    ],
    ids=["same-handle", "sku-of-another-product"],
)
async def test_a_product_handle_and_a_sku_belong_to_one_product_of_the_merchant(env, body, field):
    world = await build_world(env)
    before = await catalog_counts(env)

    refused = await env.client.post("/api/v1/products", json=body, headers=world.auth("staff_a"))

    assert_error(refused, 409, "already_exists", field)
    assert await catalog_counts(env) == before


async def test_another_merchant_may_use_the_same_sku(env):
    world = await build_world(env)

    created = await create_product(env, world, "staff_b", "B Mug", "MUG-1", price_list=[("CNY", 3900)])

    assert created.status_code == 201, created.text
    assert created.json()["merchant_id"] == world.ids["brand_b"]
    assert await search(env, q="mug-1") == ["Celadon Mug", "B Mug"]


async def test_staff_set_a_price_for_their_own_sku(env):
    world = await build_world(env)

    updated = await env.client.put(f"/api/v1/variants/{world.ids['tee']}/prices",
                                   json={"currency": "USD", "amount_minor": 1450}, headers=world.auth("staff_a"))

    assert updated.status_code == 200, updated.text
    assert [(p["channel"], p["currency"], p["amount_minor"]) for p in updated.json()] == [
        ("online", "CNY", 9900), ("online", "USD", 1450)]
    assert await price_rows(env, world.ids["tee"]) == [("online", "CNY", 9900), ("online", "USD", 1450)]


async def test_staff_of_another_merchant_cannot_see_an_inactive_product_or_set_its_price(env):
    world = await build_world(env)
    hidden = await create_product(env, world, "staff_a", "Secret Tee", "SECRET-1", is_active=False,
                                  price_list=[("CNY", 5000)])
    assert hidden.status_code == 201, hidden.text
    product_id, variant_id = hidden.json()["id"], hidden.json()["variants"][0]["id"]

    page = await env.client.get(f"/api/v1/products/{product_id}", headers=world.auth("staff_b"))
    price = await env.client.put(f"/api/v1/variants/{variant_id}/prices",
                                 json={"currency": "CNY", "amount_minor": 1}, headers=world.auth("staff_b"))
    listed = await env.client.get("/api/v1/products", params={"include_inactive": "true", "merchant": "brand-a"},
                                  headers=world.auth("staff_b"))

    assert_error(page, 404, "not_found", "product_id")
    assert_error(price, 404, "not_found")
    assert_error(listed, 404, "not_found", "merchant")
    assert await search(env, world, "staff_b", include_inactive="true") == ["Other Tee"]
    assert await price_rows(env, variant_id) == [("online", "CNY", 5000)]


async def test_inactive_products_are_hidden_from_the_public_but_visible_to_their_merchant(env):
    world = await build_world(env)
    hidden = await create_product(env, world, "staff_a", "Secret Tee", "SECRET-1", is_active=False)
    product_id = hidden.json()["id"]

    public_page = await env.client.get(f"/api/v1/products/{product_id}")
    shopper_page = await env.client.get(f"/api/v1/products/{product_id}", headers=world.auth("alice"))
    own_page = await env.client.get(f"/api/v1/products/{product_id}", headers=world.auth("staff_a"))

    assert await search(env, q="secret") == []
    assert await search(env) == ["Cotton Tee", "Celadon Mug", "Other Tee"]
    assert_error(public_page, 404, "not_found", "product_id")
    assert_error(shopper_page, 404, "not_found", "product_id")
    assert own_page.status_code == 200 and own_page.json()["is_active"] is False
    assert await search(env, world, "staff_a", include_inactive="true") == ["Cotton Tee", "Celadon Mug", "Secret Tee"]
    assert await search(env, world, "staff_a", q="secret") == []  # without include_inactive, staff see the shop


async def test_include_inactive_needs_a_merchant_or_operator(env):
    world = await build_world(env)

    anonymous = await env.client.get("/api/v1/products", params={"include_inactive": "true"})
    shopper = await env.client.get("/api/v1/products", params={"include_inactive": "true"},
                                   headers=world.auth("alice"))

    assert_error(anonymous, 404, "not_found", "merchant")
    assert_error(shopper, 403, "forbidden")


# --- search ------------------------------------------------------------------------------------------------------

async def test_search_by_text_matches_name_case_insensitively(env):
    await build_world(env)

    assert await search(env, q="COTTON") == ["Cotton Tee"]
    assert await search(env, q="tee") == ["Cotton Tee", "Other Tee"]
    assert await search(env, q="no such thing") == []


async def test_search_by_sku_finds_every_merchant_using_it(env):
    await build_world(env)

    assert await search(env, q="MUG-1") == ["Celadon Mug"]
    assert await search(env, q="tee-m") == ["Cotton Tee", "Other Tee"]


async def test_search_by_barcode_finds_the_one_product(env):
    await build_world(env)

    assert await search(env, q="6901234567892") == ["Cotton Tee"]
    assert await search(env, q="6901234567893") == []


async def test_search_by_merchant_slug(env):
    await build_world(env)

    assert await search(env, merchant="brand-b") == ["Other Tee"]
    assert await search(env, merchant="brand-a", q="tee") == ["Cotton Tee"]
    assert_error(await env.client.get("/api/v1/products", params={"merchant": "nobody"}), 404, "not_found", "merchant")


async def test_search_by_parent_category_includes_its_children(env):
    world = await build_world(env)
    for name, sku, path in (("Silk Scarf", "SCARF-1", ["Clothing", "Accessories"]),
                            ("Tea Cup", "CUP-1", ["Kitchen"])):
        assert (await create_product(env, world, "staff_a", name, sku, category_path=path)).status_code == 201

    assert await search(env, category="clothing") == ["Cotton Tee", "Celadon Mug", "Other Tee", "Silk Scarf"]
    assert await search(env, category="clothing-tshirts") == ["Cotton Tee", "Celadon Mug", "Other Tee"]
    assert await search(env, category="clothing-accessories") == ["Silk Scarf"]
    assert await search(env, category="kitchen") == ["Tea Cup"]
    assert await search(env, category="clothing", merchant="brand-b") == ["Other Tee"]
    assert_error(await env.client.get("/api/v1/products", params={"category": "garden"}), 404, "not_found", "category")


async def test_search_by_category_does_not_include_categories_that_merely_share_a_slug_prefix(env):
    """Regression: children were found by slug prefix, so 'teapots' counted as a child of 'tea'."""
    world = await build_world(env)
    for name, sku, path in (("Longjing Tea", "TEA-1", ["Tea"]), ("Clay Teapot", "POT-1", ["Teapots"])):
        assert (await create_product(env, world, "staff_a", name, sku, category_path=path)).status_code == 201

    assert await search(env, category="tea") == ["Longjing Tea"]


async def test_search_text_is_matched_literally_not_as_a_like_pattern(env):
    """Regression: '%' and '_' in the text went into the LIKE pattern unescaped, so q='%' matched everything."""
    await build_world(env)

    assert await search(env, q="%") == []


# --- the product page: availability per location -----------------------------------------------------------------

def availability(page: dict) -> list[tuple[str, int]]:
    return [(a["location_code"], a["available"]) for a in page["variants"][0]["availability"]]


async def test_product_page_shows_units_available_per_location(env):
    world = await build_world(env)

    page = await env.client.get(f"/api/v1/products/{world.ids['tee_product']}")

    assert page.status_code == 200, page.text
    assert availability(page.json()) == [("WH", 10), ("STORE-1", 2)]
    assert page.json()["variants"][0]["available"] == 12


async def test_product_page_availability_excludes_reserved_units_and_safety_stock(env):
    world = await build_world(env)
    tee, wh, store = world.ids["tee"], world.ids["WH"], world.ids["STORE-1"]
    for location_id, units in ((wh, 3), (store, 2)):
        kept = await env.client.put("/api/v1/stock/safety", json={
            "variant_id": tee, "location_id": location_id, "safety_stock": units}, headers=world.auth("operator"))
        assert kept.status_code == 200, kept.text
    await env.client.post("/api/v1/cart/lines", json={"sku": "TEE-M", "merchant": "brand-a", "quantity": 2},
                          headers=world.auth("alice"))
    placed = await env.client.post("/api/v1/orders", json={"delivery": HOME}, headers=world.auth("alice"))
    assert placed.status_code == 201, placed.text
    assert await stock_of(env, tee, wh) == (10, 2)

    page = (await env.client.get(f"/api/v1/products/{world.ids['tee_product']}")).json()

    assert availability(page) == [("WH", 5)]  # 10 on hand - 2 reserved - 3 safety; STORE-1 keeps its 2 back
    assert page["variants"][0]["available"] == 5


# --- QR codes ----------------------------------------------------------------------------------------------------

async def test_variant_scan_url_is_on_the_public_base_url(env):
    world = await build_world(env)

    page = (await env.client.get(f"/api/v1/products/{world.ids['tee_product']}")).json()

    [variant] = page["variants"]
    assert variant["scan_url"] == f"https://shop.example/scan/{world.ids['tee']}"
    assert variant["qr_svg_url"] == f"/api/v1/variants/{world.ids['tee']}/qr.svg"


async def test_variant_qr_code_is_served_as_svg_and_png(env):
    world = await build_world(env)

    svg = await env.client.get(f"/api/v1/variants/{world.ids['tee']}/qr.svg")
    png = await env.client.get(f"/api/v1/variants/{world.ids['tee']}/qr.png")

    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert "<svg" in svg.text
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content.startswith(PNG_SIGNATURE)


async def test_qr_code_of_an_unknown_variant_is_not_found(env):
    await build_world(env)

    missing = await env.client.get("/api/v1/variants/999999/qr.svg")

    assert_error(missing, 404, "not_found", "variant_id")


# --- imports -----------------------------------------------------------------------------------------------------

def report_counts(report: dict) -> tuple[int, int, int, int, int]:
    return (report["rows_read"], report["products_created"], report["products_updated"],
            report["variants_created"], report["variants_updated"])


async def import_file(env, world, source: str, data: bytes, *, who="staff_a", multipart=False, **params):
    url = f"/api/v1/imports/{source}"
    if multipart:
        return await env.client.post(url, params=params, files={"file": (f"{source}.csv", data, "text/csv")},
                                     headers=world.auth(who))
    return await env.client.post(url, params=params, content=data,
                                 headers={**world.auth(who), "Content-Type": "text/csv"})


@pytest.mark.parametrize("multipart", [False, True], ids=["raw-body", "multipart"])
async def test_woocommerce_sample_imports_its_16_products_and_reports_the_2_rows_it_refuses(env, multipart):
    world = await build_world(env)
    before = await catalog_counts(env)

    imported = await import_file(env, world, "woocommerce", WOO_SAMPLE.read_bytes(), multipart=multipart,
                                 merchant="brand-a")

    assert imported.status_code == 200, imported.text
    report = imported.json()
    assert report_counts(report) == (25, 16, 0, 21, 0)
    assert [(i["line"], i["handle"]) for i in report["issues"]] == [(24, "logo-collection"), (25, "wp-pennant")]
    after = await catalog_counts(env)
    assert (after["products"], after["variants"], after["prices"]) == (
        before["products"] + 16, before["variants"] + 21, before["prices"] + 21)
    assert await variant_id_of(env, "logo-collection") is None and await variant_id_of(env, "wp-pennant") is None
    assert await price_rows(env, await variant_id_of(env, "woo-beanie")) == [("online", "CNY", 1800)]
    assert await search(env, merchant="brand-a", q="hoodie") == [
        "Hoodie", "Hoodie with Logo", "Hoodie with Pocket", "Hoodie with Zipper"]


@pytest.mark.parametrize("multipart", [False, True], ids=["raw-body", "multipart"])
async def test_importing_the_same_file_again_updates_and_never_duplicates(env, multipart):
    world = await build_world(env)
    data = WOO_SAMPLE.read_bytes()
    first = await import_file(env, world, "woocommerce", data, multipart=multipart, merchant="brand-a")
    assert first.status_code == 200, first.text
    after_first = await catalog_counts(env)

    again = await import_file(env, world, "woocommerce", data, multipart=multipart, merchant="brand-a")

    assert again.status_code == 200, again.text
    assert report_counts(again.json()) == (25, 0, 16, 0, 21)
    assert [i["line"] for i in again.json()["issues"]] == [24, 25]
    assert await catalog_counts(env) == after_first


async def test_shopify_product_with_a_bad_row_is_refused_whole_and_the_others_land(env):
    world = await build_world(env)
    before = await catalog_counts(env)

    imported = await import_file(env, world, "shopify", SHOPIFY_FIXTURE.read_bytes())

    assert imported.status_code == 200, imported.text
    report = imported.json()
    assert report_counts(report) == (14, 4, 0, 9, 0)
    assert [(i["line"], i["handle"]) for i in report["issues"]] == [(17, "celadon-mug")]
    assert "12,99x" in report["issues"][0]["reason"]
    assert await variant_id_of(env, "MUG-CEL") is None and await variant_id_of(env, "MUG-IVO") is None
    for sku in ("OCT-S-WHT", "OCT-M-BLK", "TOTE-NAT-01", "TEA-LJ-250", "winter-scarf-navy"):
        assert await variant_id_of(env, sku) is not None, sku
    after = await catalog_counts(env)
    assert (after["products"], after["variants"], after["prices"]) == (
        before["products"] + 4, before["variants"] + 9, before["prices"] + 9)
    assert await search(env, q="celadon") == ["Celadon Mug"]  # brand-a's own mug from the world, not the import


SHOPIFY_STOCK = {"OCT-S-WHT": 12, "OCT-S-BLK": 8, "OCT-M-WHT": 20, "OCT-M-BLK": 0, "TOTE-NAT-01": 40,
                 "TEA-LJ-100": 50, "TEA-LJ-250": 25, "winter-scarf-grey": 0, "winter-scarf-navy": 0}


async def test_import_with_a_location_puts_the_file_stock_on_hand_and_reimport_does_not_double_it(env):
    world = await build_world(env)
    movements_before = await count(env, stock_movements)
    data = SHOPIFY_FIXTURE.read_bytes()

    first = await import_file(env, world, "shopify", data, who="operator", merchant="brand-a", location="WH")
    assert first.status_code == 200, first.text
    on_hand_first = {sku: (await stock_of(env, await variant_id_of(env, sku), world.ids["WH"]))
                     for sku in SHOPIFY_STOCK}
    movements_first = await count(env, stock_movements)
    rows_first = await count(env, stock)
    again = await import_file(env, world, "shopify", data, who="operator", merchant="brand-a", location="WH")

    assert again.status_code == 200, again.text
    assert on_hand_first == {sku: (units, 0) for sku, units in SHOPIFY_STOCK.items()}
    assert movements_first == movements_before + 6  # one `adjust` per SKU the file stocks above zero
    assert {sku: (await stock_of(env, await variant_id_of(env, sku), world.ids["WH"]))
            for sku in SHOPIFY_STOCK} == on_hand_first
    assert await count(env, stock_movements) == movements_first
    assert await count(env, stock) == rows_first


async def test_import_by_staff_of_another_merchant_is_not_found_and_writes_nothing(env):
    world = await build_world(env)
    before = await catalog_counts(env)

    refused = await import_file(env, world, "shopify", SHOPIFY_FIXTURE.read_bytes(), who="staff_b",
                                merchant="brand-a")

    assert_error(refused, 404, "not_found", "merchant")
    assert await catalog_counts(env) == before


async def test_a_shopper_cannot_import(env):
    world = await build_world(env)
    before = await catalog_counts(env)

    refused = await import_file(env, world, "shopify", SHOPIFY_FIXTURE.read_bytes(), who="alice")

    assert_error(refused, 403, "forbidden")
    assert await catalog_counts(env) == before


@pytest.mark.parametrize(
    ("data", "multipart"),
    [
        (b"", False),
        (b"", True),
        (b"Type,SKU,Name\r\nsimple,CAFE-1,Caf\xe9 cr\xe8me\r\n", False),
        (b"Type,SKU,Name\r\nsimple,CAFE-1,Caf\xe9 cr\xe8me\r\n", True),
    ],
    ids=["empty-body", "empty-upload", "latin-1-body", "latin-1-upload"],
)
async def test_an_empty_or_non_utf8_file_is_refused_naming_the_file(env, data, multipart):
    world = await build_world(env)
    before = await catalog_counts(env)

    refused = await import_file(env, world, "woocommerce", data, multipart=multipart)

    assert_error(refused, 422, "invalid_input", "file")
    assert await catalog_counts(env) == before


def multipart_with_file_name(file_name: str, data: bytes, **fields: str) -> tuple[bytes, str]:
    """(body, content type) of a form whose `file` carries `file_name` byte for byte: httpx would percent-encode a
    control character in a file name (a%00b), and a browser or curl can send it raw."""
    boundary = "unichannel-test-boundary"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
             for name, value in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file_name}"\r\n'
                 "Content-Type: text/csv\r\n\r\n".encode() + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize("file_name", ["shop\x00ify.csv", "shop\x1bify.csv"], ids=["nul", "escape"])
async def test_an_upload_whose_file_name_has_a_control_character_is_refused_naming_the_file(env, file_name):
    world = await build_world(env)
    before = await catalog_counts(env)
    body, content_type = multipart_with_file_name(file_name, SHOPIFY_FIXTURE.read_bytes())

    refused = await env.client.post("/api/v1/imports/shopify", content=body,
                                    headers={**world.auth("staff_a"), "Content-Type": content_type})

    assert_error(refused, 422, "invalid_input", "file")
    assert "control character" in refused.json()["message"]
    assert await catalog_counts(env) == before


async def test_a_multipart_upload_without_the_file_field_is_refused(env):
    world = await build_world(env)

    refused = await env.client.post("/api/v1/imports/shopify", files={"upload": ("x.csv", b"a,b", "text/csv")},
                                    headers=world.auth("staff_a"))

    assert_error(refused, 422, "invalid_input", "file")
