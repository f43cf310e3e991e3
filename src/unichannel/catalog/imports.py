"""Product CSV importers: a merchant's WooCommerce or Shopify product export, read into import drafts.

Pure: no database, HTTP or clock; the file is already decoded text. A parser never raises on a bad row: what it refuses
becomes an ImportIssue with the line where the row starts (the header is line 1; a quoted field may span lines).
A product is all or nothing: one bad row refuses the whole product, and none of its variants reach `products`.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from html.parser import HTMLParser

from unichannel.catalog.model import (
    Channel,
    ImportIssue,
    ParsedFile,
    PriceDraft,
    ProductDraft,
    VariantDraft,
    slugify,
    validate_draft,
)
from unichannel.errors import InvalidInput
from unichannel.money import check_currency, parse_amount

REFUSED = "the whole product is not imported"

# --- Reading a CSV file into records that know their line -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Record:
    line: int  # physical line where the record starts; the header is line 1
    values: dict[str, str]  # lower-cased column name -> value without surrounding blanks

    def get(self, column: str) -> str:
        return self.values.get(column, "")


def _read_records(
    text: str, required: Iterable[str], clean: Callable[[str], str] = str.strip
) -> tuple[list[_Record], list[ImportIssue]]:
    """Every non-blank record of the file, and the issue that stopped reading it, if any."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        return [], [ImportIssue(1, f"the header cannot be read: {exc}")]
    if not header:
        return [], [ImportIssue(1, "the file has no header row")]
    columns = [name.strip().lower() for name in header]
    missing = [name for name in required if name.lower() not in columns]
    if missing:
        return [], [ImportIssue(1, f"the header lacks the column(s) {', '.join(missing)}")]
    records: list[_Record] = []
    while True:
        line = reader.line_num + 1  # line_num counts physical lines read so far, so the next record starts after them
        try:
            row = next(reader)
        except StopIteration:
            return records, []
        except csv.Error as exc:
            return records, [ImportIssue(line, f"the file cannot be read from this line on: {exc}")]
        values: dict[str, str] = {}
        for index, column in enumerate(columns):  # a short row lacks its trailing empty cells
            values.setdefault(column, clean(row[index]) if index < len(row) else "")
        if any(values.values()):
            records.append(_Record(line, values))


# --- Small readers for cell values ------------------------------------------------------------------------------------


class _TextCollector(HTMLParser):
    BREAKS = frozenset({"p", "br", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table"})
    HIDDEN = frozenset({"script", "style"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.HIDDEN:
            self.hidden_depth += 1
        if tag in self.BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN and self.hidden_depth:
            self.hidden_depth -= 1
        if tag in self.BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden_depth:
            self.parts.append(data)


def plain_text(html: str) -> str:
    """The text a shopper reads in an HTML fragment: tags dropped, entities decoded, one line per paragraph."""
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    lines = (" ".join(line.split()) for line in "".join(collector.parts).splitlines())
    return "\n".join(line for line in lines if line)


def _split_list(text: str) -> list[str]:
    """A comma-separated list where a comma inside a value is escaped as '\\,' (how WooCommerce writes lists)."""
    parts = re.split(r"(?<!\\),", text)
    return [part.replace("\\,", ",").strip() for part in parts if part.strip()]


def _category_path(text: str) -> list[str]:
    return [part.strip() for part in text.split(">") if part.strip()]


def _optional_int(text: str, column: str) -> int | None:
    if not text:
        return None
    value = _decimal(text)
    if not value.is_finite() or value != value.to_integral_value():
        raise InvalidInput(f"{text!r} is not a whole number", field=column)
    return int(value)


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        return Decimal("NaN")


def _problem(exc: InvalidInput) -> str:
    return f"{exc.field}: {exc.message}" if exc.field else exc.message


def _online_price(amount_minor: int | None, compare_at_minor: int | None, currency: str) -> list[PriceDraft]:
    if amount_minor is None:
        return []  # a SKU without a price is imported; checkout refuses it (PriceUnavailable) until one is set
    return [PriceDraft(Channel.ONLINE, currency, amount_minor, compare_at_minor=compare_at_minor)]


def _derived_sku(base: str, option_values: Iterable[str]) -> str:
    return slugify(" ".join([base, *option_values]))


# --- Settling products: all or nothing --------------------------------------------------------------------------------


@dataclass(slots=True)
class _Outcome:
    products: list[ProductDraft] = field(default_factory=list)
    issues: list[ImportIssue] = field(default_factory=list)
    owner_by_sku: dict[str, ProductDraft] = field(default_factory=dict)
    owner_by_handle: dict[str, ProductDraft] = field(default_factory=dict)

    def settle(self, draft: ProductDraft, problems: list[tuple[int, str]]) -> None:
        """Keeps the draft whole, or refuses it whole with one issue per problem (line, reason)."""
        if not problems:
            problems = [(draft.first_line, reason) for reason in validate_draft(draft)]
        if not problems:
            problems = [(draft.first_line, reason) for reason in self._clashes(draft)]
        if problems:
            self.issues.extend(ImportIssue(line, f"{reason}; {REFUSED}", draft.handle) for line, reason in problems)
            return
        self.products.append(draft)
        self.owner_by_handle[draft.handle] = draft
        for variant in draft.variants:
            self.owner_by_sku[variant.sku] = draft

    def _clashes(self, draft: ProductDraft) -> list[str]:
        # A SKU names one thing to sell; two products of one file claiming it would overwrite each other on import.
        if (other := self.owner_by_handle.get(draft.handle)) is not None:
            return [f"handle {draft.handle!r} is already the product at line {other.first_line}"]
        reasons = []
        for variant in draft.variants:
            if (other := self.owner_by_sku.get(variant.sku)) is not None:
                reasons.append(
                    f"SKU {variant.sku!r} already belongs to product {other.handle!r} (line {other.first_line})"
                )
        return reasons

    def parsed(self, rows_read: int) -> ParsedFile:
        return ParsedFile(self.products, sorted(self.issues, key=lambda issue: issue.line), rows_read)


# --- WooCommerce product export -------------------------------------------------------------------------------------

WOO_NOT_IMPORTED = {
    "grouped": "grouped products are not imported: a grouped product only lists other products and has no stock "
    "or price of its own",
    "external": "external products are not imported: they are sold by another site (External URL), so there is no "
    "stock here to sell",
}
WOO_KINDS = ("variation", "variable", "grouped", "external", "simple")
GRAMS_PER_UNIT = {"lbs": Decimal("453.59237"), "oz": Decimal("28.349523125"), "kg": Decimal(1000), "g": Decimal(1)}
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(slots=True)
class _WooFamily:
    head: _Record  # the simple product's or the variable parent's row
    kind: str
    variations: list[_Record] = field(default_factory=list)


def _woo_clean(value: str) -> str:
    # WooCommerce prefixes cells that start like a spreadsheet formula with "'" (e.g. Published "-1" as "'-1").
    value = value.strip()
    if len(value) > 1 and value[0] == "'" and value[1].startswith(_FORMULA_TRIGGERS):
        return value[1:]
    return value


def parse_woocommerce(text: str, currency: str) -> ParsedFile:
    """Reads a WooCommerce product export: simple and variable products (with their variations) become drafts;
    grouped, external and unreadable rows become issues. Never raises on file content; raises InvalidInput only
    for a currency that is not ISO 4217.

    A variation without a SKU gets one derived from its parent's SKU (or `id:<ID>` handle) and its option values,
    slugified: parent `woo-vneck-tee`, options Blue / Large -> `woo-vneck-tee-blue-large`.
    A variation without a weight weighs what its parent weighs, as in WooCommerce.
    """
    currency = check_currency(currency)
    records, read_issues = _read_records(text, required=("Type", "SKU", "Name"), clean=_woo_clean)
    outcome = _Outcome(issues=read_issues)
    weight = _woo_weight_column(records)
    for family in _woo_families(records, outcome):
        draft, problems = _woo_draft(family, weight, currency)
        outcome.settle(draft, problems)
    return outcome.parsed(len(records))


def _woo_kind(type_text: str) -> str:
    tokens = [token.strip().lower() for token in type_text.split(",")]  # e.g. "simple, downloadable, virtual"
    return next((kind for kind in WOO_KINDS if kind in tokens), tokens[0])


def _woo_handle(record: _Record) -> str:
    if record.get("sku"):
        return record.get("sku")
    return f"id:{record.get('id')}" if record.get("id") else ""


def _woo_families(records: list[_Record], outcome: _Outcome) -> list[_WooFamily]:
    """Simple and variable products in file order, each variable one with its variations (which may come later)."""
    families: list[_WooFamily] = []
    variable_by_reference: dict[str, _WooFamily] = {}
    variations: list[_Record] = []
    for record in records:
        kind = _woo_kind(record.get("type"))
        if kind in ("simple", "variable"):
            family = _WooFamily(record, kind)
            families.append(family)
            if kind == "variable":
                for reference in (record.get("sku"), f"id:{record.get('id')}" if record.get("id") else ""):
                    if reference:
                        variable_by_reference.setdefault(reference, family)
        elif kind == "variation":
            variations.append(record)
        elif kind in WOO_NOT_IMPORTED:
            outcome.issues.append(ImportIssue(record.line, WOO_NOT_IMPORTED[kind], _woo_handle(record) or None))
        else:
            reason = f"product type {record.get('type')!r} is not one of {', '.join(WOO_KINDS)}"
            outcome.issues.append(ImportIssue(record.line, reason, _woo_handle(record) or None))
    for record in variations:
        parent = record.get("parent")
        family = variable_by_reference.get(parent)
        if family is None:
            reason = f"the variation's parent {parent!r} is not a variable product in this file"
            outcome.issues.append(ImportIssue(record.line, reason, _woo_handle(record) or None))
        else:
            family.variations.append(record)
    return families


def _woo_draft(
    family: _WooFamily, weight: tuple[str, Decimal] | None, currency: str
) -> tuple[ProductDraft, list[tuple[int, str]]]:
    head = family.head
    draft = ProductDraft(
        handle=_woo_handle(head),
        name=head.get("name"),
        description=_woo_description(head.get("description") or head.get("short description")),
        category_path=_category_path(next(iter(_split_list(head.get("categories"))), "")),
        tags=_split_list(head.get("tags")),
        is_active=head.get("published") == "1",  # 0 is private, -1 is draft
        image_urls=_split_list(head.get("images")),
        first_line=head.line,
    )
    try:
        parent_grams = _woo_grams(head, weight)
    except InvalidInput as exc:
        return draft, [(head.line, _problem(exc))]
    if family.kind == "simple":
        if not head.get("sku"):
            return draft, [(head.line, "a simple product needs a SKU")]
        rows = [(head, {})]
    else:
        ordered = sorted(family.variations, key=lambda record: (_woo_position(record), record.line))
        rows = [(record, _woo_options(record)) for record in ordered]
    problems: list[tuple[int, str]] = []
    for record, options in rows:
        try:
            draft.variants.append(_woo_variant(record, draft, options, parent_grams, weight, currency))
        except InvalidInput as exc:
            problems.append((record.line, _problem(exc)))
    return draft, problems


def _woo_variant(
    record: _Record,
    draft: ProductDraft,
    options: dict[str, str],
    parent_grams: int | None,
    weight: tuple[str, Decimal] | None,
    currency: str,
) -> VariantDraft:
    own_grams = _woo_grams(record, weight)
    return VariantDraft(
        sku=record.get("sku") or _derived_sku(draft.handle, options.values() or [record.get("id")]),
        name=" / ".join(options.values()) or record.get("name"),
        options=options,
        grams=parent_grams if own_grams is None else own_grams,
        prices=_woo_prices(record, currency),
        stock_on_hand=_optional_int(record.get("stock"), "Stock"),
        position=len(draft.variants),
    )


def _woo_prices(record: _Record, currency: str) -> list[PriceDraft]:
    """Sale price when there is one, with the regular price as compare-at; else the regular price."""
    sale, regular = record.get("sale price"), record.get("regular price")
    sale_minor = parse_amount(sale, currency, field="Sale price") if sale else None
    regular_minor = parse_amount(regular, currency, field="Regular price") if regular else None
    if sale_minor is None:
        return _online_price(regular_minor, None, currency)
    return _online_price(sale_minor, regular_minor, currency)


def _woo_options(record: _Record) -> dict[str, str]:
    """The variation's attributes; an empty value means "any" in WooCommerce and names no option."""
    options: dict[str, str] = {}
    number = 1
    while f"attribute {number} name" in record.values:
        name = record.get(f"attribute {number} name")
        value = record.get(f"attribute {number} value(s)")
        if name and value:
            options[name] = value
        number += 1
    return options


def _woo_position(record: _Record) -> int:
    position = record.get("position")
    return int(position) if position.isdigit() else 0


def _woo_weight_column(records: list[_Record]) -> tuple[str, Decimal] | None:
    """The weight column and grams per unit: WooCommerce names it after the store's unit, e.g. "Weight (lbs)"."""
    columns = records[0].values if records else {}
    for column in columns:
        match = re.fullmatch(r"weight \((\w+)\)", column)
        if match and match.group(1) in GRAMS_PER_UNIT:
            return column, GRAMS_PER_UNIT[match.group(1)]
    return None


def _woo_grams(record: _Record, weight: tuple[str, Decimal] | None) -> int | None:
    if weight is None or not record.get(weight[0]):
        return None
    column, grams_per_unit = weight
    text = record.get(column)
    value = _decimal(text)
    if not value.is_finite():
        raise InvalidInput(f"{text!r} is not a number", field=column.capitalize())
    return int((value * grams_per_unit).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _woo_description(text: str) -> str:
    # WooCommerce writes a newline in a description as the two characters "\n" (and a literal "\n" as "\\n").
    unescaped = re.sub(r"\\\\n|\\n", lambda match: "\\n" if match.group() == "\\\\n" else "\n", text)
    return plain_text(unescaped.replace("\n", "<br>"))


# --- Shopify product CSV ----------------------------------------------------------------------------------------------

SHOPIFY_VARIANT_COLUMNS = (
    *(f"option{number} value" for number in (1, 2, 3)),
    *(f"variant {name}" for name in ("sku", "price", "compare at price", "grams", "inventory qty", "barcode")),
)
DEFAULT_TITLE = "Default Title"  # Shopify's option value for a product that has a single variant and no options


def parse_shopify(text: str, currency: str) -> ParsedFile:
    """Reads a Shopify product CSV: the rows sharing a Handle (contiguous or not) are one product; rows with variant
    fields are its variants, image-only rows add images. Never raises on file content; raises InvalidInput only for
    a currency that is not ISO 4217.

    A variant without a SKU gets `<handle>-<option values>` slugified (`winter-scarf-navy`), or the handle alone
    for a product without options.
    """
    currency = check_currency(currency)
    records, read_issues = _read_records(text, required=("Handle", "Title", "Variant Price"))
    outcome = _Outcome(issues=read_issues)
    rows_by_handle: dict[str, list[_Record]] = {}
    for record in records:
        if not record.get("handle"):
            outcome.issues.append(ImportIssue(record.line, "the row has no Handle"))
        else:
            rows_by_handle.setdefault(record.get("handle"), []).append(record)
    for handle, rows in rows_by_handle.items():
        _settle_shopify(handle, rows, currency, outcome)
    return outcome.parsed(len(records))


def _settle_shopify(handle: str, rows: list[_Record], currency: str, outcome: _Outcome) -> None:
    head = rows[0]
    if not head.get("title"):
        reason = f"handle {handle!r} first appears without a Title; {REFUSED}"
        outcome.issues.append(ImportIssue(head.line, reason, handle))
        return
    if head.get("gift card").upper() == "TRUE":
        reason = "gift cards are not imported: a gift card is stored value, not stock"
        outcome.issues.append(ImportIssue(head.line, reason, handle))
        return
    draft = ProductDraft(
        handle=handle,
        name=head.get("title"),
        description=plain_text(head.get("body (html)")),
        category_path=_shopify_category_path(head),
        tags=[tag.strip() for tag in head.get("tags").split(",") if tag.strip()],
        is_active=head.get("published").upper() != "FALSE" and head.get("status").lower() in ("", "active"),
        image_urls=_shopify_images(rows),
        first_line=head.line,
    )
    option_names = [head.get(f"option{number} name") for number in (1, 2, 3)]
    problems: list[tuple[int, str]] = []
    for record in rows:
        if not any(record.get(column) for column in SHOPIFY_VARIANT_COLUMNS):
            continue  # an image-only row (or one with only SEO or metafield columns) adds no variant
        try:
            draft.variants.append(_shopify_variant(record, draft, option_names, currency))
        except InvalidInput as exc:
            problems.append((record.line, _problem(exc)))
    outcome.settle(draft, problems)


def _shopify_variant(record: _Record, draft: ProductDraft, option_names: list[str], currency: str) -> VariantDraft:
    options: dict[str, str] = {}
    for number, name in enumerate(option_names, start=1):
        value = record.get(f"option{number} value")
        if value and value != DEFAULT_TITLE:
            options[name or f"Option{number}"] = value
    price, compare_at = record.get("variant price"), record.get("variant compare at price")
    amount_minor = parse_amount(price, currency, field="Variant Price") if price else None
    compare_at_minor = parse_amount(compare_at, currency, field="Variant Compare At Price") if compare_at else None
    return VariantDraft(
        sku=record.get("variant sku") or _derived_sku(draft.handle, options.values()),
        name=" / ".join(options.values()) or draft.name,
        options=options,
        barcode=record.get("variant barcode") or None,
        grams=_optional_int(record.get("variant grams"), "Variant Grams"),
        prices=_online_price(amount_minor, compare_at_minor, currency),
        stock_on_hand=_shopify_stock(record),
        position=len(draft.variants),
    )


def _shopify_stock(record: _Record) -> int | None:
    # Shopify writes a quantity (often 0) even for a variant whose stock it does not track (blank Inventory Tracker);
    # importing that 0 would make an untracked item unsellable, so such a variant has no stock figure.
    if "variant inventory tracker" in record.values and not record.get("variant inventory tracker"):
        return None
    return _optional_int(record.get("variant inventory qty"), "Variant Inventory Qty")


def _shopify_category_path(head: _Record) -> list[str]:
    """The Product Category path ("Apparel & Accessories > Clothing"), else the merchant's Type as one level."""
    path = _category_path(head.get("product category"))
    if not path and head.get("type"):
        path = [head.get("type")]
    return path


def _shopify_images(rows: list[_Record]) -> list[str]:
    """Image URLs of all the handle's rows, by Image Position (rows without one keep their order, after)."""
    numbered = []
    for order, record in enumerate(rows):
        if record.get("image src"):
            position = record.get("image position")
            known = position.isascii() and position.isdigit() and len(position) < 10
            numbered.append((int(position) if known else 1 << 31, order, record.get("image src")))
    return list(dict.fromkeys(url for _, _, url in sorted(numbered)))
