"""A service's refusal on a Chinese page is said in Chinese (pages/text.py `error_text`), keeping the figures and SKU
the error carries; English pages, and codes without a sentence, show the error's own English message.

Every error code defined in the source (each `code = "..."` of a DomainError subclass, found by reading the source, so
a new code without a Chinese sentence fails here) has one."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest

import unichannel
from unichannel.errors import (
    DomainError,
    InsufficientStock,
    InvalidInput,
    NotFound,
    PaymentDeclined,
    PriceUnavailable,
    SoldOut,
)
from unichannel.inventory.model import StockLevel, check_adjustment, check_quantity
from unichannel.pages.text import ERROR_TEXTS_ZH, FIELD_ERROR_TEXTS_ZH, error_text

SOURCE_ROOT = Path(unichannel.__file__).parent


def _codes_in_source() -> dict[str, str]:
    """{code: "file:line"} for every class-level `code = "..."` in a class under src/unichannel."""
    found: dict[str, str] = {}
    for path in sorted(SOURCE_ROOT.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ClassDef):
                continue
            for statement in node.body:
                if (isinstance(statement, ast.Assign) and len(statement.targets) == 1
                        and isinstance(statement.targets[0], ast.Name) and statement.targets[0].id == "code"
                        and isinstance(statement.value, ast.Constant) and isinstance(statement.value.value, str)):
                    found[statement.value.value] = f"{path.relative_to(SOURCE_ROOT)}:{statement.lineno}"
    return found


CODES = _codes_in_source()


def _placeholders(sentence: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(sentence) if name}


def test_the_source_scan_finds_the_error_codes() -> None:
    assert {"bad_request", "invalid_input", "sold_out", "insufficient_stock", "payment_declined",
            "gateway_unavailable", "wrong_pickup_code", "batch_failed"} <= CODES.keys()
    assert len(CODES) >= 30


@pytest.mark.parametrize("code", sorted(CODES), ids=sorted(CODES))
def test_every_error_code_in_the_source_has_a_chinese_sentence(code: str) -> None:
    assert code in ERROR_TEXTS_ZH, f"{code} ({CODES[code]}) has no Chinese sentence in pages/text.py ERROR_TEXTS_ZH"


@pytest.mark.parametrize("key", [*ERROR_TEXTS_ZH, *FIELD_ERROR_TEXTS_ZH], ids=str)
def test_every_entry_ends_with_a_sentence_that_needs_no_detail_and_is_chinese(key: str | tuple[str, str]) -> None:
    sentences = ERROR_TEXTS_ZH[key] if isinstance(key, str) else FIELD_ERROR_TEXTS_ZH[key]
    assert sentences and not _placeholders(sentences[-1])
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in s) for s in sentences)


def test_a_chinese_page_says_insufficient_stock_with_the_figures_the_error_carries() -> None:
    with pytest.raises(InsufficientStock) as refused:
        check_adjustment(StockLevel(on_hand=10, reserved=3, safety_stock=0), -50, "count", 1_000)
    assert error_text("zh_CN", refused.value) == "库存不足：只有 7 件未被占用，不能减少 50 件"
    assert error_text("en", refused.value) == "only 7 unreserved units are on hand; cannot remove 50"


def test_a_field_sentence_wins_over_the_codes_and_keeps_its_figure() -> None:
    with pytest.raises(InvalidInput) as refused:
        check_quantity(1_000, 999)
    assert error_text("zh_CN", refused.value) == "数量须为 1 到 999 之间的整数"
    assert error_text("zh_CN", InvalidInput("a quantity is a whole number", field="quantity")) == \
        "数量须为正整数，且不超过上限"


@pytest.mark.parametrize(("error", "said"), [
    pytest.param(PriceUnavailable("TEE-M has no USD price", field="currency",
                                  details={"sku": "TEE-M", "currency": "USD"}),
                 "TEE-M 没有 USD 价格，暂时不能购买", id="sku-and-currency-kept"),
    pytest.param(PriceUnavailable("no price", field="currency"), "这个商品在此渠道没有定价，暂时不能购买",
                 id="no-details-general-sentence"),
    pytest.param(SoldOut("sold out: not enough units left anywhere for this cart", field="cart"),
                 "已售罄：可供货的地点都没有足够的库存", id="field-without-its-own-sentence"),
    pytest.param(NotFound("no such line in this cart", field="line_id"), "购物车里没有这一行", id="not-found-line"),
    pytest.param(PaymentDeclined("the card was declined (chargeDeclined)", field="token"),
                 "支付没有被接受，没有扣款", id="payment-declined"),
])
def test_a_chinese_page_says_the_refusal_in_chinese(error: DomainError, said: str) -> None:
    assert error_text("zh_CN", error) == said
    assert error_text("en", error) == error.message


def test_an_unknown_code_falls_back_to_the_english_message() -> None:
    class Novel(DomainError):
        code = "novel_condition"

    assert error_text("zh_CN", Novel("something new happened")) == "something new happened"
