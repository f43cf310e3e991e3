"""Money rules (`unichannel.money`) and member identity rules (`unichannel.customers.model`)."""

from __future__ import annotations

import pytest

from unichannel.customers.model import check_identity, check_password, normalise_email, normalise_phone
from unichannel.errors import CurrencyMismatch, InvalidInput
from unichannel.money import Money, check_currency, parse_amount

# --- money ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "currency", "amount_minor"),
    [
        ("18.50", "CNY", 1850),
        ("1200", "JPY", 1200),
        ("1.234", "KWD", 1234),
    ],
    ids=["cny-two-decimals", "jpy-no-decimals", "kwd-three-decimals"],
)
def test_parse_amount_reads_major_units_as_integer_minor_units_of_the_currency(
    text: str, currency: str, amount_minor: int
) -> None:
    assert parse_amount(text, currency) == amount_minor


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        ("12.5", "JPY"),
        ("18.505", "CNY"),
        ("-1", "CNY"),
        ("abc", "CNY"),
        ("", "CNY"),
        ("NaN", "CNY"),
        ("Infinity", "CNY"),
    ],
    ids=["jpy-fraction", "fraction-of-a-fen", "negative", "not-a-number", "empty", "nan", "infinity"],
)
def test_parse_amount_refuses_negatives_non_numbers_and_fractions_of_a_minor_unit(text: str, currency: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_amount(text, currency, field="Variant Price")
    assert (raised.value.code, raised.value.field) == ("invalid_input", "Variant Price")


def test_parse_amount_refuses_an_amount_too_large_to_represent() -> None:
    # Regression: Decimal.scaleb raised decimal.Overflow (a 500 in a CSV import) instead of InvalidInput.
    with pytest.raises(InvalidInput) as raised:
        parse_amount("1e999999", "CNY")
    assert raised.value.field == "price"


def test_parse_amount_refuses_a_fraction_of_a_minor_unit_beyond_28_digits() -> None:
    # Regression: scaleb rounded to the 28-digit Decimal context first, so this was accepted as 100.
    with pytest.raises(InvalidInput) as raised:
        parse_amount("1.00000000000000000000000000001", "CNY")
    assert raised.value.field == "price"


def test_check_currency_gives_the_upper_cased_iso_4217_code() -> None:
    assert check_currency("cny") == "CNY"


@pytest.mark.parametrize("code", ["XXXX", "ABC", ""], ids=["four-letters", "unknown", "empty"])
def test_check_currency_refuses_anything_but_an_iso_4217_code(code: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        check_currency(code)
    assert raised.value.field == "currency"


def test_money_adds_only_within_one_currency() -> None:
    assert Money(1850, "CNY") + Money(150, "CNY") == Money(2000, "CNY")
    with pytest.raises(CurrencyMismatch) as raised:
        Money(1850, "CNY") + Money(299, "USD")
    assert (raised.value.code, raised.value.status_code) == ("currency_mismatch", 422)


@pytest.mark.parametrize(
    ("money", "text"),
    [
        (Money(5, "CNY"), "CNY 0.05"),
        (Money(1200, "JPY"), "JPY 1200"),
        (Money(1234, "KWD"), "KWD 1.234"),
    ],
    ids=["cny-below-one-yuan", "jpy", "kwd"],
)
def test_money_displays_as_currency_and_plain_decimal_with_the_currency_s_digits(money: Money, text: str) -> None:
    assert money.display() == text


# --- member identity --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "e164"),
    [
        ("13800001111", "+8613800001111"),
        ("+86 138-0000-1111", "+8613800001111"),
        ("(+86) 138 0000 1111", "+8613800001111"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
    ids=["bare-chinese-mobile", "spaces-and-dashes", "brackets", "uk-landline"],
)
def test_a_phone_number_is_normalised_to_e164(phone: str, e164: str) -> None:
    assert normalise_phone(phone) == e164


@pytest.mark.parametrize(
    "phone",
    ["12345", "12800001111", "+0123456789", "+8613800001111222"],
    ids=["too-short", "not-a-mobile-prefix", "leading-zero-country", "over-15-digits"],
)
def test_a_phone_number_not_in_international_form_is_refused(phone: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        normalise_phone(phone)
    assert raised.value.field == "phone"


def test_an_email_address_keeps_its_local_part_and_lower_cases_its_domain() -> None:
    assert normalise_email("  Li.Wei@Example.COM ") == "Li.Wei@example.com"


@pytest.mark.parametrize(
    "email",
    [
        "li.wei",
        "@example.com",
        "li.wei@example",
        "li wei@example.com",
        "li@wei@example.com",
        "a" * 64 + "@" + "b" * 186 + ".com",  # 255 characters
    ],
    ids=["no-at", "no-local-part", "no-top-level-domain", "space", "two-ats", "over-254-chars"],
)
def test_an_email_address_that_is_not_one_is_refused(email: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        normalise_email(email)
    assert raised.value.field == "email"


@pytest.mark.parametrize(
    ("phone", "email", "identity"),
    [
        ("13800001111", None, ("+8613800001111", None)),
        (None, "Li@Example.com", (None, "Li@example.com")),
        ("13800001111", "Li@Example.com", ("+8613800001111", "Li@example.com")),
    ],
    ids=["phone-only", "email-only", "both"],
)
def test_a_member_is_known_by_a_phone_an_email_or_both_normalised(
    phone: str | None, email: str | None, identity: tuple[str | None, str | None]
) -> None:
    assert check_identity(phone, email) == identity


@pytest.mark.parametrize(("phone", "email"), [(None, None), ("", "")], ids=["none", "empty-strings"])
def test_a_member_needs_a_phone_or_an_email(phone: str | None, email: str | None) -> None:
    with pytest.raises(InvalidInput) as raised:
        check_identity(phone, email)
    assert raised.value.field == "phone"


@pytest.mark.parametrize(
    ("length", "valid"), [(7, False), (8, True), (256, True), (257, False)], ids=["7", "8", "256", "257"]
)
def test_a_password_has_8_to_256_characters(length: int, valid: bool) -> None:
    password = "p" * length
    if valid:
        assert check_password(password) == password
        return
    with pytest.raises(InvalidInput) as raised:
        check_password(password)
    assert raised.value.field == "password"
