"""Exchange rates: the ECB's daily reference rates, shipped offline by the currencyconverter package.

An adapter at the edge: the ledger rules take a `Conversion` (rate and the date of the reference rate) and never
look a rate up themselves. A day without a published rate (a weekend, a TARGET holiday) uses the latest published
before it; a day after the shipped data uses the last published rate. The date actually used is the one recorded.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from functools import cache

from currency_converter import CurrencyConverter, RateNotFoundError

from unichannel.errors import InvalidInput
from unichannel.payments.model import Conversion

RATE_QUANTUM = Decimal("1e-10")  # ten decimals: beyond the ECB's five significant digits, exact for display too
MAX_STEPS_BACK = 10


@cache
def _converter() -> CurrencyConverter:
    return CurrencyConverter(decimal=True)


def supported(currency: str) -> bool:
    return currency == "EUR" or currency in _converter().currencies


def conversion(source: str, target: str, on: date) -> Conversion:
    """The reference rate from `source` to `target` published on `on`, or the latest before it."""
    converter = _converter()
    for currency in (source, target):
        if not supported(currency):
            raise InvalidInput(f"no ECB reference rate for {currency}", field="currency")
    published_until = [converter.bounds[c].last_date for c in (source, target) if c != "EUR"]
    day = min([on, *published_until])
    for _ in range(MAX_STEPS_BACK):
        try:
            rate = converter.convert(Decimal(1), source, target, date=day)
        except RateNotFoundError:
            day -= timedelta(days=1)
            continue
        return Conversion(source, target, Decimal(rate).quantize(RATE_QUANTUM), day)
    raise InvalidInput(f"no ECB reference rate from {source} to {target} near {on.isoformat()}", field="currency")
