"""Product CSV importers: WooCommerce export and Shopify product CSV into import drafts."""

from __future__ import annotations

import ast
import csv
import io
from pathlib import Path

import pytest

from unichannel.catalog import imports
from unichannel.catalog.imports import parse_shopify, parse_woocommerce
from unichannel.catalog.model import Channel, ImportIssue, ParsedFile, PriceDraft, VariantDraft
from unichannel.errors import InvalidInput

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
WOO_SAMPLE_PATHS = (
    ROOT / "src" / "unichannel" / "demo" / "data" / "woocommerce_sample_products.csv",
    Path("/work/shared/data/woocommerce_sample_products.csv"),
)
WOO_SAMPLE = next((path for path in WOO_SAMPLE_PATHS if path.exists()), WOO_SAMPLE_PATHS[0])
REFUSED = "; the whole product is not imported"
GROUPED_ISSUE = ImportIssue(
    24,
    "grouped products are not imported: a grouped product only lists other products and has no stock or price "
    "of its own",
    "logo-collection",
)
EXTERNAL_ISSUE = ImportIssue(
    25,
    "external products are not imported: they are sold by another site (External URL), so there is no stock here "
    "to sell",
    "wp-pennant",
)
SAMPLE_HANDLES = [
    "woo-vneck-tee",
    "woo-hoodie",
    "woo-hoodie-with-logo",
    "woo-tshirt",
    "woo-beanie",
    "woo-belt",
    "woo-cap",
    "woo-sunglasses",
    "woo-hoodie-with-pocket",
    "woo-hoodie-with-zipper",
    "woo-long-sleeve-tee",
    "woo-polo",
    "woo-album",
    "woo-single",
    "Woo-tshirt-logo",
    "Woo-beanie-logo",
]
SHOPIFY_COLUMNS = [
    "Handle",
    "Title",
    "Body (HTML)",
    "Vendor",
    "Product Category",
    "Type",
    "Tags",
    "Published",
    "Option1 Name",
    "Option1 Value",
    "Option2 Name",
    "Option2 Value",
    "Option3 Name",
    "Option3 Value",
    "Variant SKU",
    "Variant Grams",
    "Variant Inventory Tracker",
    "Variant Inventory Qty",
    "Variant Inventory Policy",
    "Variant Fulfillment Service",
    "Variant Price",
    "Variant Compare At Price",
    "Variant Requires Shipping",
    "Variant Taxable",
    "Variant Barcode",
    "Image Src",
    "Image Position",
    "Image Alt Text",
    "Gift Card",
    "SEO Title",
    "SEO Description",
    "Variant Image",
    "Variant Weight Unit",
    "Status",
]


# --- helpers ----------------------------------------------------------------------------------------------------------


def woo_sample_text() -> str:
    return WOO_SAMPLE.read_text(encoding="utf-8")


def woo_sample_rows() -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(woo_sample_text().removeprefix("\ufeff"), newline=""))
    return list(reader.fieldnames or []), list(reader)


def write_csv(header: list[str], rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, restval="", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def woo_sample_with(changes: dict[str, dict[str, str]]) -> str:
    """The real sample with some cells changed, rows picked by their original SKU; one row per line as before."""
    header, rows = woo_sample_rows()
    for row in rows:
        row.update(changes.get(row["SKU"], {}))
    return write_csv(header, rows)


def woo_file(*rows: dict[str, str]) -> str:
    header, _ = woo_sample_rows()
    return write_csv(header, list(rows))


def woo_simple(**cells: str) -> dict[str, str]:
    return {
        "ID": "101",
        "Type": "simple",
        "SKU": "TEA-1",
        "Name": "Jasmine Tea",
        "Published": "1",
        "Regular price": "12.50",
        **cells,
    }


def shopify_file(*rows: dict[str, str], header: list[str] = SHOPIFY_COLUMNS) -> str:
    return write_csv(header, list(rows))


def shopify_row(**cells: str) -> dict[str, str]:
    """A first row of a single-variant product; keyword names are column names with spaces as underscores."""
    row = {
        "Handle": "mug",
        "Title": "Mug",
        "Published": "TRUE",
        "Option1 Name": "Title",
        "Option1 Value": "Default Title",
        "Variant SKU": "MUG-1",
        "Variant Price": "10.00",
        "Status": "active",
    }
    row.update({name.replace("_", " "): value for name, value in cells.items()})
    return row


def variants_by_sku(parsed: ParsedFile) -> dict[str, VariantDraft]:
    return {variant.sku: variant for product in parsed.products for variant in product.variants}


def product(parsed: ParsedFile, handle: str):
    return next(product for product in parsed.products if product.handle == handle)


def online(amount_minor: int, compare_at_minor: int | None = None, currency: str = "USD") -> list[PriceDraft]:
    return [PriceDraft(Channel.ONLINE, currency, amount_minor, compare_at_minor=compare_at_minor)]


# --- WooCommerce: the real sample -------------------------------------------------------------------------------------


def test_real_woocommerce_sample_imports_its_simple_and_variable_products():
    parsed = parse_woocommerce(woo_sample_text(), "USD")

    assert parsed.rows_read == 25
    assert [product.handle for product in parsed.products] == SAMPLE_HANDLES
    assert [len(product.variants) for product in parsed.products] == [3, 4] + [1] * 14
    assert [product.first_line for product in parsed.products] == [2, 3, *range(4, 16), 22, 23]


def test_woocommerce_grouped_and_external_products_are_issues_not_products():
    parsed = parse_woocommerce(woo_sample_text(), "USD")

    assert parsed.issues == [GROUPED_ISSUE, EXTERNAL_ISSUE]
    assert {"logo-collection", "wp-pennant"}.isdisjoint(product.handle for product in parsed.products)
    assert {"logo-collection", "wp-pennant"}.isdisjoint(variants_by_sku(parsed))


def test_woocommerce_variation_joins_its_parent_by_sku():
    vneck = product(parse_woocommerce(woo_sample_text(), "USD"), "woo-vneck-tee")

    assert vneck.name == "V-Neck T-Shirt"
    assert vneck.category_path == ["Clothing", "Tshirts"]
    assert vneck.is_active is True
    assert vneck.image_urls == [
        "https://woocommercecore.mystagingwebsite.com/wp-content/uploads/2017/12/vneck-tee-2.jpg",
        "https://woocommercecore.mystagingwebsite.com/wp-content/uploads/2017/12/vnech-tee-green-1.jpg",
        "https://woocommercecore.mystagingwebsite.com/wp-content/uploads/2017/12/vnech-tee-blue-1.jpg",
    ]
    # The sample's variations leave Size empty, which WooCommerce reads as "any size": no Size option.
    assert [(v.sku, v.name, v.options, v.prices, v.position) for v in vneck.variants] == [
        ("woo-vneck-tee-red", "Red", {"Color": "Red"}, online(2000), 0),
        ("woo-vneck-tee-green", "Green", {"Color": "Green"}, online(2000), 1),
        ("woo-vneck-tee-blue", "Blue", {"Color": "Blue"}, online(1500), 2),
    ]


def test_woocommerce_variations_follow_their_position_column():
    hoodie = product(parse_woocommerce(woo_sample_text(), "USD"), "woo-hoodie")

    assert [(v.sku, v.name, v.options, v.prices) for v in hoodie.variants] == [
        ("woo-hoodie-blue-logo", "Blue / Yes", {"Color": "Blue", "Logo": "Yes"}, online(4500)),
        ("woo-hoodie-red", "Red / No", {"Color": "Red", "Logo": "No"}, online(4200, 4500)),
        ("woo-hoodie-green", "Green / No", {"Color": "Green", "Logo": "No"}, online(4500)),
        ("woo-hoodie-blue", "Blue / No", {"Color": "Blue", "Logo": "No"}, online(4500)),
    ]
    assert [v.position for v in hoodie.variants] == [0, 1, 2, 3]


def test_woocommerce_variation_joins_a_parent_without_sku_by_id():
    variations = ("woo-hoodie-red", "woo-hoodie-green", "woo-hoodie-blue", "woo-hoodie-blue-logo")
    text = woo_sample_with({"woo-hoodie": {"SKU": ""}} | {sku: {"Parent": "id:45"} for sku in variations})

    parsed = parse_woocommerce(text, "USD")

    hoodie = product(parsed, "id:45")
    assert [v.sku for v in hoodie.variants] == [
        "woo-hoodie-blue-logo",
        "woo-hoodie-red",
        "woo-hoodie-green",
        "woo-hoodie-blue",
    ]
    assert parsed.issues == [GROUPED_ISSUE, EXTERNAL_ISSUE]


@pytest.mark.parametrize(
    ("sku", "expected_prices"),
    [
        ("woo-tshirt", online(1800)),
        ("woo-beanie", online(1800, 2000)),
        ("woo-belt", online(5500, 6500)),
        ("woo-single", online(200, 300)),
        ("woo-hoodie-red", online(4200, 4500)),
        ("woo-vneck-tee-blue", online(1500)),
    ],
    ids=["regular-only", "sale-beanie", "sale-belt", "sale-virtual", "sale-variation", "regular-variation"],
)
def test_woocommerce_sale_price_is_the_amount_and_regular_price_the_compare_at(sku, expected_prices):
    assert variants_by_sku(parse_woocommerce(woo_sample_text(), "USD"))[sku].prices == expected_prices


@pytest.mark.parametrize(
    ("currency", "amount_minor"), [("USD", 1800), ("JPY", 18), ("KWD", 18000)], ids=["two-decimals", "none", "three"]
)
def test_woocommerce_prices_are_minor_units_of_the_given_currency(currency, amount_minor):
    tshirt = variants_by_sku(parse_woocommerce(woo_sample_text(), currency))["woo-tshirt"]

    assert tshirt.prices == online(amount_minor, currency=currency)


@pytest.mark.parametrize(
    ("sku", "grams"),
    [
        ("woo-tshirt", 363),
        ("woo-hoodie-with-logo", 907),
        ("woo-beanie", 91),
        ("woo-hoodie-with-pocket", 1361),
        ("woo-album", None),
    ],
    ids=["0.8 lb", "2 lb", "0.2 lb", "3 lb", "no weight"],
)
def test_woocommerce_weight_in_pounds_becomes_whole_grams(sku, grams):
    assert variants_by_sku(parse_woocommerce(woo_sample_text(), "USD"))[sku].grams == grams


def test_woocommerce_variation_without_weight_weighs_what_its_parent_weighs():
    text = woo_sample_with({"woo-hoodie-red": {"Weight (lbs)": "2"}})

    variants = variants_by_sku(parse_woocommerce(text, "USD"))

    assert [variants[sku].grams for sku in ("woo-vneck-tee-red", "woo-vneck-tee-green", "woo-vneck-tee-blue")] == [
        227
    ] * 3
    assert [variants[sku].grams for sku in ("woo-hoodie-red", "woo-hoodie-green", "woo-hoodie-blue")] == [907, 680, 680]


@pytest.mark.parametrize(
    ("column", "weight", "grams"),
    [("Weight (kg)", "0.25", 250), ("Weight (g)", "180", 180), ("Weight (oz)", "8", 227), ("Weight (lbs)", "1", 454)],
    ids=["kg", "g", "oz", "lbs"],
)
def test_woocommerce_weight_unit_is_read_from_the_weight_column_name(column, weight, grams):
    header, _ = woo_sample_rows()
    text = write_csv([column if name == "Weight (lbs)" else name for name in header], [woo_simple(**{column: weight})])

    assert parse_woocommerce(text, "USD").products[0].variants[0].grams == grams


@pytest.mark.parametrize(
    ("cells", "description"),
    [
        (
            {"Description": "<p>Hand-rolled <strong>jasmine</strong> tea &amp; buds.</p><p>Steep 3&nbsp;min.</p>"},
            "Hand-rolled jasmine tea & buds.\nSteep 3 min.",
        ),
        ({"Description": "Picked in spring.\\nRolled by hand."}, "Picked in spring.\nRolled by hand."),
        ({"Description": "", "Short description": "<em>Fragrant</em> green tea."}, "Fragrant green tea."),
        ({"Description": "<script>track()</script>Plain"}, "Plain"),
    ],
    ids=["html-stripped", "escaped-newline", "short-description-fallback", "script-dropped"],
)
def test_woocommerce_description_is_plain_text(cells, description):
    assert parse_woocommerce(woo_file(woo_simple(**cells)), "USD").products[0].description == description


@pytest.mark.parametrize(
    ("published", "is_active"),
    [("1", True), ("0", False), ("-1", False), ("'-1", False)],
    ids=["published", "private", "draft", "draft-formula-escaped"],
)
def test_woocommerce_published_flag_decides_is_active(published, is_active):
    assert parse_woocommerce(woo_file(woo_simple(Published=published)), "USD").products[0].is_active is is_active


@pytest.mark.parametrize(
    ("categories", "path"),
    [
        ("Clothing > Tshirts", ["Clothing", "Tshirts"]),
        ("Tea > Green, Gifts", ["Tea", "Green"]),
        ("Tea\\, Coffee > Green", ["Tea, Coffee", "Green"]),
        ("", []),
    ],
    ids=["one", "first-of-several", "escaped-comma", "none"],
)
def test_woocommerce_first_category_gives_the_category_path(categories, path):
    assert parse_woocommerce(woo_file(woo_simple(Categories=categories)), "USD").products[0].category_path == path


def test_woocommerce_tags_and_images_split_on_unescaped_commas():
    row = woo_simple(Tags="Spring\\, 2024, organic", Images="https://img.example/a.jpg, https://img.example/b.jpg")

    tea = parse_woocommerce(woo_file(row), "USD").products[0]

    assert tea.tags == ["Spring, 2024", "organic"]
    assert tea.image_urls == ["https://img.example/a.jpg", "https://img.example/b.jpg"]


@pytest.mark.parametrize(("stock", "on_hand"), [("12", 12), ("0", 0), ("", None)], ids=["stock", "zero", "untracked"])
def test_woocommerce_stock_column_gives_stock_on_hand(stock, on_hand):
    assert parse_woocommerce(woo_file(woo_simple(Stock=stock)), "USD").products[0].variants[0].stock_on_hand == on_hand


def test_woocommerce_variation_without_sku_gets_parent_sku_and_option_values():
    text = woo_sample_with({"woo-vneck-tee-blue": {"SKU": "", "Attribute 2 value(s)": "Large"}})

    vneck = product(parse_woocommerce(text, "USD"), "woo-vneck-tee")

    assert [(v.sku, v.name, v.options) for v in vneck.variants][2] == (
        "woo-vneck-tee-blue-large",
        "Blue / Large",
        {"Color": "Blue", "Size": "Large"},
    )


def test_woocommerce_simple_product_without_sku_is_refused():
    parsed = parse_woocommerce(woo_sample_with({"woo-belt": {"SKU": ""}}), "USD")

    assert parsed.issues == [
        ImportIssue(7, "a simple product needs a SKU" + REFUSED, "id:58"),
        GROUPED_ISSUE,
        EXTERNAL_ISSUE,
    ]
    assert len(parsed.products) == 15
    assert "id:58" not in [product.handle for product in parsed.products]


@pytest.mark.parametrize("parent", ["woo-missing", "woo-tshirt", "", "id:999"], ids=["unknown", "simple", "none", "id"])
def test_woocommerce_variation_whose_parent_is_missing_is_an_issue(parent):
    parsed = parse_woocommerce(woo_sample_with({"woo-vneck-tee-red": {"Parent": parent}}), "USD")

    reason = f"the variation's parent {parent!r} is not a variable product in this file"
    assert parsed.issues == [ImportIssue(16, reason, "woo-vneck-tee-red"), GROUPED_ISSUE, EXTERNAL_ISSUE]
    assert [v.sku for v in product(parsed, "woo-vneck-tee").variants] == ["woo-vneck-tee-green", "woo-vneck-tee-blue"]
    assert "woo-vneck-tee-red" not in variants_by_sku(parsed)


def test_one_bad_variation_refuses_the_whole_product():
    parsed = parse_woocommerce((FIXTURES / "woocommerce_bad_row.csv").read_text(encoding="utf-8"), "USD")

    assert parsed.rows_read == 10
    assert parsed.issues == [ImportIssue(6, "Regular price: '$20' is not a number" + REFUSED, "woo-vneck-tee")]
    assert [(p.handle, len(p.variants)) for p in parsed.products] == [("woo-hoodie", 4), ("woo-beanie", 1)]
    assert not [sku for sku in variants_by_sku(parsed) if sku.startswith("woo-vneck-tee")]


@pytest.mark.parametrize(
    ("cells", "reason"),
    [
        ({"Regular price": "abc"}, "Regular price: 'abc' is not a number"),
        ({"Regular price": "-5"}, "Regular price: '-5' is negative"),
        ({"Regular price": "20.005"}, "Regular price: '20.005' has more decimals than USD allows"),
        ({"Sale price": "1x"}, "Sale price: '1x' is not a number"),
        ({"Stock": "ten"}, "Stock: 'ten' is not a whole number"),
        ({"Weight (lbs)": "heavy"}, "Weight (lbs): 'heavy' is not a number"),
    ],
    ids=["not-a-number", "negative", "too-many-decimals", "bad-sale-price", "bad-stock", "bad-weight"],
)
def test_woocommerce_bad_variation_value_refuses_its_product_naming_line_column_and_problem(cells, reason):
    parsed = parse_woocommerce(woo_sample_with({"woo-vneck-tee-green": cells}), "USD")

    assert parsed.issues == [ImportIssue(17, reason + REFUSED, "woo-vneck-tee"), GROUPED_ISSUE, EXTERNAL_ISSUE]
    assert [product.handle for product in parsed.products] == [h for h in SAMPLE_HANDLES if h != "woo-vneck-tee"]
    assert not [sku for sku in variants_by_sku(parsed) if sku.startswith("woo-vneck-tee")]


def test_woocommerce_every_bad_row_of_a_product_is_reported():
    changes = {"woo-hoodie-red": {"Regular price": "4O"}, "woo-hoodie-blue-logo": {"Sale price": "-1"}}

    parsed = parse_woocommerce(woo_sample_with(changes), "USD")

    assert parsed.issues == [
        ImportIssue(19, "Regular price: '4O' is not a number" + REFUSED, "woo-hoodie"),
        GROUPED_ISSUE,
        EXTERNAL_ISSUE,
        ImportIssue(26, "Sale price: '-1' is negative" + REFUSED, "woo-hoodie"),
    ]
    assert "woo-hoodie" not in [product.handle for product in parsed.products]


def test_line_numbers_count_multiline_quoted_fields():
    changes = {
        "woo-vneck-tee": {"Description": "<p>Soft jersey.</p>\n<p>Relaxed fit.</p>\n<p>Machine wash.</p>"},
        "woo-tshirt": {"Description": "Line one\r\nLine two"},
        "woo-hoodie-blue-logo": {"Regular price": "abc"},
    }

    parsed = parse_woocommerce(woo_sample_with(changes), "USD")

    assert [(issue.line, issue.handle) for issue in parsed.issues] == [
        (27, "logo-collection"),
        (28, "wp-pennant"),
        (29, "woo-hoodie"),
    ]
    assert [(p.handle, p.first_line) for p in parsed.products][:5] == [
        ("woo-vneck-tee", 2),
        ("woo-hoodie-with-logo", 6),
        ("woo-tshirt", 7),
        ("woo-beanie", 9),
        ("woo-belt", 10),
    ]
    assert product(parsed, "woo-vneck-tee").description == "Soft jersey.\nRelaxed fit.\nMachine wash."
    assert parsed.rows_read == 25


@pytest.mark.parametrize(
    ("changes", "issue"),
    [
        ({"woo-polo": {"SKU": "woo polo"}}, ImportIssue(13, "SKU 'woo polo' is not a valid SKU" + REFUSED, "woo polo")),
        ({"woo-polo": {"Name": ""}}, ImportIssue(13, "product has no name" + REFUSED, "woo-polo")),
        ({"woo-polo": {"Type": "variable"}}, ImportIssue(13, "product has no sellable variant" + REFUSED, "woo-polo")),
    ],
    ids=["invalid-sku", "no-name", "variable-without-variations"],
)
def test_woocommerce_invalid_draft_is_reported_at_the_product_first_line(changes, issue):
    parsed = parse_woocommerce(woo_sample_with(changes), "USD")

    assert parsed.issues == [issue, GROUPED_ISSUE, EXTERNAL_ISSUE]
    assert len(parsed.products) == 15


def test_sku_claimed_by_two_products_refuses_the_later_product():
    parsed = parse_woocommerce(woo_sample_with({"woo-vneck-tee-red": {"SKU": "woo-tshirt"}}), "USD")

    reason = "SKU 'woo-tshirt' already belongs to product 'woo-vneck-tee' (line 2)" + REFUSED
    assert parsed.issues == [ImportIssue(5, reason, "woo-tshirt"), GROUPED_ISSUE, EXTERNAL_ISSUE]
    assert "woo-tshirt" not in [product.handle for product in parsed.products]


def test_woocommerce_unknown_product_type_is_an_issue():
    parsed = parse_woocommerce(woo_sample_with({"woo-cap": {"Type": "subscription"}}), "USD")

    reason = "product type 'subscription' is not one of variation, variable, grouped, external, simple"
    assert parsed.issues == [ImportIssue(8, reason, "woo-cap"), GROUPED_ISSUE, EXTERNAL_ISSUE]


def test_byte_order_mark_is_optional():
    with_bom = woo_sample_text()
    assert with_bom.startswith("\ufeff")

    assert parse_woocommerce(with_bom.removeprefix("\ufeff"), "USD") == parse_woocommerce(with_bom, "USD")


@pytest.mark.parametrize(
    ("parse", "text", "missing"),
    [
        (parse_woocommerce, "ID,Type,Name\r\n1,simple,Tea\r\n", "SKU"),
        (parse_shopify, "Handle,Title,Variant SKU\nmug,Mug,MUG-1\n", "Variant Price"),
        (parse_shopify, "\ufeff", None),
    ],
    ids=["woocommerce-without-sku", "shopify-without-price", "empty-file"],
)
def test_file_without_the_required_columns_is_one_issue_at_line_one(parse, text, missing):
    reason = f"the header lacks the column(s) {missing}" if missing else "the file has no header row"

    assert parse(text, "USD") == ParsedFile(products=[], issues=[ImportIssue(1, reason)], rows_read=0)


@pytest.mark.parametrize("parse", [parse_woocommerce, parse_shopify])
def test_currency_that_is_not_iso_4217_is_refused_before_reading(parse):
    with pytest.raises(InvalidInput):
        parse("irrelevant", "XQZ")


# --- Shopify ----------------------------------------------------------------------------------------------------------


def shopify_fixture() -> ParsedFile:
    return parse_shopify((FIXTURES / "shopify_products.csv").read_text(encoding="utf-8"), "CNY")


def test_shopify_fixture_imports_every_product_but_the_one_with_a_bad_row():
    parsed = shopify_fixture()

    assert parsed.rows_read == 14
    assert [(p.handle, p.first_line, len(p.variants)) for p in parsed.products] == [
        ("organic-cotton-tee", 2, 4),
        ("canvas-tote", 11, 1),
        ("longjing-green-tea", 13, 2),
        ("winter-scarf", 18, 2),
    ]
    assert parsed.issues == [ImportIssue(17, "Variant Price: '12,99x' is not a number" + REFUSED, "celadon-mug")]


def test_shopify_one_bad_row_refuses_the_whole_product():
    parsed = shopify_fixture()

    assert "celadon-mug" not in [product.handle for product in parsed.products]
    assert {"MUG-CEL", "MUG-IVO"}.isdisjoint(variants_by_sku(parsed))


def test_shopify_rows_sharing_a_handle_form_one_product():
    tee = product(shopify_fixture(), "organic-cotton-tee")

    assert (tee.name, tee.tags, tee.is_active) == ("Organic Cotton Tee", ["cotton", "organic", "summer"], True)
    assert tee.category_path == ["Apparel & Accessories", "Clothing", "Shirts & Tops"]
    assert tee.description == "Heavyweight organic cotton, garment-dyed in small batches.\n180 g/m² jersey\nRegular fit"
    assert [(v.sku, v.name, v.options, v.grams, v.stock_on_hand, v.barcode, v.position) for v in tee.variants] == [
        ("OCT-S-WHT", "S / White", {"Size": "S", "Color": "White"}, 180, 12, "6941234500011", 0),
        ("OCT-S-BLK", "S / Black", {"Size": "S", "Color": "Black"}, 180, 8, "6941234500028", 1),
        ("OCT-M-WHT", "M / White", {"Size": "M", "Color": "White"}, 195, 20, "6941234500035", 2),
        ("OCT-M-BLK", "M / Black", {"Size": "M", "Color": "Black"}, 195, 0, "6941234500042", 3),
    ]
    assert [v.prices for v in tee.variants] == [online(2900, 3500, "CNY")] * 4


def test_shopify_image_only_row_is_not_a_variant():
    parsed = shopify_fixture()
    tee, tote = product(parsed, "organic-cotton-tee"), product(parsed, "canvas-tote")

    cdn = "https://cdn.shopify.com/s/files/1/0712/3456/7890/files/"
    assert tee.image_urls == [
        cdn + "tee-white.jpg?v=1714000001",
        cdn + "tee-black.jpg?v=1714000002",
        cdn + "tee-detail.jpg?v=1714000003",
        cdn + "tee-back.jpg?v=1714000004",
    ]
    assert len(tee.variants) == 4
    assert tote.image_urls == [cdn + "tote.jpg?v=1714000010", cdn + "tote-inside.jpg?v=1714000011"]
    assert len(tote.variants) == 1


def test_shopify_images_follow_image_position():
    rows = [
        shopify_row(Image_Src="https://img.example/b.jpg", Image_Position="2"),
        {"Handle": "mug", "Image Src": "https://img.example/a.jpg", "Image Position": "1"},
        {"Handle": "mug", "Image Src": "https://img.example/b.jpg", "Image Position": "3"},
    ]

    mug = parse_shopify(shopify_file(*rows), "CNY").products[0]

    assert mug.image_urls == ["https://img.example/a.jpg", "https://img.example/b.jpg"]


def test_shopify_default_title_is_a_single_variant_without_options():
    tote = product(shopify_fixture(), "canvas-tote")

    assert tote.variants == [
        VariantDraft(
            sku="TOTE-NAT-01",
            name="Canvas Tote Bag",
            options={},
            barcode="6941234500059",
            grams=320,
            prices=online(1850, currency="CNY"),
            stock_on_hand=40,
            position=0,
        )
    ]
    assert tote.description == "Undyed 12 oz cotton canvas with an inside pocket."


def test_shopify_grams_and_stock_come_from_variant_columns():
    tea = product(shopify_fixture(), "longjing-green-tea")

    assert tea.category_path == ["Food, Beverages & Tobacco", "Beverages", "Tea & Infusions"]
    assert [(v.sku, v.name, v.options, v.grams, v.stock_on_hand, v.prices) for v in tea.variants] == [
        ("TEA-LJ-100", "100 g", {"Weight": "100 g"}, 130, 50, online(6800, currency="CNY")),
        ("TEA-LJ-250", "250 g", {"Weight": "250 g"}, 300, 25, online(15000, currency="CNY")),
    ]


def test_shopify_untracked_inventory_has_no_stock_figure():
    scarf = product(shopify_fixture(), "winter-scarf")

    assert [v.stock_on_hand for v in scarf.variants] == [None, None]


def test_shopify_variant_without_sku_gets_handle_and_option_values():
    scarf = product(shopify_fixture(), "winter-scarf")
    single = parse_shopify(shopify_file(shopify_row(Handle="plain-mug", Variant_SKU="")), "CNY").products[0]

    assert [(v.sku, v.name) for v in scarf.variants] == [("winter-scarf-grey", "Grey"), ("winter-scarf-navy", "Navy")]
    assert [v.sku for v in single.variants] == ["plain-mug"]


@pytest.mark.parametrize(
    ("published", "status", "is_active"),
    [
        ("TRUE", "active", True),
        ("TRUE", "draft", False),
        ("TRUE", "archived", False),
        ("FALSE", "active", False),
        ("true", "", True),
        ("", "Active", True),
    ],
    ids=["published-active", "draft", "archived", "unpublished", "no-status", "no-published"],
)
def test_shopify_published_and_status_decide_is_active(published, status, is_active):
    parsed = parse_shopify(shopify_file(shopify_row(Published=published, Status=status)), "CNY")

    assert parsed.products[0].is_active is is_active


@pytest.mark.parametrize(
    ("category", "product_type", "path"),
    [
        ("Home & Garden > Kitchen & Dining", "Mugs", ["Home & Garden", "Kitchen & Dining"]),
        ("", "Mugs", ["Mugs"]),
        ("", "", []),
    ],
    ids=["product-category", "type-fallback", "none"],
)
def test_shopify_category_path_is_product_category_else_type(category, product_type, path):
    row = shopify_row(Product_Category=category, Type=product_type)

    assert parse_shopify(shopify_file(row), "CNY").products[0].category_path == path


def test_shopify_handle_reappearing_later_merges_into_one_product():
    rows = [
        shopify_row(Option1_Name="Color", Option1_Value="Celadon", Variant_SKU="MUG-CEL"),
        shopify_row(Handle="bowl", Title="Bowl", Variant_SKU="BOWL-1"),
        {"Handle": "mug", "Option1 Value": "Ivory", "Variant SKU": "MUG-IVO", "Variant Price": "11.00"},
    ]

    parsed = parse_shopify(shopify_file(*rows), "CNY")

    assert [(p.handle, p.first_line) for p in parsed.products] == [("mug", 2), ("bowl", 3)]
    assert [(v.sku, v.options, v.prices, v.position) for v in parsed.products[0].variants] == [
        ("MUG-CEL", {"Color": "Celadon"}, online(1000, currency="CNY"), 0),
        ("MUG-IVO", {"Color": "Ivory"}, online(1100, currency="CNY"), 1),
    ]
    assert parsed.issues == []


def test_shopify_first_row_without_title_refuses_the_handle():
    rows = [
        {"Handle": "mystery", "Variant SKU": "MYS-1", "Variant Price": "5.00"},
        shopify_row(Handle="mystery", Variant_SKU="MYS-2"),
    ]

    parsed = parse_shopify(shopify_file(*rows), "CNY")

    reason = "handle 'mystery' first appears without a Title" + REFUSED
    assert parsed == ParsedFile(products=[], issues=[ImportIssue(2, reason, "mystery")], rows_read=2)


def test_shopify_duplicate_sku_within_a_product_refuses_it():
    rows = [
        shopify_row(Option1_Name="Color", Option1_Value="Celadon"),
        {"Handle": "mug", "Option1 Value": "Ivory", "Variant SKU": "MUG-1", "Variant Price": "10.00"},
    ]

    parsed = parse_shopify(shopify_file(*rows), "CNY")

    assert parsed.issues == [ImportIssue(2, "SKU 'MUG-1' appears twice in the product" + REFUSED, "mug")]
    assert parsed.products == []


@pytest.mark.parametrize(
    ("cells", "reason"),
    [
        ({"Variant_Price": "-1"}, "Variant Price: '-1' is negative"),
        ({"Variant_Price": "10.001"}, "Variant Price: '10.001' has more decimals than CNY allows"),
        ({"Variant_Compare_At_Price": "abc"}, "Variant Compare At Price: 'abc' is not a number"),
        ({"Variant_Grams": "heavy"}, "Variant Grams: 'heavy' is not a whole number"),
        (
            {"Variant_Inventory_Tracker": "shopify", "Variant_Inventory_Qty": "1.5"},
            "Variant Inventory Qty: '1.5' is not a whole number",
        ),
        ({"Variant_Barcode": "12"}, "barcode '12' of SKU 'MUG-1' is not a valid barcode"),
    ],
    ids=["negative-price", "too-many-decimals", "bad-compare-at", "bad-grams", "fractional-stock", "short-barcode"],
)
def test_shopify_bad_value_refuses_its_product_naming_column_and_problem(cells, reason):
    parsed = parse_shopify(shopify_file(shopify_row(**cells)), "CNY")

    assert parsed == ParsedFile(products=[], issues=[ImportIssue(2, reason + REFUSED, "mug")], rows_read=1)


def test_shopify_row_without_handle_is_an_issue():
    parsed = parse_shopify(shopify_file(shopify_row(), {"Title": "Orphan", "Variant Price": "1.00"}), "CNY")

    assert parsed.issues == [ImportIssue(3, "the row has no Handle")]
    assert [product.handle for product in parsed.products] == ["mug"]


def test_shopify_gift_card_is_not_imported():
    parsed = parse_shopify(shopify_file(shopify_row(Handle="gift-card", Gift_Card="TRUE")), "CNY")

    reason = "gift cards are not imported: a gift card is stored value, not stock"
    assert parsed == ParsedFile(products=[], issues=[ImportIssue(2, reason, "gift-card")], rows_read=1)


def test_shopify_column_names_match_case_insensitively_and_optional_columns_may_be_missing():
    text = "HANDLE,title,variant price\r\nplain-mug,Plain Mug,9.90\r\n"

    assert parse_shopify(text, "CNY").products[0].variants == [
        VariantDraft(sku="plain-mug", name="Plain Mug", prices=online(990, currency="CNY"))
    ]


def test_shopify_row_with_no_variant_fields_and_no_image_adds_nothing():
    rows = [shopify_row(), {"Handle": "mug", "SEO Title": "Mug | Kiln Works"}]

    parsed = parse_shopify(shopify_file(*rows), "CNY")

    assert [(v.sku, v.position) for v in parsed.products[0].variants] == [("MUG-1", 0)]
    assert parsed.products[0].image_urls == []


# --- The module stays pure --------------------------------------------------------------------------------------------


def test_importers_import_no_database_http_or_clock():
    tree = ast.parse(Path(imports.__file__).read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}

    assert imported == {
        "__future__",
        "csv",
        "io",
        "re",
        "collections.abc",
        "dataclasses",
        "decimal",
        "html.parser",
        "unichannel.catalog.model",
        "unichannel.errors",
        "unichannel.money",
    }
