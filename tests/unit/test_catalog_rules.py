"""Catalog rules (`unichannel.catalog.model`): scanned codes, channel prices, slugs, SKUs, barcodes, import drafts,
the state an import job is shown in."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from unichannel.catalog.model import (
    IMPORT_SILENCE_LIMIT,
    Channel,
    ImportStatus,
    PriceDraft,
    ProductDraft,
    ScanCode,
    VariantDraft,
    check_barcode,
    check_sku,
    check_slug,
    choose_price,
    import_state,
    parse_scan_payload,
    slugify,
    validate_draft,
)
from unichannel.errors import InvalidInput

# --- scanned codes ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ("https://shop.unichannel.cn/scan/12", ScanCode(variant_id=12)),
        ("http://192.168.1.20:8000/scan/12", ScanCode(variant_id=12)),
        ("/scan/12", ScanCode(variant_id=12)),
        ("https://shop.unichannel.cn/scan/12/", ScanCode(variant_id=12)),
        ("6901234567892", ScanCode(text="6901234567892")),
        ("x" * 512, ScanCode(text="x" * 512)),
    ],
    ids=["our-url", "any-host", "path-only", "trailing-slash", "bare-barcode", "512-characters"],
)
def test_a_scan_is_one_of_our_product_urls_on_any_host_or_else_a_bare_code(payload: str, expected: ScanCode) -> None:
    assert parse_scan_payload(payload) == expected


@pytest.mark.parametrize(
    "payload",
    [
        "https://example.com/products/12",
        "https://shop.unichannel.cn/scan/abc",
        "/scan/",
        "/scan/" + "1" * 19,
        "",
        "x" * 513,
    ],
    ids=["foreign-url", "non-numeric-id", "no-id", "id-over-18-digits", "empty", "513-characters"],
)
def test_a_scan_that_names_no_product_is_refused(payload: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_scan_payload(payload)
    assert raised.value.field == "code"


def test_a_scan_whose_id_is_a_superscript_digit_is_refused_as_invalid_input() -> None:
    # Regression: str.isdigit() accepted '²', then int('²') raised ValueError, a 500 when adding to a cart.
    with pytest.raises(InvalidInput) as raised:
        parse_scan_payload("/scan/²")
    assert raised.value.field == "code"


# --- prices -----------------------------------------------------------------------------------------------------

PRICES = {("online", "CNY"): 1850, ("store", "CNY"): 1700, ("online", "USD"): 299}


@pytest.mark.parametrize(
    ("prices", "channel", "currency", "expected"),
    [
        (PRICES, Channel.ONLINE, "CNY", 1850),
        (PRICES, Channel.STORE, "CNY", 1700),
        (PRICES, Channel.STORE, "USD", 299),
        (PRICES, Channel.ONLINE, "JPY", None),
        ({("store", "CNY"): 1700}, Channel.ONLINE, "CNY", None),
    ],
    ids=["online-own-price", "store-own-price-wins", "store-falls-back-to-online", "no-price-in-currency",
         "online-never-uses-a-store-price"],
)
def test_a_channel_sells_at_its_own_price_else_the_online_price_in_that_currency_only(
    prices: dict[tuple[str, str], int], channel: Channel, currency: str, expected: int | None
) -> None:
    assert choose_price(prices, channel, currency) == expected


# --- slugs, SKUs, barcodes --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("  --Longjing, Spring 2024!! ", "longjing-spring-2024"),
        ("Café Crème", "caf-cr-me"),
        ("龙井茶", ""),
        ("a" * 79 + " b", "a" * 79),
    ],
    ids=["punctuation-collapses", "non-ascii-dropped", "no-ascii-at-all", "cut-at-80-without-trailing-hyphen"],
)
def test_slugify_keeps_lowercase_ascii_words_joined_by_single_hyphens(name: str, slug: str) -> None:
    assert slugify(name) == slug


def _assert_checked(check: Callable[[str], str], value: str, valid: bool, field: str) -> None:
    if valid:
        assert check(value) == value
        return
    with pytest.raises(InvalidInput) as raised:
        check(value)
    assert raised.value.field == field


@pytest.mark.parametrize(
    ("slug", "valid"),
    [
        ("green-tea-2024", True),
        ("a" * 80, True),
        ("", False),
        ("Tea", False),
        ("green--tea", False),
        ("tea-", False),
        ("a" * 81, False),
    ],
    ids=["words", "80-chars", "empty", "uppercase", "double-hyphen", "trailing-hyphen", "81-chars"],
)
def test_a_slug_is_1_to_80_lowercase_letters_digits_and_single_hyphens(slug: str, valid: bool) -> None:
    _assert_checked(check_slug, slug, valid, "slug")


@pytest.mark.parametrize(
    ("sku", "valid"),
    [
        ("a", True),
        ("A1.b_c-d/e", True),
        ("A" * 64, True),
        ("", False),
        ("-A", False),
        ("TEE BLK", False),
        ("A" * 65, False),
        ("茶-1", False),
    ],
    ids=["one-char", "all-punctuation-allowed", "64-chars", "empty", "leading-hyphen", "space", "65-chars",
         "non-ascii"],
)
def test_a_sku_is_1_to_64_letters_digits_and_dot_underscore_hyphen_slash_starting_alphanumeric(
    sku: str, valid: bool
) -> None:
    _assert_checked(check_sku, sku, valid, "sku")


@pytest.mark.parametrize(
    ("barcode", "valid"),
    [
        ("ABCD", True),
        ("12-34-56", True),
        ("1" * 32, True),
        ("123", False),
        ("1" * 33, False),
        ("6901 2345", False),
    ],
    ids=["4-chars", "hyphens", "32-chars", "3-chars", "33-chars", "space"],
)
def test_a_barcode_is_4_to_32_letters_digits_or_hyphens(barcode: str, valid: bool) -> None:
    _assert_checked(check_barcode, barcode, valid, "barcode")


@pytest.mark.parametrize(
    ("check", "value", "field"),
    [(check_slug, "tea\n", "slug"), (check_sku, "TEE-M\n", "sku"), (check_barcode, "1234\n", "barcode")],
    ids=["slug", "sku", "barcode"],
)
def test_a_trailing_newline_makes_a_code_invalid(check: Callable[[str], str], value: str, field: str) -> None:
    # Regression: `$` with re.match also matches before a trailing newline, so these passed.
    _assert_checked(check, value, False, field)


# --- import drafts ----------------------------------------------------------------------------------------------


def _variant(sku: str = "TEE-M", *, amount_minor: int = 1850, stock_on_hand: int | None = 5) -> VariantDraft:
    return VariantDraft(
        sku=sku, name=sku, prices=[PriceDraft(Channel.ONLINE, "CNY", amount_minor)], stock_on_hand=stock_on_hand
    )


def _draft(name: str = "Cotton Tee", variants: list[VariantDraft] | None = None) -> ProductDraft:
    return ProductDraft(handle="cotton-tee", name=name, variants=[_variant()] if variants is None else variants)


@pytest.mark.parametrize(
    ("draft", "reasons"),
    [
        (_draft(), []),
        (_draft(name="x" * 200), []),
        (_draft(variants=[]), ["product has no sellable variant"]),
        (_draft(variants=[_variant("TEE-M"), _variant("TEE-M")]), ["SKU 'TEE-M' appears twice in the product"]),
        (_draft(variants=[_variant("-bad sku")]), ["SKU '-bad sku' is not a valid SKU"]),
        (_draft(variants=[_variant("TEE-M\n")]), ["SKU 'TEE-M\\n' is not a valid SKU"]),
        (_draft(variants=[_variant(amount_minor=-1)]), ["SKU 'TEE-M' has a negative price"]),
        (_draft(variants=[_variant(stock_on_hand=-1)]), ["SKU 'TEE-M' has negative stock"]),
        (_draft(name="x" * 201), ["product name is longer than 200 characters"]),
        (_draft(name="  "), ["product has no name"]),
    ],
    ids=["valid", "name-200-chars", "no-variants", "duplicate-sku", "bad-sku", "sku-with-trailing-newline",
         "negative-price", "negative-stock", "name-201-chars", "blank-name"],
)
def test_validate_draft_gives_every_reason_a_product_cannot_be_imported(
    draft: ProductDraft, reasons: list[str]
) -> None:
    assert validate_draft(draft) == reasons


# --- import jobs ------------------------------------------------------------------------------------------------

WROTE_AT = datetime(2026, 11, 11, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "silent_for", "shown"),
    [
        (ImportStatus.RUNNING, timedelta(0), "running"),
        (ImportStatus.RUNNING, IMPORT_SILENCE_LIMIT, "running"),
        (ImportStatus.RUNNING, IMPORT_SILENCE_LIMIT + timedelta(seconds=1), "interrupted"),
        (ImportStatus.DONE, timedelta(days=30), "done"),
        (ImportStatus.FAILED, timedelta(days=30), "failed"),
    ],
    ids=["just-written", "silent-for-the-limit", "silent-past-the-limit", "done-stays-done", "failed-stays-failed"],
)
def test_a_running_import_silent_past_the_limit_is_shown_interrupted_an_ended_one_as_it_ended(
    status: ImportStatus, silent_for: timedelta, shown: str
) -> None:
    assert IMPORT_SILENCE_LIMIT == timedelta(minutes=5)
    assert import_state(status, WROTE_AT, WROTE_AT + silent_for) == shown
