"""The merchant console (/console): merchant staff see and change only their own merchant's products, prices, stock
and orders, through the same services as the API; a refused form says why next to the field and changes nothing;
a product import shows its progress and reports each refused line by its number.

The test world: brand-a's TEE-M (¥99.00) has 10 units at WH and 2 at STORE-1, MUG-1 (¥45.50) 10 at WH; brand-b
has its own TEE-M (¥80.00). Neither brand runs a location, so tests that move stock give brand-a a shop of its own."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.integration.test_catalog_api import multipart_with_file_name
from tests.integration.test_orders_api import add, place
from tests.integration.world import _location, build_world, count, stock_of
from unichannel.catalog import repository as catalog_repository
from unichannel.catalog import service as catalog
from unichannel.catalog.model import Channel, ImportIssue, ParsedFile, PriceDraft, ProductDraft, VariantDraft
from unichannel.errors import InvalidInput
from unichannel.inventory import service as inventory

FIXTURES = Path(__file__).parents[1] / "fixtures"


def sign_in(env, world, who: str) -> None:
    env.client.cookies.set("uc_token", world.tokens[who])


async def prices_of(env, variant_id: int) -> set[tuple[str, str, int]]:
    async with env.uow() as uow:
        rows = await catalog_repository.prices_of(uow.conn, [variant_id])
    return {(r["channel"], r["currency"], r["amount_minor"]) for r in rows}


async def shop_of_brand_a(env, world, units: int = 0) -> int:
    """A shop run by brand-a itself (the world's locations are the platform's or another operator's)."""
    async with env.uow() as uow:
        shop = await inventory.create_location(uow, _location("A-SHOP", "store", 30.25, 120.16, world.ids["brand_a"]))
        if units:
            await inventory.receive(uow, None, world.ids["tee"], shop["id"], units, "PO-A")
    return shop["id"]


async def variant_of(env, world, sku: str, merchant: str = "brand_a") -> dict | None:
    async with env.uow() as uow:
        return await catalog_repository.get_variant_by_sku(uow.conn, world.ids[merchant], sku)


# --- who may come in ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("who", "status"), [(None, 401), ("alice", 403), ("clerk_1", 403)],
                         ids=["signed-out", "shopper", "clerk"])
async def test_only_merchant_staff_and_operators_get_the_console_others_get_the_sign_in_page(env, who, status):
    world = await build_world(env)
    if who:
        sign_in(env, world, who)
    for path in ("/console", "/console/products", "/console/stock", "/console/orders", "/console/import",
                 f"/console/labels/{world.ids['tee']}"):
        page = await env.client.get(path)
        assert page.status_code == status, path
        assert 'action="/signin/staff"' in page.text and "Brand A" not in page.text
    refused = await env.client.post(f"/console/prices/{world.ids['tee']}",
                                    data={"channel": "online", "currency": "CNY", "amount": "1.00"})
    assert refused.status_code == status
    assert await prices_of(env, world.ids["tee"]) == {("online", "CNY", 9900)}


async def test_merchant_staff_get_the_overview_with_their_merchant_named(env):
    world = await build_world(env)
    sign_in(env, world, "staff_a")
    page = await env.client.get("/console", params={"lang": "en"})
    assert page.status_code == 200
    assert 'data-testid="console-who">Brand A<' in page.text
    for link in ("/console/products", "/console/stock", "/console/orders", "/console/import"):
        assert f'href="{link}"' in page.text


# --- products, prices and labels ------------------------------------------------------------------------------------


async def test_products_are_the_merchants_own_inactive_ones_included_with_prices_and_stock(env):
    world = await build_world(env)
    async with env.uow() as uow:
        await catalog.apply_draft(uow, world.ids["brand_a"], ProductDraft(
            handle="old-scarf", name="Old Scarf", is_active=False,
            variants=[VariantDraft(sku="SCARF-1", name="One size", prices=[
                PriceDraft(Channel.ONLINE, "CNY", 12000), PriceDraft(Channel.STORE, "USD", 1650)])]))
    sign_in(env, world, "staff_a")

    page = await env.client.get("/console/products", params={"lang": "en"})

    assert page.status_code == 200
    html = page.text
    assert "Cotton Tee" in html and "Celadon Mug" in html and "Old Scarf" in html and "inactive" in html
    assert "Other Tee" not in html  # brand-b's
    assert "CN¥99.00" in html and "CN¥45.50" in html and "CN¥120.00" in html and "$16.50" in html
    tee = world.ids["tee"]
    assert f'href="/console/labels/{tee}"' in html
    row = html[html.index(f'id="variant-{tee}"'):]
    assert re.search(r'<td class="num">12</td>\s*<td class="num">12</td>', row)  # on hand 10 + 2, all available


async def test_a_price_set_in_major_units_is_saved_for_its_channel_and_currency(env):
    world = await build_world(env)
    sign_in(env, world, "staff_a")
    tee = world.ids["tee"]

    saved = await env.client.post(f"/console/prices/{tee}",
                                  data={"channel": "store", "currency": "cny", "amount": " 89.50 "})

    assert saved.status_code == 303 and saved.headers["location"] == f"/console/products?saved={tee}#variant-{tee}"
    assert await prices_of(env, tee) == {("online", "CNY", 9900), ("store", "CNY", 8950)}
    api = await env.client.get(f"/api/v1/products/{world.ids['tee_product']}", headers=world.auth("staff_a"))
    assert {(p["channel"], p["amount_minor"]) for p in api.json()["variants"][0]["prices"]} == {
        ("online", 9900), ("store", 8950)}
    page = await env.client.get("/console/products", params={"saved": tee, "lang": "en"})
    row = page.text[page.text.index(f'id="variant-{tee}"'):]
    assert "CN¥89.50" in row and "Price saved" in row


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"amount": ""}, "amount", "enter a price"),
        ({"amount": "-1.00"}, "amount", "is negative"),
        ({"amount": "1" * 25}, "amount", "too long"),
        ({"amount": "12.345"}, "amount", "more decimals than CNY allows"),
        ({"amount": "12,99x"}, "amount", "is not a number"),
        ({"amount": "99999999999.00"}, "amount", "too large"),
        ({"currency": "XYZ"}, "currency", "ISO 4217"),
        ({"currency": "YUAN"}, "currency", "too long"),
        ({"channel": "phone"}, "channel", "is not one of"),
    ],
    ids=["empty", "negative", "too-long", "fraction-of-a-fen", "not-a-number", "too-large", "unknown-currency",
         "long-currency", "unknown-channel"],
)
async def test_a_bad_price_is_refused_next_to_its_field_and_nothing_changes(env, form, field, message):
    world = await build_world(env)
    sign_in(env, world, "staff_a")
    tee = world.ids["tee"]

    refused = await env.client.post(f"/console/prices/{tee}", params={"lang": "en"},
                                    data={"channel": "online", "currency": "CNY", "amount": "10.00"} | form)

    assert refused.status_code == 422
    error_id = f"price-{tee}-{field}-error"
    error = re.search(rf'<p id="{error_id}" class="field-error">([^<]*)</p>', refused.text)
    assert error and message in error.group(1)
    assert re.search(rf'aria-invalid="true"\s*aria-describedby="[^"]*{error_id}"', refused.text)
    assert refused.text.count('class="field-error"') == 1 and "Traceback" not in refused.text
    assert await prices_of(env, tee) == {("online", "CNY", 9900)}


async def test_another_merchants_sku_cannot_be_priced_or_labelled_it_looks_absent(env):
    world = await build_world(env)
    sign_in(env, world, "staff_a")
    other = world.ids["tee_b"]

    priced = await env.client.post(f"/console/prices/{other}", data={"channel": "online", "currency": "CNY",
                                                                      "amount": "1.00"})
    label = await env.client.get(f"/console/labels/{other}")

    assert priced.status_code == 404 and label.status_code == 404
    assert await prices_of(env, other) == {("online", "CNY", 8000)}


async def test_a_shelf_label_shows_name_sku_price_and_the_scan_to_cart_qr_and_prints_alone(env):
    world = await build_world(env)
    sign_in(env, world, "staff_a")
    tee = world.ids["tee"]

    label = await env.client.get(f"/console/labels/{tee}", params={"copies": 3})

    assert label.status_code == 200
    html = label.text
    assert html.count('class="shelf-label"') == 3
    assert "Cotton Tee" in html and "TEE-M" in html and "6901234567892" in html
    assert 'data-testid="label-price">¥99.00<' in html
    assert f'src="/api/v1/variants/{tee}/qr.svg"' in html and "@media print" in html
    qr = await env.client.get(f"/api/v1/variants/{tee}/qr.svg")
    assert qr.status_code == 200 and qr.headers["content-type"].startswith("image/svg+xml")


# --- stock -----------------------------------------------------------------------------------------------------------


async def test_the_stock_page_shows_on_hand_reserved_and_available_per_location_of_the_merchants_skus(env):
    world = await build_world(env)
    sign_in(env, world, "staff_a")

    page = await env.client.get("/console/stock", params={"lang": "en"})

    assert page.status_code == 200
    tee, mug = world.ids["tee"], world.ids["mug"]
    for variant, location, units in ((tee, "WH", 10), (tee, "STORE-1", 2), (mug, "WH", 10)):
        assert f'data-testid="on-hand-{variant}-{world.ids[location]}">{units}<' in page.text
    assert f'on-hand-{world.ids["tee_b"]}-' not in page.text  # brand-b's TEE-M at WH
    assert "runs no stores or warehouses of its own" in page.text


async def test_a_stock_adjustment_moves_on_hand_by_exactly_the_delta_once_even_if_sent_twice(env):
    world = await build_world(env)
    shop = await shop_of_brand_a(env, world, units=5)
    sign_in(env, world, "staff_a")
    form = {"variant_id": str(world.ids["tee"]), "location_id": str(shop), "delta": "-2", "reason": "stock count",
            "request_key": "adjust-form-1"}

    first = await env.client.post("/console/stock/adjust", data=form)
    again = await env.client.post("/console/stock/adjust", data=form)  # a double click

    assert first.status_code == again.status_code == 303
    assert await stock_of(env, world.ids["tee"], shop) == (3, 0)
    more = await env.client.post("/console/stock/adjust", data=form | {"delta": "+4", "request_key": "adjust-form-2"})
    assert more.status_code == 303 and await stock_of(env, world.ids["tee"], shop) == (7, 0)
    assert await stock_of(env, world.ids["tee"], world.ids["WH"]) == (10, 0)


@pytest.mark.parametrize(
    ("form", "field", "status", "message"),
    [
        ({"delta": "two"}, "delta", 422, "a whole number"),
        ({"delta": "1.5"}, "delta", 422, "a whole number"),
        ({"delta": "0"}, "delta", 422, "at least one unit"),
        ({"delta": "-6"}, "delta", 409, "unreserved units are on hand"),
        ({"reason": "  "}, "reason", 422, "required"),
        ({"reason": "x" * 201}, "reason", 422, "too long"),
        ({"location_id": ""}, "location_id", 422, "required"),
        ({"location_id": "WH"}, "location_id", 404, "no such location"),  # the platform's warehouse
    ],
    ids=["words", "fraction", "zero", "below-reserved", "no-reason", "long-reason", "no-location", "not-theirs"],
)
async def test_a_refused_stock_adjustment_says_why_next_to_the_field_and_changes_nothing(
    env, form, field, status, message
):
    world = await build_world(env)
    shop = await shop_of_brand_a(env, world, units=5)
    sign_in(env, world, "staff_a")
    values = {"variant_id": str(world.ids["tee"]), "location_id": str(shop), "delta": "-1", "reason": "count"} | form
    if values["location_id"] == "WH":
        values["location_id"] = str(world.ids["WH"])

    refused = await env.client.post("/console/stock/adjust", data=values, params={"lang": "en"})

    assert refused.status_code == status
    error = re.search(rf'<p id="adjust-{field.removesuffix("_id")}-error" class="field-error">([^<]*)</p>',
                      refused.text)
    assert error and message in error.group(1)
    assert await stock_of(env, world.ids["tee"], shop) == (5, 0)
    assert await stock_of(env, world.ids["tee"], world.ids["WH"]) == (10, 0)


async def test_a_transfer_moves_units_out_of_the_merchants_shop_and_into_the_destination(env):
    world = await build_world(env)
    shop = await shop_of_brand_a(env, world, units=5)
    sign_in(env, world, "staff_a")
    form = {"variant_id": str(world.ids["tee"]), "from_location_id": str(shop),
            "to_location_id": str(world.ids["STORE-1"]), "quantity": "3", "request_key": "transfer-1"}

    moved = await env.client.post("/console/stock/transfer", data=form)
    too_many = await env.client.post("/console/stock/transfer", data=form | {"quantity": "3", "request_key": "t-2"},
                                     params={"lang": "en"})

    assert moved.status_code == 303
    assert await stock_of(env, world.ids["tee"], shop) == (2, 0)
    assert await stock_of(env, world.ids["tee"], world.ids["STORE-1"]) == (5, 0)
    assert too_many.status_code == 409 and 'id="transfer-quantity-error"' in too_many.text
    assert await stock_of(env, world.ids["tee"], shop) == (2, 0)


# --- orders ----------------------------------------------------------------------------------------------------------


async def orders_of_both_brands(env, world) -> tuple[int, int]:
    """Alice's cart with both brands' TEE-M, placed: one order per merchant (a's, b's)."""
    await add(env, world, "alice", "TEE-M", 1, "brand-a")
    await add(env, world, "alice", "TEE-M", 2, "brand-b")
    placed = await place(env, world, "alice")
    assert placed.status_code == 201, placed.text
    by_merchant = {o["merchant_id"]: o["id"] for o in placed.json()["orders"]}
    return by_merchant[world.ids["brand_a"]], by_merchant[world.ids["brand_b"]]


async def test_merchant_staff_see_their_orders_not_another_merchants(env):
    world = await build_world(env)
    mine, theirs = await orders_of_both_brands(env, world)
    sign_in(env, world, "staff_a")

    listed = await env.client.get("/console/orders", params={"lang": "en"})
    detail = await env.client.get(f"/console/orders/{mine}", params={"lang": "en"})
    hidden = await env.client.get(f"/console/orders/{theirs}")

    assert listed.status_code == 200
    assert f'href="/console/orders/{mine}"' in listed.text and f'href="/console/orders/{theirs}"' not in listed.text
    assert f'data-testid="status-{mine}">awaiting payment<' in listed.text
    assert detail.status_code == 200 and "TEE-M" in detail.text and "CN¥99.00" in detail.text
    assert re.search(r'data-testid="history">\s*<li>[^<]*awaiting payment', detail.text)
    assert hidden.status_code == 404
    sign_in(env, world, "operator")
    everything = await env.client.get("/console/orders")
    assert f'/console/orders/{mine}"' in everything.text and f'/console/orders/{theirs}"' in everything.text


async def test_orders_filter_by_status_and_an_unknown_status_is_said_next_to_the_filter(env):
    world = await build_world(env)
    mine, _ = await orders_of_both_brands(env, world)
    sign_in(env, world, "staff_a")

    placed = await env.client.get("/console/orders", params={"status": "placed"})
    paid = await env.client.get("/console/orders", params={"status": "paid"})
    unknown = await env.client.get("/console/orders", params={"status": "lost"})

    assert f'/console/orders/{mine}"' in placed.text and f'/console/orders/{mine}"' not in paid.text
    assert unknown.status_code == 422 and 'id="order-status-error"' in unknown.text


async def test_a_paid_order_is_prepared_from_the_console_through_the_order_service(env):
    world = await build_world(env)
    mine, _ = await orders_of_both_brands(env, world)
    paid = await env.client.post(f"/api/v1/orders/{mine}/pay", json={}, headers=world.auth("alice"))
    assert paid.status_code == 200, paid.text
    sign_in(env, world, "staff_a")

    page = await env.client.get(f"/console/orders/{mine}", params={"lang": "en"})
    moved = await env.client.post(f"/console/orders/{mine}/move", data={"to": "allocated"})
    again = await env.client.post(f"/console/orders/{mine}/move", data={"to": "allocated"}, params={"lang": "en"})

    assert 'value="allocated"' in page.text and 'value="completed"' not in page.text
    assert moved.status_code == 303
    api = await env.client.get(f"/api/v1/orders/{mine}", headers=world.auth("staff_a"))
    assert api.json()["status"] == "allocated" and len(api.json()["shipments"]) == 1
    assert again.status_code == 409 and 'id="move-error"' in again.text and "cannot become allocated" in again.text


# --- imports ---------------------------------------------------------------------------------------------------------


async def upload(env, source: str, name: str, **fields: str):
    data = (FIXTURES / name).read_bytes()
    return await env.client.post("/console/import", data={"source": source, **fields},
                                 files={"file": (name, data, "text/csv")}, params={"lang": "en"})


async def test_a_woocommerce_file_with_a_bad_row_imports_the_rest_and_reports_that_line(env):
    world = await build_world(env)
    shop = await shop_of_brand_a(env, world)
    sign_in(env, world, "staff_a")

    started = await upload(env, "woocommerce", "woocommerce_bad_row.csv", location_id=str(shop))

    assert started.status_code == 303, started.text
    report = await env.client.get(started.headers["location"], params={"lang": "en"})
    assert report.status_code == 200
    html = report.text
    assert 'data-state="done"' in html and "hx-get" not in html  # finished: the page does not ask
    assert '<progress id="import-bar" max="2" value="2">' in html and "Read 10 rows" in html
    assert re.findall(r'data-testid="issue-line">(\d+)<', html) == ["6"]
    assert "woo-vneck-tee" in html and "Regular price: &#39;$20&#39; is not a number" in html
    assert "2 products and 5 variants created" in html
    for sku in ("woo-hoodie-red", "woo-hoodie-blue-logo", "woo-beanie"):
        assert await variant_of(env, world, sku) is not None, sku
    assert await variant_of(env, world, "woo-vneck-tee-red") is None
    assert await variant_of(env, world, "woo-vneck-tee-green") is None


async def test_a_shopify_import_puts_the_file_stock_at_the_chosen_location_and_polls_until_done(env):
    world = await build_world(env)
    shop = await shop_of_brand_a(env, world)
    sign_in(env, world, "staff_a")

    started = await upload(env, "shopify", "shopify_products.csv", location_id=str(shop))

    assert started.status_code == 303, started.text
    job_id = started.headers["location"].rsplit("/", 1)[1]
    fragment = await env.client.get(f"/console/import/{job_id}/progress", params={"lang": "en"})
    assert fragment.status_code == 286 and 'data-state="done"' in fragment.text  # 286: htmx stops polling
    assert re.findall(r'data-testid="issue-line">(\d+)<', fragment.text) == ["17"]
    assert "4 products and 9 variants created" in fragment.text
    tee = await variant_of(env, world, "OCT-S-WHT")
    assert await stock_of(env, tee["id"], shop) == (12, 0)
    sign_in(env, world, "staff_b")  # another merchant cannot look at this import
    refused = await env.client.get(started.headers["location"])
    assert refused.status_code == 404 and "shopify_products.csv" not in refused.text


@pytest.mark.parametrize(
    ("fields", "with_file", "field", "message"),
    [
        ({"source": "woocommerce"}, False, "file", "the file is empty"),
        ({}, True, "source", "required"),
        ({"source": "shopify", "location_id": "WH"}, True, "location", "no such location"),
    ],
    ids=["no-file", "no-source", "platform-location"],
)
async def test_an_import_that_cannot_start_says_why_next_to_the_field_and_imports_nothing(
    env, fields, with_file, field, message
):
    world = await build_world(env)
    sign_in(env, world, "staff_a")
    if fields.get("location_id") == "WH":
        fields = fields | {"location_id": str(world.ids["WH"])}
    data = (FIXTURES / "shopify_products.csv").read_bytes() if with_file else b""

    refused = await env.client.post("/console/import", data=fields, files={"file": ("x.csv", data, "text/csv")},
                                    params={"lang": "en"})

    assert refused.status_code in (404, 422)
    error = re.search(rf'<p id="import-{field}-error" class="field-error">([^<]*)</p>', refused.text)
    assert error and message in error.group(1)
    assert await variant_of(env, world, "OCT-S-WHT") is None


# A NUL in the upload's file name was a 503 on PostgreSQL (which cannot store it) and was stored as is on SQLite.
@pytest.mark.parametrize(
    ("file_name", "lang", "message"),
    [
        ("shop\x00ify.csv", "en", "the file name contains a control character (U+0000)"),
        ("shop\x07ify.csv", "zh_CN", "文件名含有控制字符 U+0007，请给文件改名后重新上传"),
    ],
    ids=["nul-english", "bell-chinese"],
)
async def test_a_file_name_with_a_control_character_is_refused_next_to_the_file_field_and_records_nothing(
    env, file_name, lang, message
):
    world = await build_world(env)
    sign_in(env, world, "staff_a")
    body, content_type = multipart_with_file_name(file_name, (FIXTURES / "shopify_products.csv").read_bytes(),
                                                  source="shopify")

    refused = await env.client.post("/console/import", content=body, headers={"Content-Type": content_type},
                                    params={"lang": lang})

    assert refused.status_code == 422
    error = re.search(r'<p id="import-file-error" class="field-error">([^<]*)</p>', refused.text)
    assert error and message in error.group(1)
    assert await count(env, catalog_repository.import_jobs) == 0
    assert await variant_of(env, world, "OCT-S-WHT") is None


async def test_an_import_is_never_recorded_under_a_file_name_with_a_control_character(env):
    world = await build_world(env)
    staff = await env.app.state.authenticator.authenticate(world.tokens["staff_a"])

    with pytest.raises(InvalidInput) as refused:
        async with env.uow() as uow:
            await catalog.start_import(uow, staff, world.ids["brand_a"], source="shopify", file_name="big\x00.csv",
                                       location_id=None, parsed=ParsedFile([], [], 0))

    assert (refused.value.field, refused.value.details) == ("file", {"character": "U+0000"})
    assert await count(env, catalog_repository.import_jobs) == 0


async def running_import(env, world, who: str = "staff_a", *, products: int = 120, done: int = 40) -> int:
    """An import of brand-a's recorded as a worker records it: started, then one chunk of `done` products applied."""
    staff = await env.app.state.authenticator.authenticate(world.tokens[who])
    parsed = ParsedFile([ProductDraft(handle=f"p{n}", name="P") for n in range(products)],
                        [ImportIssue(7, "a bad price", "p-bad")], rows_read=400)
    async with env.uow() as uow:
        job = await catalog.start_import(uow, staff, world.ids["brand_a"], source="shopify", file_name="big.csv",
                                         location_id=None, parsed=parsed)
    async with env.uow() as uow:
        assert await catalog.record_import_chunk(uow, job.id, catalog.ImportReport(products_created=done), done)
    return job.id


async def test_while_an_import_runs_its_progress_fragment_shows_how_far_it_got_and_asks_again(env):
    world = await build_world(env)
    sign_in(env, world, "staff_a")
    job_id = await running_import(env, world)

    page = await env.client.get(f"/console/import/{job_id}", params={"lang": "en"})
    fragment = await env.client.get(f"/console/import/{job_id}/progress", params={"lang": "en"})

    assert page.status_code == 200
    assert re.search(rf'hx-get="/console/import/{job_id}/progress"\s*hx-trigger="every 600ms"', page.text)
    assert fragment.status_code == 200 and 'data-state="running"' in fragment.text
    assert '<progress id="import-bar" max="120" value="40">33%</progress>' in fragment.text
    assert "Read 400 rows" in fragment.text and "Saved 40 of 120 products" in fragment.text
    assert "40 products and 0 variants created" in fragment.text
    assert "Error report" not in fragment.text and "a bad price" not in fragment.text  # the report comes at the end


async def test_an_import_whose_process_went_away_shows_as_interrupted_and_says_importing_again_is_safe(env):
    world = await build_world(env)
    sign_in(env, world, "staff_a")
    job_id = await running_import(env, world)
    env.clock.advance(minutes=6)  # nothing wrote the row since: the process applying the file is gone

    page = await env.client.get(f"/console/import/{job_id}", params={"lang": "en"})
    fragment = await env.client.get(f"/console/import/{job_id}/progress", params={"lang": "en"})
    listing = await env.client.get("/console/import", params={"lang": "en"})

    assert page.status_code == 200 and 'data-state="interrupted"' in page.text
    assert "hx-get" not in page.text and 'http-equiv="refresh"' not in page.text  # nothing will move: no polling
    assert "the server process running it went away" in page.text
    assert "importing the same file again is safe" in page.text
    assert "Saved 40 of 120 products" in page.text and "Import finished" not in page.text
    assert fragment.status_code == 286 and 'data-state="interrupted"' in fragment.text  # 286: htmx stops polling
    assert re.findall(r'data-testid="issue-line">(\d+)<', fragment.text) == ["7"]  # the report so far
    assert re.search(rf'href="/console/import/{job_id}">big.csv</a>.*?<span class="badge bad">stopped</span>',
                     listing.text, re.S)
    async with env.uow() as uow:  # shown as interrupted, never written so: the row is the worker's alone
        row = await catalog_repository.get_import_job(uow.conn, job_id, with_issues=False)
    assert row["status"] == "running" and row["finished_at"] is None and row["products_done"] == 40


async def test_an_import_whose_database_fails_is_recorded_as_failed_and_ends_the_polling(env, monkeypatch):
    world = await build_world(env)
    sign_in(env, world, "staff_a")

    async def database_gone(*args, **kwargs):
        raise ConnectionError("the database went away")

    monkeypatch.setattr(catalog, "import_parsed", database_gone)
    started = await upload(env, "shopify", "shopify_products.csv")
    job_id = int(started.headers["location"].rsplit("/", 1)[1])
    fragment = await env.client.get(f"/console/import/{job_id}/progress", params={"lang": "en"})

    assert fragment.status_code == 286 and 'data-state="failed"' in fragment.text
    assert "the database is unavailable" in fragment.text and "Saved 0 of 4 products" in fragment.text
    async with env.uow() as uow:
        row = await catalog_repository.get_import_job(uow.conn, job_id, with_issues=False)
    assert (row["status"], row["products_done"], row["finished_at"]) == ("failed", 0, env.clock.now())
    assert await variant_of(env, world, "OCT-S-WHT") is None


async def test_importing_the_same_file_again_creates_nothing_and_sets_the_same_stock(env):
    world = await build_world(env)
    shop = await shop_of_brand_a(env, world)
    sign_in(env, world, "staff_a")
    first = await upload(env, "shopify", "shopify_products.csv", location_id=str(shop))
    products = await count(env, catalog_repository.products)
    variants = await count(env, catalog_repository.variants)

    again = await upload(env, "shopify", "shopify_products.csv", location_id=str(shop))

    assert first.status_code == again.status_code == 303
    assert first.headers["location"] != again.headers["location"]  # a second import of its own
    report = await env.client.get(again.headers["location"], params={"lang": "en"})
    assert "0 products and 0 variants created; 4 products and 9 variants updated" in report.text
    assert re.findall(r'data-testid="issue-line">(\d+)<', report.text) == ["17"]
    assert await count(env, catalog_repository.products) == products
    assert await count(env, catalog_repository.variants) == variants
    tee = await variant_of(env, world, "OCT-S-WHT")
    assert await stock_of(env, tee["id"], shop) == (12, 0)  # set to the file's count, not added to it


async def test_a_merchant_sees_only_its_own_imports_and_an_operator_sees_every_merchants(env):
    world = await build_world(env)
    sign_in(env, world, "staff_a")
    started = await upload(env, "woocommerce", "woocommerce_bad_row.csv")
    job_id = int(started.headers["location"].rsplit("/", 1)[1])

    sign_in(env, world, "staff_b")
    page = await env.client.get(f"/console/import/{job_id}", params={"lang": "en"})
    fragment = await env.client.get(f"/console/import/{job_id}/progress", params={"lang": "en"})
    listing = await env.client.get("/console/import", params={"lang": "en"})
    assert page.status_code == 404 and fragment.status_code == 404 and fragment.text == ""
    for html in (page.text, listing.text):
        assert "woocommerce_bad_row.csv" not in html and "Read 10 rows" not in html and "woo-vneck-tee" not in html
    assert listing.status_code == 200 and "/console/import/" not in listing.text  # no import of brand-b's to list

    sign_in(env, world, "operator")
    listing = await env.client.get("/console/import", params={"lang": "en"})
    page = await env.client.get(f"/console/import/{job_id}", params={"lang": "en"})
    assert re.findall(r'href="/console/import/(\d+)"', listing.text) == [str(job_id)]
    assert re.search(r"woocommerce_bad_row.csv</a>.*?Brand A", listing.text, re.S)
    assert page.status_code == 200 and re.findall(r'data-testid="issue-line">(\d+)<', page.text) == ["6"]
