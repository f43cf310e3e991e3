"""Money is integer minor units plus an ISO 4217 currency; never a float."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency, get_currency_precision, is_currency

from unichannel.errors import CurrencyMismatch, InvalidInput


def check_currency(code: str, *, field: str = "currency") -> str:
    """The upper-cased ISO 4217 code, or InvalidInput."""
    upper = (code or "").upper()
    if len(upper) != 3 or not is_currency(upper):
        raise InvalidInput(f"{code!r} is not an ISO 4217 currency code", field=field)
    return upper


def check_locale(name: str, *, field: str = "locale") -> str:
    """A locale babel knows ('zh_CN', 'en', 'en-US'), normalised to its identifier, or InvalidInput."""
    try:
        return str(Locale.parse(name.replace("-", "_")))
    except (UnknownLocaleError, ValueError, TypeError):
        raise InvalidInput(f"{name!r} is not a known locale (try zh_CN or en)", field=field) from None


def minor_digits(currency: str) -> int:
    """How many decimal places the currency's minor unit has (CNY 2, JPY 0, KWD 3)."""
    return get_currency_precision(currency)


MAX_MAJOR_DIGITS = 15  # a trillion in major units is a typo, not a price


def parse_amount(text: str, currency: str, *, field: str = "price") -> int:
    """A decimal string such as '18.50' in major units, as integer minor units; refuses fractions of a minor unit,
    negative amounts and absurdly large ones. Exact: integer arithmetic, never a rounded float or Decimal context."""
    raw = str(text).strip()
    try:
        value = Decimal(raw) if len(raw) <= 64 else None
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        raise InvalidInput(f"{text!r} is not a number", field=field)
    if value < 0:
        raise InvalidInput(f"{text!r} is negative", field=field)
    if value != 0 and value.adjusted() >= MAX_MAJOR_DIGITS:
        raise InvalidInput(f"{text!r} is too large", field=field)
    _, digits, exponent = value.as_tuple()
    coefficient = int("".join(map(str, digits)) or "0")
    shift = int(exponent) + minor_digits(currency)
    if shift >= 0:
        return coefficient * 10**shift
    if coefficient % 10**-shift:
        raise InvalidInput(f"{text!r} has more decimals than {currency} allows", field=field)
    return coefficient // 10**-shift


@dataclass(frozen=True, slots=True)
class Money:
    amount_minor: int
    currency: str

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot add {other.currency} to {self.currency}")
        return Money(self.amount_minor + other.amount_minor, self.currency)

    def times(self, quantity: int) -> Money:
        return Money(self.amount_minor * quantity, self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    def localized(self, locale: str) -> str:
        """The amount as a shopper of `locale` reads it ('¥18.50' in zh_CN, 'CN¥18.50' in en_US)."""
        digits = minor_digits(self.currency)
        return format_currency(Decimal(self.amount_minor).scaleb(-digits), self.currency, locale=locale)

    def amount_text(self) -> str:
        """The amount in major units with the currency's digits, no symbol ('18.50', '-3.00', '1850' for JPY)."""
        digits = minor_digits(self.currency)
        return f"{Decimal(self.amount_minor).scaleb(-digits):.{digits}f}"

    def display(self) -> str:
        """A plain decimal rendering ('CNY 18.50'); locale formatting belongs to the presentation layer."""
        return f"{self.currency} {self.amount_text()}"
