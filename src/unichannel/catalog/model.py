"""Catalog rules: merchants, products, variants (SKUs), prices per channel and currency, scan codes.

Pure: no database, HTTP or clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from unichannel.errors import InvalidInput


class MerchantKind(StrEnum):
    BRAND = "brand"
    OVERSEAS_BRAND = "overseas_brand"
    FARM_COOPERATIVE = "farm_cooperative"
    STORE_OPERATOR = "store_operator"


class Channel(StrEnum):
    """Where a sale happens. Online covers web and phone; store is a till in a physical store."""

    ONLINE = "online"
    STORE = "store"


SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
SKU_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-/]{0,63}$")
BARCODE_PATTERN = re.compile(r"^[0-9A-Za-z\-]{4,32}$")
SCAN_PATH_PREFIX = "/scan/"


def slugify(text: str) -> str:
    """A URL slug from a name: lowercase ASCII letters and digits joined by single hyphens."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:80].strip("-")


def check_slug(slug: str, *, field_name: str = "slug") -> str:
    if not SLUG_PATTERN.fullmatch(slug or "") or len(slug) > 80:
        raise InvalidInput("a slug is 1-80 lowercase letters, digits and single hyphens", field=field_name)
    return slug


def check_sku(sku: str, *, field_name: str = "sku") -> str:
    if not SKU_PATTERN.fullmatch(sku or ""):
        raise InvalidInput(
            "a SKU is 1-64 letters, digits, '.', '_', '-' or '/', starting with a letter or digit", field=field_name
        )
    return sku


def check_barcode(barcode: str, *, field_name: str = "barcode") -> str:
    if not BARCODE_PATTERN.fullmatch(barcode or ""):
        raise InvalidInput("a barcode is 4-32 letters, digits or '-'", field=field_name)
    return barcode


def scan_url(base_url: str, variant_id: int) -> str:
    """The URL a SKU's QR code encodes: opened on a phone it puts the SKU into that shopper's cart."""
    return f"{base_url.rstrip('/')}{SCAN_PATH_PREFIX}{variant_id}"


@dataclass(frozen=True, slots=True)
class ScanCode:
    """What a scanned code resolves to: a variant id (our own QR code) or a barcode/SKU typed or scanned at a till."""

    variant_id: int | None = None
    text: str | None = None


def parse_scan_payload(payload: str) -> ScanCode:
    """Reads a scanned payload: one of our scan-to-cart URLs (any host, so a QR printed for another host still works),
    or a bare barcode / SKU."""
    text = (payload or "").strip()
    if not text or len(text) > 512:
        raise InvalidInput("a scanned code is 1-512 characters", field="code")
    if "://" in text or text.startswith(SCAN_PATH_PREFIX):
        path = urlsplit(text).path
        if not path.startswith(SCAN_PATH_PREFIX):
            raise InvalidInput("this QR code is not a unichannel product code", field="code")
        tail = path[len(SCAN_PATH_PREFIX):].strip("/")
        if not re.fullmatch(r"[0-9]{1,18}", tail):
            raise InvalidInput("this QR code names no product", field="code")
        return ScanCode(variant_id=int(tail))
    return ScanCode(text=text)


def category_and_descendants(category_id: int, categories: list[dict]) -> list[int]:
    """The category and every category below it, following parent links (not names or slugs)."""
    children: dict[int | None, list[int]] = {}
    for row in categories:
        children.setdefault(row["parent_id"], []).append(row["id"])
    found, frontier = [], [category_id]
    while frontier:
        current = frontier.pop()
        if current in found:
            continue
        found.append(current)
        frontier.extend(children.get(current, []))
    return sorted(found)


def choose_price(
    prices: dict[tuple[str, str], int], channel: Channel, currency: str
) -> int | None:
    """The unit price of a SKU for a channel and currency: the channel's own price, else the online price.

    Stores sell at the online price unless the merchant sets a store price: one channel, one price by default.
    """
    own = prices.get((channel.value, currency))
    if own is not None:
        return own
    return prices.get((Channel.ONLINE.value, currency))


# --- Import drafts: what a merchant's CSV says about a product, before it touches storage ---------------------------


@dataclass(slots=True)
class PriceDraft:
    channel: Channel
    currency: str
    amount_minor: int
    compare_at_minor: int | None = None


@dataclass(slots=True)
class VariantDraft:
    sku: str
    name: str
    options: dict[str, str] = field(default_factory=dict)
    barcode: str | None = None
    grams: int | None = None
    prices: list[PriceDraft] = field(default_factory=list)
    stock_on_hand: int | None = None  # what the file says is in stock, if it says; None means "not tracked by the file"
    position: int = 0


@dataclass(slots=True)
class ProductDraft:
    """One product with all its variants. `handle` is the product's key in the source file (WooCommerce parent SKU
    or ID, Shopify Handle): re-importing the same file matches on it, so it updates instead of duplicating."""

    handle: str
    name: str
    description: str = ""
    category_path: list[str] = field(default_factory=list)  # e.g. ["Clothing", "Tshirts"]
    tags: list[str] = field(default_factory=list)
    is_active: bool = True
    image_urls: list[str] = field(default_factory=list)
    variants: list[VariantDraft] = field(default_factory=list)
    first_line: int = 0  # line number of the file where this product starts (1 = header)


@dataclass(frozen=True, slots=True)
class ImportIssue:
    """A row the importer refused, with its line number in the file (the header is line 1) and why."""

    line: int
    reason: str
    handle: str | None = None


@dataclass(slots=True)
class ParsedFile:
    products: list[ProductDraft]
    issues: list[ImportIssue]
    rows_read: int


def validate_draft(draft: ProductDraft) -> list[str]:
    """Reasons a draft cannot be imported as a whole product (empty list when it can)."""
    reasons: list[str] = []
    if not draft.name.strip():
        reasons.append("product has no name")
    if len(draft.name) > 200:
        reasons.append("product name is longer than 200 characters")
    if not draft.variants:
        reasons.append("product has no sellable variant")
    seen: set[str] = set()
    for variant in draft.variants:
        if not SKU_PATTERN.fullmatch(variant.sku):
            reasons.append(f"SKU {variant.sku!r} is not a valid SKU")
        if variant.sku in seen:
            reasons.append(f"SKU {variant.sku!r} appears twice in the product")
        seen.add(variant.sku)
        if variant.barcode is not None and not BARCODE_PATTERN.fullmatch(variant.barcode):
            reasons.append(f"barcode {variant.barcode!r} of SKU {variant.sku!r} is not a valid barcode")
        if variant.grams is not None and variant.grams < 0:
            reasons.append(f"SKU {variant.sku!r} has a negative weight")
        for price in variant.prices:
            if price.amount_minor < 0:
                reasons.append(f"SKU {variant.sku!r} has a negative price")
        if variant.stock_on_hand is not None and variant.stock_on_hand < 0:
            reasons.append(f"SKU {variant.sku!r} has negative stock")
    return reasons


# --- Import jobs: one uploaded file applied in the background, followed from any server process ---------------------

IMPORT_SOURCES = ("woocommerce", "shopify")
# A running import writes its row after every chunk of products, which takes well under a second; a row silent for this
# long belongs to a server process that died (or was restarted) mid-import, and nobody will finish it.
IMPORT_SILENCE_LIMIT = timedelta(minutes=5)
# No real file name holds a control character (C0, DEL, C1), and PostgreSQL cannot store NUL in text at all.
CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def check_file_name(file_name: str) -> str:
    """An uploaded file's name, fit to store and show: one with a control character is refused, naming it."""
    found = CONTROL_CHARACTER.search(file_name)
    if found:
        character = f"U+{ord(found.group()):04X}"
        raise InvalidInput(f"the file name contains a control character ({character}); rename the file and upload it "
                           "again", field="file", details={"character": character})
    return file_name


class ImportStatus(StrEnum):
    """What an import's row says. A row stays `running` if its process dies: see `import_state`."""

    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # the worker saw the database fail; what was saved stays


INTERRUPTED = "interrupted"  # shown, never stored: a running import whose row has been silent too long


def import_state(status: ImportStatus, updated_at: datetime, now: datetime) -> str:
    """The state to show: the stored status, except that a running import silent for longer than
    IMPORT_SILENCE_LIMIT is interrupted (re-importing the file is safe: products match on handle, variants on SKU)."""
    if status is ImportStatus.RUNNING and now - updated_at > IMPORT_SILENCE_LIMIT:
        return INTERRUPTED
    return status.value


@dataclass(frozen=True, slots=True)
class ImportJob:
    """One uploaded file being applied, as its row says: how far it got, what it changed and each line it refused.

    `issues` is the line-by-line report when it was asked for, else empty; `issue_count` is always the report's length.
    `state` is `import_state` at the time the row was read.
    """

    id: int
    merchant_id: int
    started_by: str  # the principal's key
    source: str
    file_name: str
    location_id: int | None
    status: ImportStatus
    state: str
    rows_read: int
    products_total: int
    products_done: int
    products_created: int
    products_updated: int
    variants_created: int
    variants_updated: int
    issue_count: int
    issues: tuple[ImportIssue, ...]
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    @property
    def percent(self) -> int:
        if self.state == ImportStatus.DONE or self.products_total == 0:
            return 100
        return self.products_done * 100 // self.products_total


def merged_issues(first: list[ImportIssue], second: list[ImportIssue]) -> list[ImportIssue]:
    """Both reports as one, by line (a stable sort: issues of one line keep their order)."""
    return sorted([*first, *second], key=lambda issue: issue.line)
