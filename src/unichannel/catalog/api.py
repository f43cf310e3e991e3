"""Catalog HTTP routes under /api/v1."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from unichannel.access.model import Principal, Role
from unichannel.api_types import IdPath
from unichannel.catalog import repository, service
from unichannel.catalog.imports import parse_shopify, parse_woocommerce
from unichannel.catalog.model import (
    PriceDraft,
    ProductDraft,
    VariantDraft,
    category_and_descendants,
    check_file_name,
    scan_url,
    slugify,
)
from unichannel.catalog.schemas import (
    FulfilmentStrategyIn,
    CategoryOut,
    ImportReportOut,
    LocationStock,
    MerchantIn,
    MerchantOut,
    PriceOut,
    PriceSet,
    ProductIn,
    ProductOut,
    ProductPage,
    VariantOut,
)
from unichannel.errors import AlreadyExists, InvalidInput, NotFound
from unichannel.inventory import repository as inventory_repository
from unichannel.money import Money
from unichannel.uow import UnitOfWork
from unichannel.web import Caller, MaybeCaller, new_uow

router = APIRouter(tags=["catalog"])
MAX_IMPORT_BYTES = 20 * 1024 * 1024


@router.get("/merchants", response_model=list[MerchantOut])
async def list_merchants(request: Request) -> list[dict[str, Any]]:
    async with new_uow(request, read_only=True) as uow:
        return await repository.list_merchants(uow.conn)


@router.post("/merchants", response_model=MerchantOut, status_code=201)
async def create_merchant(request: Request, caller: Caller, body: MerchantIn) -> dict[str, Any]:
    caller.require(Role.OPERATOR)
    async with new_uow(request) as uow:
        return await service.create_merchant(uow, **body.model_dump(mode="json"))


@router.put("/merchants/{merchant_id}/fulfilment-strategy", response_model=MerchantOut)
async def set_fulfilment_strategy(
    request: Request, caller: Caller, merchant_id: IdPath, body: FulfilmentStrategyIn
) -> dict[str, Any]:
    """How the merchant's online orders choose the location that ships (the merchant's staff or an operator)."""
    caller.require(Role.MERCHANT, Role.OPERATOR)
    if caller.role is Role.MERCHANT and caller.merchant_id != merchant_id:
        raise NotFound("no such merchant", field="merchant_id")
    async with new_uow(request) as uow:
        if await repository.get_merchant(uow.conn, merchant_id) is None:
            raise NotFound("no such merchant", field="merchant_id")
        await repository.set_fulfilment_strategy(uow.conn, merchant_id, body.strategy)
        uow.emit("merchant.fulfilment_strategy_set", "merchant", merchant_id,
                 {"merchant_id": merchant_id, "strategy": body.strategy})
        return await repository.get_merchant(uow.conn, merchant_id)


@router.get("/categories", response_model=list[CategoryOut])
async def list_categories(request: Request) -> list[dict[str, Any]]:
    async with new_uow(request, read_only=True) as uow:
        return await repository.list_categories(uow.conn)


async def product_views(
    uow: UnitOfWork, request: Request, rows: list[dict[str, Any]], *, with_locations: bool
) -> list[ProductOut]:
    """Products with their variants, prices and live availability (units buyers can still reserve)."""
    variant_rows = await repository.variants_of(uow.conn, [r["id"] for r in rows])
    variant_ids = [v["id"] for v in variant_rows]
    price_rows = await repository.prices_of(uow.conn, variant_ids)
    stock_rows = await inventory_repository.stock_rows(uow.conn, variant_ids=variant_ids, limit=100_000)
    locations = {loc["id"]: loc for loc in await inventory_repository.list_locations(uow.conn)}
    base = uow.settings.public_base_url
    variants_by_product: dict[int, list[VariantOut]] = {}
    for v in variant_rows:
        prices = [
            PriceOut(
                channel=p["channel"],
                currency=p["currency"],
                amount_minor=p["amount_minor"],
                compare_at_minor=p["compare_at_minor"],
                display=Money(p["amount_minor"], p["currency"]).display(),
            )
            for p in price_rows
            if p["variant_id"] == v["id"]
        ]
        per_location = [
            LocationStock(
                location_id=s["location_id"],
                location_code=locations[s["location_id"]]["code"],
                location_name=locations[s["location_id"]]["name"],
                location_kind=locations[s["location_id"]]["kind"],
                city=locations[s["location_id"]]["city"],
                available=max(0, s["on_hand"] - s["reserved"] - s["safety_stock"]),
            )
            for s in stock_rows
            if s["variant_id"] == v["id"] and locations[s["location_id"]]["is_active"]
        ]
        variants_by_product.setdefault(v["product_id"], []).append(
            VariantOut(
                **{k: v[k] for k in ("id", "sku", "name", "options", "barcode", "grams", "is_active")},
                prices=prices,
                available=sum(s.available for s in per_location),
                availability=[s for s in per_location if s.available > 0] if with_locations else None,
                scan_url=scan_url(base, v["id"]),
                qr_svg_url=str(request.url_for("variant_qr", variant_id=v["id"], kind="svg").path),
            )
        )
    return [ProductOut(**r, variants=variants_by_product.get(r["id"], [])) for r in rows]


@router.get("/products", response_model=ProductPage)
async def search_products(
    request: Request,
    caller: MaybeCaller,
    q: Annotated[str | None, Query(max_length=100)] = None,
    category: Annotated[str | None, Query(max_length=200, description="category slug")] = None,
    merchant: Annotated[str | None, Query(max_length=80, description="merchant slug")] = None,
    include_inactive: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> ProductPage:
    async with new_uow(request, read_only=True) as uow:
        merchant_id = None
        if merchant is not None:
            merchant_id = (await service.merchant_by_slug(uow, merchant))["id"]
        category_ids = None
        if category is not None:
            row = await repository.get_category_by_slug(uow.conn, category)
            if row is None:
                raise NotFound(f"no category {category!r}", field="category")
            category_ids = category_and_descendants(row["id"], await repository.list_categories(uow.conn))
        only_active = True
        if include_inactive:
            staff_merchant = caller.merchant_filter() if caller else None
            if caller is None or (staff_merchant is not None and merchant_id not in (None, staff_merchant)):
                raise NotFound("no such merchant", field="merchant")
            merchant_id = merchant_id if staff_merchant is None else staff_merchant
            only_active = False
        rows = await repository.search_products(
            uow.conn, text=q, category_ids=category_ids, merchant_id=merchant_id, only_active=only_active,
            limit=limit, offset=offset,
        )
        return ProductPage(items=await product_views(uow, request, rows, with_locations=False), limit=limit, offset=offset)


@router.get("/products/{product_id}", response_model=ProductOut)
async def get_product(request: Request, caller: MaybeCaller, product_id: IdPath) -> ProductOut:
    async with new_uow(request, read_only=True) as uow:
        product = await service.visible_product(uow, caller, product_id)
        [view] = await product_views(uow, request, [product], with_locations=True)
        return view


@router.post("/products", response_model=ProductOut, status_code=201)
async def create_product(request: Request, caller: Caller, body: ProductIn) -> ProductOut:
    caller.require(Role.MERCHANT, Role.OPERATOR)
    async with new_uow(request) as uow:
        merchant_id = await _merchant_for(uow, caller, body.merchant)
        draft = ProductDraft(
            handle=body.handle or slugify(body.name) or "product",
            name=body.name,
            description=body.description,
            category_path=body.category_path,
            tags=body.tags,
            is_active=body.is_active,
            variants=[
                VariantDraft(
                    sku=v.sku, name=v.name or body.name, options=v.options, barcode=v.barcode, grams=v.grams,
                    prices=[PriceDraft(p.channel, p.currency.upper(), p.amount_minor, p.compare_at_minor) for p in v.prices],
                )
                for v in body.variants
            ],
        )
        if await repository.get_product_by_handle(uow.conn, merchant_id, draft.handle) is not None:
            raise AlreadyExists(f"this merchant already has a product {draft.handle!r}", field="handle")
        applied = await service.apply_draft(uow, merchant_id, draft)
        product = await repository.get_product(uow.conn, applied.product_id)
        [view] = await product_views(uow, request, [product], with_locations=True)
        return view


async def _merchant_for(uow: UnitOfWork, caller: Principal, slug: str | None) -> int:
    """The merchant a staff caller acts for: their own; an operator names one."""
    if caller.role is Role.MERCHANT:
        if slug is not None:
            merchant = await repository.get_merchant_by_slug(uow.conn, slug)
            if merchant is None or merchant["id"] != caller.merchant_id:
                raise NotFound(f"no merchant {slug!r}", field="merchant")
        return caller.merchant_id
    if slug is None:
        raise InvalidInput("name the merchant (slug)", field="merchant")
    return (await service.merchant_by_slug(uow, slug))["id"]


@router.put("/variants/{variant_id}/prices", response_model=list[PriceOut])
async def set_price(request: Request, caller: Caller, variant_id: IdPath, body: PriceSet) -> list[PriceOut]:
    async with new_uow(request) as uow:
        rows = await service.set_price(uow, caller, variant_id, body.channel, body.currency, body.amount_minor)
        return [
            PriceOut(**{k: r[k] for k in ("channel", "currency", "amount_minor", "compare_at_minor")},
                     display=Money(r["amount_minor"], r["currency"]).display())
            for r in rows
        ]


@router.get("/variants/{variant_id}/qr.{kind}", name="variant_qr", response_class=Response)
async def variant_qr(request: Request, variant_id: IdPath, kind: Literal["svg", "png"]) -> Response:
    async with new_uow(request, read_only=True) as uow:
        if await repository.get_variant(uow.conn, variant_id) is None:
            raise NotFound("no such SKU", field="variant_id")
    content, media_type = service.qr_code(request.app.state.settings.public_base_url, variant_id, kind)
    return Response(content, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"})


@router.post("/imports/{source}", response_model=ImportReportOut)
async def import_products(
    request: Request,
    caller: Caller,
    source: Literal["woocommerce", "shopify"],
    merchant: Annotated[str | None, Query(max_length=80)] = None,
    location: Annotated[str | None, Query(max_length=40, description="location code that receives file stock")] = None,
) -> ImportReportOut:
    """Imports a product CSV (the raw file as the body, or a multipart form field `file`)."""
    caller.require(Role.MERCHANT, Role.OPERATOR)
    text = await _uploaded_text(request)
    async with new_uow(request) as uow:
        merchant_id = await _merchant_for(uow, caller, merchant)
        merchant_row = await repository.get_merchant(uow.conn, merchant_id)
        location_id = None
        if location is not None:
            row = await inventory_repository.get_location_by_code(uow.conn, location)
            if row is None:
                raise NotFound(f"no location {location!r}", field="location")
            caller.check_location(row["id"], row["merchant_id"])
            location_id = row["id"]
        parse = parse_woocommerce if source == "woocommerce" else parse_shopify
        report = await service.import_parsed(
            uow, merchant_id, parse(text, merchant_row["currency"]), stock_location_id=location_id
        )
        return ImportReportOut.model_validate(report, from_attributes=True)


async def _uploaded_text(request: Request) -> str:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_part_size=MAX_IMPORT_BYTES)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise InvalidInput("attach the CSV as the form field 'file'", field="file")
        check_file_name(upload.filename or "")  # the console stores it as the import's name
        raw = await upload.read()
    else:
        raw = await request.body()
    if not raw:
        raise InvalidInput("the file is empty", field="file")
    if len(raw) > MAX_IMPORT_BYTES:
        raise InvalidInput("the file is larger than 20 MB", field="file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("the file is not UTF-8 text", field="file") from None
    if "\x00" in text:
        raise InvalidInput("the file contains NUL characters; it is not a CSV export", field="file")
    return text
