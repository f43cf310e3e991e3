"""Catalog use cases: merchants, categories, products with variants and prices, imports, QR codes."""

from __future__ import annotations

import io
from datetime import datetime
from dataclasses import dataclass, field
from typing import Any

import segno

from unichannel.access.model import Principal, Role
from unichannel.catalog import repository
from unichannel.catalog.model import (
    IMPORT_SOURCES,
    Channel,
    ImportIssue,
    ImportJob,
    ImportStatus,
    MerchantKind,
    ParsedFile,
    ProductDraft,
    check_file_name,
    check_slug,
    import_state,
    merged_issues,
    scan_url,
    slugify,
    validate_draft,
)
from unichannel.errors import AlreadyExists, DomainError, InvalidInput, NotFound, parse_choice
from unichannel.inventory import repository as inventory_repository
from unichannel.inventory import service as inventory
from unichannel.inventory.model import StockLevel
from unichannel.payments.rates import supported
from unichannel.money import check_currency
from unichannel.uow import UnitOfWork


def check_settlement_currency(currency: str) -> str:
    """A merchant is paid out in a currency the ledger can convert to (one with ECB reference rates)."""
    code = check_currency(currency)
    if not supported(code):
        raise InvalidInput(f"{code} has no ECB reference rate, so payouts in it cannot be converted", field="currency")
    return code


async def create_merchant(uow: UnitOfWork, *, slug: str, name: str, kind: str, country: str, currency: str) -> dict:
    """Adds a merchant with a unique slug, a known kind and an ISO currency."""
    check_slug(slug)
    parse_choice(MerchantKind, kind, "kind")
    if await repository.get_merchant_by_slug(uow.conn, slug) is not None:
        raise AlreadyExists(f"a merchant with slug {slug!r} exists", field="slug")
    values = {
        "slug": slug,
        "name": name.strip(),
        "kind": kind,
        "country": country.upper(),
        "currency": check_settlement_currency(currency),
        "created_at": uow.now(),
    }
    merchant_id = await repository.insert_merchant(uow.conn, values)
    uow.emit("merchant.created", "merchant", merchant_id, {"merchant_id": merchant_id, "slug": slug})
    return {**values, "id": merchant_id}


async def merchant_by_slug(uow: UnitOfWork, slug: str) -> dict[str, Any]:
    merchant = await repository.get_merchant_by_slug(uow.conn, slug)
    if merchant is None:
        raise NotFound(f"no merchant {slug!r}", field="merchant")
    return merchant


async def category_for_path(uow: UnitOfWork, path: list[str]) -> int | None:
    """The id of the category at `path` (e.g. ['Clothing', 'Tshirts']), creating missing levels."""
    parent_id: int | None = None
    slugs: list[str] = []
    for name in [p.strip() for p in path if p.strip()]:
        slugs.append(slugify(name) or f"c{len(slugs)}")
        slug = "-".join(slugs)[:200]
        row = await repository.get_category_by_slug(uow.conn, slug)
        parent_id = row["id"] if row else await repository.insert_category(uow.conn, slug, name[:120], parent_id)
    return parent_id


@dataclass(slots=True)
class AppliedProduct:
    product_id: int
    created: bool
    variants_created: int = 0
    variants_updated: int = 0


async def apply_draft(
    uow: UnitOfWork, merchant_id: int, draft: ProductDraft, *, stock_location_id: int | None = None
) -> AppliedProduct:
    """Creates or updates one product and its variants and prices from a draft, matching on the product's handle
    and each variant's SKU, so applying the same draft twice changes nothing the second time.

    With a stock location, the draft's stock figures become that location's on-hand counts (as `adjust` movements).
    """
    reasons = validate_draft(draft)
    if reasons:
        raise InvalidInput("; ".join(reasons), field="product")
    now = uow.now()
    values = {
        "name": draft.name.strip(),
        "description": draft.description,
        "category_id": await category_for_path(uow, draft.category_path),
        "tags": draft.tags,
        "image_urls": draft.image_urls,
        "is_active": draft.is_active,
        "updated_at": now,
    }
    existing = await repository.get_product_by_handle(uow.conn, merchant_id, draft.handle)
    if existing is None:
        product_id = await repository.insert_product(
            uow.conn, {**values, "merchant_id": merchant_id, "handle": draft.handle, "created_at": now}
        )
    else:
        product_id = existing["id"]
        await repository.update_product(uow.conn, product_id, values)
    applied = AppliedProduct(product_id, created=existing is None)
    for position, variant in enumerate(draft.variants):
        variant_values = {
            "name": variant.name.strip()[:200] or draft.name[:200],
            "options": variant.options,
            "barcode": variant.barcode,
            "grams": variant.grams,
            "position": variant.position or position,
            "is_active": True,
        }
        current = await repository.get_variant_by_sku(uow.conn, merchant_id, variant.sku)
        if current is not None and current["product_id"] != product_id:
            raise AlreadyExists(f"SKU {variant.sku!r} belongs to another product of this merchant", field="sku")
        if current is None:
            variant_id = await repository.insert_variant(
                uow.conn,
                {**variant_values, "merchant_id": merchant_id, "product_id": product_id, "sku": variant.sku,
                 "created_at": now},
            )
            applied.variants_created += 1
        else:
            variant_id = current["id"]
            await repository.update_variant(uow.conn, variant_id, variant_values)
            applied.variants_updated += 1
        for price in variant.prices:
            await repository.upsert_price(
                uow.conn,
                {
                    "merchant_id": merchant_id,
                    "variant_id": variant_id,
                    "channel": price.channel.value,
                    "currency": check_currency(price.currency),
                    "amount_minor": price.amount_minor,
                    "compare_at_minor": price.compare_at_minor,
                    "updated_at": now,
                },
            )
        if stock_location_id is not None and variant.stock_on_hand is not None:
            await _set_on_hand(uow, variant_id, stock_location_id, variant.stock_on_hand)
    uow.emit("product.upserted", "product", product_id, {"product_id": product_id, "merchant_id": merchant_id})
    return applied


async def _set_on_hand(uow: UnitOfWork, variant_id: int, location_id: int, target: int) -> None:
    level = await inventory_repository.get_level(uow.conn, variant_id, location_id) or StockLevel(0, 0, 0)
    if target != level.on_hand:
        await inventory.adjust(uow, None, variant_id, location_id, target - level.on_hand, "imported stock count")


@dataclass(slots=True)
class ImportReport:
    rows_read: int = 0
    products_created: int = 0
    products_updated: int = 0
    variants_created: int = 0
    variants_updated: int = 0
    issues: list[ImportIssue] = field(default_factory=list)


async def import_parsed(
    uow: UnitOfWork, merchant_id: int, parsed: ParsedFile, *, stock_location_id: int | None = None
) -> ImportReport:
    """Applies every product of a parsed file, each all or nothing (a savepoint per product); a product that fails
    is reported with its first line and reason, and the others still land."""
    report = ImportReport(rows_read=parsed.rows_read, issues=list(parsed.issues))
    for draft in parsed.products:
        savepoint = await uow.conn.begin_nested()
        events_before = len(uow.events)
        try:
            applied = await apply_draft(uow, merchant_id, draft, stock_location_id=stock_location_id)
        except DomainError as error:
            await savepoint.rollback()
            del uow.events[events_before:]
            report.issues.append(ImportIssue(draft.first_line, error.message, draft.handle))
            continue
        await savepoint.commit()
        report.products_created += applied.created
        report.products_updated += not applied.created
        report.variants_created += applied.variants_created
        report.variants_updated += applied.variants_updated
    report.issues.sort(key=lambda issue: issue.line)
    return report


# --- import jobs: the progress and report of a file applied in the background, readable from any process ------------


def _issue_rows(issues: list[ImportIssue]) -> list[dict[str, Any]]:
    return [{"line": i.line, "reason": i.reason, "handle": i.handle} for i in issues]


def _issues_of(rows: list[dict[str, Any]]) -> list[ImportIssue]:
    return [ImportIssue(r["line"], r["reason"], r["handle"]) for r in rows]


def _import_job(row: dict[str, Any], now: datetime) -> ImportJob:
    status = ImportStatus(row["status"])
    return ImportJob(
        id=row["id"], merchant_id=row["merchant_id"], started_by=row["started_by"], source=row["source"],
        file_name=row["file_name"], location_id=row["location_id"], status=status,
        state=import_state(status, row["updated_at"], now), rows_read=row["rows_read"],
        products_total=row["products_total"], products_done=row["products_done"],
        products_created=row["products_created"], products_updated=row["products_updated"],
        variants_created=row["variants_created"], variants_updated=row["variants_updated"],
        issue_count=row["issue_count"], issues=tuple(_issues_of(row.get("issues") or [])),
        started_at=row["started_at"], updated_at=row["updated_at"], finished_at=row["finished_at"],
    )


async def start_import(
    uow: UnitOfWork, principal: Principal, merchant_id: int, *, source: str, file_name: str,
    location_id: int | None, parsed: ParsedFile,
) -> ImportJob:
    """Records a parsed file as a running import of the merchant's, with the lines the parser refused as its report;
    the caller applies the products and reports each chunk with `record_import_chunk`."""
    principal.check_merchant(merchant_id, "merchant")
    if source not in IMPORT_SOURCES:
        raise InvalidInput(f"the source is one of {', '.join(IMPORT_SOURCES)}", field="source")
    check_file_name(file_name)
    now = uow.now()
    job_id = await repository.insert_import_job(uow.conn, {
        "merchant_id": merchant_id, "started_by": principal.key, "source": source, "file_name": file_name[:120],
        "location_id": location_id, "status": ImportStatus.RUNNING.value, "rows_read": parsed.rows_read,
        "products_total": len(parsed.products), "issues": _issue_rows(parsed.issues),
        "started_at": now, "updated_at": now, "finished_at": None,
    })
    row = await repository.get_import_job(uow.conn, job_id, with_issues=True)
    assert row is not None
    return _import_job(row, now)


async def record_import_chunk(uow: UnitOfWork, job_id: int, part: ImportReport, products: int) -> bool:
    """Adds one applied chunk of `products` to a running import: its counts atomically, the products it refused to
    the report by line. False (and nothing changed) when the import is no longer running."""
    counts = {"products_done": products, "products_created": part.products_created,
              "products_updated": part.products_updated, "variants_created": part.variants_created,
              "variants_updated": part.variants_updated}
    if not await repository.add_import_progress(uow.conn, job_id, counts, uow.now()):
        return False
    if part.issues:  # read after the UPDATE above, which holds the row (PostgreSQL) or the database (SQLite)
        earlier = _issues_of(await repository.get_import_issues(uow.conn, job_id))
        await repository.set_import_issues(uow.conn, job_id, _issue_rows(merged_issues(earlier, part.issues)))
    return True


async def finish_import(uow: UnitOfWork, job_id: int, status: ImportStatus) -> bool:
    """Ends a running import as done or failed; False when it had already ended."""
    if status is ImportStatus.RUNNING:
        raise ValueError("an import is finished as done or failed")
    return await repository.finish_import_job(uow.conn, job_id, status.value, uow.now())


async def visible_import(uow: UnitOfWork, principal: Principal, job_id: int, *, with_issues: bool = True
                         ) -> ImportJob:
    """An import as this caller may see it: its merchant's staff and operators; for anyone else it does not exist."""
    row = await repository.get_import_job(uow.conn, job_id, with_issues=with_issues)
    if row is None:
        raise NotFound("no such import", field="job_id")
    principal.check_merchant(row["merchant_id"], "import")
    return _import_job(row, uow.now())


async def recent_imports(uow: UnitOfWork, principal: Principal, limit: int = 10) -> list[ImportJob]:
    """The newest imports this caller may see (its merchant's, or every merchant's for an operator), no reports."""
    rows = await repository.list_import_jobs(uow.conn, merchant_id=principal.merchant_filter(), limit=limit)
    now = uow.now()
    return [_import_job(row, now) for row in rows]


async def set_price(
    uow: UnitOfWork, principal: Principal, variant_id: int, channel: Channel, currency: str, amount_minor: int | None
) -> list[dict[str, Any]]:
    """Sets (or, with None, removes) a SKU's price for one channel and currency; returns all its prices."""
    variant = await repository.get_variant(uow.conn, variant_id)
    if variant is None:
        raise NotFound("no such SKU", field="variant_id")
    principal.check_merchant(variant["merchant_id"], "SKU")
    code = check_currency(currency)
    if amount_minor is None:
        if not await repository.delete_price(uow.conn, variant_id, channel.value, code):
            raise NotFound(f"no {channel.value} {code} price to remove", field="currency")
    else:
        await repository.upsert_price(
            uow.conn,
            {"merchant_id": variant["merchant_id"], "variant_id": variant_id, "channel": channel.value,
             "currency": code, "amount_minor": amount_minor, "updated_at": uow.now()},
        )
    uow.emit("price.changed", "variant", variant_id, {"variant_id": variant_id, "channel": channel.value,
                                                       "currency": code, "amount_minor": amount_minor})
    return await repository.prices_of(uow.conn, [variant_id])


async def visible_product(uow: UnitOfWork, principal: Principal | None, product_id: int) -> dict[str, Any]:
    """A product as this caller may see it: active products for everyone, inactive ones for their merchant only."""
    product = await repository.get_product(uow.conn, product_id)
    if product is None:
        raise NotFound("no such product", field="product_id")
    is_owner = principal is not None and (
        principal.role is Role.OPERATOR
        or (principal.role is Role.MERCHANT and principal.merchant_id == product["merchant_id"])
    )
    if not product["is_active"] and not is_owner:
        raise NotFound("no such product", field="product_id")
    return product


def qr_code(base_url: str, variant_id: int, kind: str, scale: int = 8) -> tuple[bytes, str]:
    """The SKU's scan-to-cart QR code as SVG or PNG bytes, with its media type."""
    qr = segno.make(scan_url(base_url, variant_id), error="m")
    buffer = io.BytesIO()
    if kind == "svg":
        qr.save(buffer, kind="svg", scale=scale, border=2, xmldecl=False)
        return buffer.getvalue(), "image/svg+xml"
    qr.save(buffer, kind="png", scale=scale, border=2)
    return buffer.getvalue(), "image/png"
