"""The merchant console at /console: a merchant's staff (or a platform operator) see their products with prices per
channel and currency, print shelf labels, set prices, count and move stock, follow orders and import product CSVs.

Every change goes through the same services as the API; this module reads forms, turns refusals into messages next
to the field at fault, and holds the console's words. Not part of the API's OpenAPI: these pages are for people.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Callable
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

from fastapi import APIRouter, BackgroundTasks, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError

from unichannel import idempotency
from unichannel.access.model import Principal, Role
from unichannel.api_types import MAX_ID, IdPath
from unichannel.catalog import repository as catalog_repository
from unichannel.catalog import service as catalog_service

# The import endpoint's own reading of an upload and choice of merchant, so the console refuses exactly what the API
# refuses (size, encoding, NUL; a merchant acts for itself, an operator names one).
from unichannel.catalog.api import _merchant_for, _uploaded_text, product_views
from unichannel.catalog.imports import parse_shopify, parse_woocommerce
from unichannel.catalog.model import Channel, ImportStatus, ParsedFile
from unichannel.catalog.schemas import PriceSet
from unichannel.errors import DomainError, IdempotencyKeyReused, InvalidInput, NotFound, parse_choice
from unichannel.inventory import repository as inventory_repository
from unichannel.inventory import service as inventory_service
from unichannel.inventory.model import StockLevel
from unichannel.inventory.schemas import AdjustIn, TransferIn
from unichannel.money import check_currency, parse_amount
from unichannel.orders import repository as orders_repository
from unichannel.orders import service as orders_service
from unichannel.orders.api import order_views
from unichannel.orders.model import TRANSITIONS, OrderStatus
from unichannel.pages.routes import page_locale, page_principal, render
from unichannel.pages.text import DEFAULT_LOCALE, error_text, words
from unichannel.payments import service as payments_service
from unichannel.web import new_uow

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

T = TypeVar("T")
Errors = dict[str, str]

STAFF_ROLES = (Role.MERCHANT, Role.OPERATOR)
PAGE_SIZE = 50
STOCK_ROWS = 2000
MAX_AMOUNT_CHARS = 20  # "99999999999.99" and then some: longer is a paste accident, not a price
IMPORT_CHUNK = 20  # products per transaction: the page shows progress between chunks, and each holds locks briefly
RECENT_IMPORTS = 10  # listed on the import page
PARSERS = {"woocommerce": parse_woocommerce, "shopify": parse_shopify}
# The moves a merchant makes from the console; paying and confirming receipt belong to the shopper.
CONSOLE_MOVES = (OrderStatus.ALLOCATED, OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.CANCELLED)
WHOLE_NUMBER = re.compile(r"^[+-]?[0-9]{1,12}$")

WORDS: dict[str, dict[str, str]] = {
    "zh_CN": {
        "console": "商家后台", "overview": "概览", "products": "商品", "stock": "库存", "orders": "订单",
        "import": "导入商品", "operator": "平台运营", "console_only": "商家后台仅限商家员工和平台运营人员，请先登录。",
        "products_hint": "商品、规格、各渠道价格与货架标签", "stock_hint": "各门店与仓库的在库、已占用和可售；调整与调拨",
        "orders_hint": "订单状态、明细、包裹与状态记录", "import_hint": "上传 WooCommerce 或 Shopify 商品 CSV",
        "to_allocate": "待备货（已支付）", "recent_orders": "最近订单", "search_products": "搜索商品名称或 SKU",
        "variant": "规格", "prices": "价格", "no_price": "未定价", "on_hand": "在库", "reserved": "已占用",
        "safety": "安全库存", "available": "可售", "active": "在售", "inactive": "已下架", "merchant": "商家",
        "channel": "渠道", "ch_online": "线上", "ch_store": "门店", "currency": "币种", "amount": "价格",
        "amount_hint": "按主币单位填写（元，不是分），例如 99.00", "set_price": "设置价格", "save_price": "保存价格",
        "price_saved": "价格已保存", "print_label": "打印货架标签", "label": "货架标签", "print": "打印",
        "copies": "份数", "update": "更新", "back": "返回", "no_products": "还没有商品", "next_page": "下一页", "first_page": "第一页",
        "location": "门店 / 仓库", "all_locations": "全部地点", "filter": "筛选", "adjust": "调整库存",
        "delta": "变动数量", "delta_hint": "正数增加，负数减少，例如 5 或 -3", "reason": "原因",
        "reason_hint": "例如：盘点、损耗", "transfer": "调拨", "from_location": "调出", "to_location": "调入",
        "quantity": "数量", "do_adjust": "确认调整", "do_transfer": "确认调拨", "stock_saved": "库存已更新",
        "no_stock": "还没有库存记录", "choose": "请选择", "no_managed_locations":
        "您的商家没有自营门店或仓库；平台仓库的库存由平台运营调整。", "sku": "SKU",
        "order": "订单", "status": "状态", "all_statuses": "全部状态", "placed_at": "下单时间", "total": "合计",
        "delivery": "配送", "lines": "商品明细", "shipments": "包裹", "history": "状态记录", "actor": "操作人",
        "note": "备注", "no_orders": "没有订单", "older": "更早的订单", "move_to": "改为：{status}",
        "moved": "订单状态已更新", "address": "收货地址", "tracking": "运单号", "unit_price": "单价",
        "subtotal": "小计", "fee": "运费", "pickup_location": "自提点", "channel_online": "线上",
        "placed": "待支付", "paid": "已支付", "allocated": "备货中", "shipped": "已发货", "delivered": "已送达",
        "completed": "已完成", "cancelled": "已取消", "home_delivery": "送货上门", "express": "30分钟达",
        "pickup": "自提", "in_store": "门店销售", "source": "文件来源", "file": "CSV 文件",
        "file_hint": "UTF-8 编码，最大 20 MB", "location_for_stock": "文件中的库存计入",
        "no_location": "不导入库存（只导入商品和价格）", "start_import": "开始导入", "import_of": "导入 {file}",
        "stage_read": "已读取 {n} 行", "stage_apply": "已写入 {done} / {total} 个商品", "stage_done": "导入完成",
        "stage_failed": "导入中断：数据库不可用。已写入的商品保留，重新导入同一文件是安全的。",
        "report": "错误报告", "line": "行号", "handle": "商品", "problem": "问题", "no_problems": "没有错误行",
        "created": "新建商品 {p} 个、规格 {v} 个；更新商品 {up} 个、规格 {uv} 个",
        "stage_interrupted": "导入中断：运行这次导入的服务进程已停止。已写入的商品保留，重新导入同一文件是安全的。",
        "stopped": "已中断",
        "recent_imports": "最近的导入", "new_import": "再导入一个文件", "whole_number": "请输入整数",
        "required": "必填", "too_long": "太长了（最多 {n} 个字符）", "enter_price": "请输入价格，例如 99.00",
        "too_large": "价格太大了", "form_used": "这个表单已经提交过；请刷新页面后再试。",
        "progress": "进度", "running": "正在导入…", "confirm_cancel": "确定取消这个订单吗？已付款项将退回。",
        "at_most": "不能大于 {n}", "at_least": "不能小于 {n}", "not_allowed": "填写的内容不符合要求", "locale": "zh_CN",
    },
    "en": {
        "console": "Merchant console", "overview": "Overview", "products": "Products", "stock": "Stock",
        "orders": "Orders", "import": "Import", "operator": "Platform operator",
        "console_only": "The merchant console is for merchant staff and platform operators: sign in first.",
        "products_hint": "Products, variants, prices per channel and shelf labels",
        "stock_hint": "On hand, reserved and available per store and warehouse; adjust and transfer",
        "orders_hint": "Order status, lines, parcels and history",
        "import_hint": "Upload a WooCommerce or Shopify product CSV", "to_allocate": "To prepare (paid)",
        "recent_orders": "Recent orders", "search_products": "Search by product name or SKU", "variant": "Variant",
        "prices": "Prices", "no_price": "no price", "on_hand": "On hand", "reserved": "Reserved",
        "safety": "Safety stock", "available": "Available", "active": "active", "inactive": "inactive",
        "merchant": "Merchant", "channel": "Channel", "ch_online": "Online", "ch_store": "Store",
        "currency": "Currency", "amount": "Price", "amount_hint": "in major units, e.g. 99.00",
        "set_price": "Set a price", "save_price": "Save price", "price_saved": "Price saved",
        "print_label": "Print shelf label", "label": "Shelf label", "print": "Print", "copies": "Copies",
        "update": "Update",
        "back": "Back", "no_products": "No products yet", "next_page": "Next page", "first_page": "First page",
        "location": "Store / warehouse", "all_locations": "All locations", "filter": "Filter",
        "adjust": "Adjust stock", "delta": "Change", "delta_hint": "positive adds, negative removes, e.g. 5 or -3",
        "reason": "Reason", "reason_hint": "e.g. stock count, damaged", "transfer": "Transfer",
        "from_location": "From", "to_location": "To", "quantity": "Quantity", "do_adjust": "Adjust",
        "do_transfer": "Transfer", "stock_saved": "Stock updated", "no_stock": "No stock recorded yet",
        "choose": "Choose…", "no_managed_locations": "Your merchant runs no stores or warehouses of its own; stock at "
        "platform locations is adjusted by the platform operator.", "sku": "SKU",
        "order": "Order", "status": "Status", "all_statuses": "All statuses", "placed_at": "Placed",
        "total": "Total", "delivery": "Delivery", "lines": "Lines", "shipments": "Parcels", "history": "History",
        "actor": "By", "note": "Note", "no_orders": "No orders", "older": "Older orders", "move_to": "Mark {status}",
        "moved": "Order updated", "address": "Delivery address", "tracking": "Tracking", "unit_price": "Unit price",
        "subtotal": "Subtotal", "fee": "Delivery", "pickup_location": "Pickup at", "channel_online": "Online",
        "placed": "awaiting payment", "paid": "paid", "allocated": "being prepared", "shipped": "shipped",
        "delivered": "delivered", "completed": "completed", "cancelled": "cancelled",
        "home_delivery": "Home delivery", "express": "30-minute delivery", "pickup": "Pickup",
        "in_store": "In store", "source": "Exported from", "file": "CSV file", "file_hint": "UTF-8, at most 20 MB",
        "location_for_stock": "Put the file's stock at", "no_location": "No stock (products and prices only)",
        "start_import": "Start import", "import_of": "Import of {file}", "stage_read": "Read {n} rows",
        "stage_apply": "Saved {done} of {total} products", "stage_done": "Import finished",
        "stage_failed": "The import stopped: the database is unavailable. The products saved so far stay; "
        "importing the same file again is safe.", "report": "Error report", "line": "Line", "handle": "Product",
        "problem": "Problem", "no_problems": "No line was refused",
        "created": "{p} products and {v} variants created; {up} products and {uv} variants updated",
        "stage_interrupted": "The import stopped: the server process running it went away. The products saved so "
        "far stay; importing the same file again is safe.", "stopped": "stopped", "recent_imports": "Recent imports",
        "new_import": "Import another file", "whole_number": "a whole number, please", "required": "required",
        "too_long": "too long (at most {n} characters)", "enter_price": "enter a price, e.g. 99.00",
        "too_large": "the price is too large", "form_used": "This form was sent already; reload the page and retry.",
        "progress": "Progress", "running": "Importing…",
        "confirm_cancel": "Cancel this order? What was paid is refunded.",
        "at_most": "at most {n}", "at_least": "at least {n}", "not_allowed": "not an allowed value", "locale": "en",
    },
}


def _words(request: Request) -> dict[str, str]:
    return WORDS.get(page_locale(request), WORDS[DEFAULT_LOCALE])


# --- access and rendering ------------------------------------------------------------------------------------------


async def _staff(request: Request) -> Principal | HTMLResponse:
    """The signed-in merchant staff or operator; anyone else gets the sign-in page (401 signed out, 403 signed in
    with another role), as the big screen does."""
    principal = await page_principal(request)
    if principal is not None and principal.role in STAFF_ROLES:
        return principal
    c = _words(request)
    return render(request, "signin.html", {
        "t": words(page_locale(request)) | {"console_only": c["console_only"]}, "message_key": "console_only",
        "next": request.url.path, "principal": principal,
    }, status_code=403 if principal else 401)


def _page(request: Request, name: str, staff: Principal, context: dict[str, Any], *, status_code: int = 200
          ) -> HTMLResponse:
    c = _words(request)
    merchants = context.get("merchants", {})
    who = merchants[staff.merchant_id]["name"] if staff.merchant_id in merchants else c["operator"]
    return render(request, name, {"c": c, "principal": staff, "staff": staff, "who": who,
                                  "is_operator": staff.role is Role.OPERATOR,
                                  "tz": ZoneInfo(request.app.state.settings.local_timezone)} | context,
                  status_code=status_code)


def _not_found(request: Request) -> HTMLResponse:
    return render(request, "not_found.html", {}, status_code=404)


async def _merchants(uow: Any) -> dict[int, dict[str, Any]]:
    return {m["id"]: m for m in await catalog_repository.list_merchants(uow.conn)}


# --- reading forms: every problem is kept under the field it belongs to ----------------------------------------------


def _said(c: dict[str, str], error: DomainError) -> str:
    """A service's refusal in the page's language."""
    return error_text(c["locale"], error)


def _check(errors: Errors, name: str, check: Callable[[], T], c: dict[str, str]) -> T | None:
    try:
        return check()
    except InvalidInput as error:
        errors[name] = _said(c, error)
        return None


def _text(errors: Errors, name: str, value: str, limit: int, c: dict[str, str]) -> str | None:
    value = value.strip()
    if not value:
        errors[name] = c["required"]
        return None
    if len(value) > limit:
        errors[name] = c["too_long"].format(n=limit)
        return None
    return value


def _whole(errors: Errors, name: str, value: str, c: dict[str, str]) -> int | None:
    value = value.strip()
    if not value:
        errors[name] = c["required"]
        return None
    if not WHOLE_NUMBER.match(value):
        errors[name] = c["whole_number"]
        return None
    return int(value)


# pydantic's error types for a bound, and the word and bound the page says them with
BOUNDS = {"less_than_equal": ("at_most", "le"), "greater_than_equal": ("at_least", "ge"),
          "string_too_long": ("too_long", "max_length")}


def _schema_errors(model: type[BaseModel], values: dict[str, Any], c: dict[str, str]) -> Errors:
    """The API's own bounds for the same command (its request model), each under the field it names, in the page's
    words."""
    try:
        model.model_validate(values)
    except ValidationError as error:
        return {str(e["loc"][0]) if e["loc"] else "form": _bound_said(e, c) for e in error.errors()}
    return {}


def _bound_said(problem: Any, c: dict[str, str]) -> str:
    word, bound = BOUNDS.get(problem["type"], ("", ""))
    limit = (problem.get("ctx") or {}).get(bound)
    return c[word].format(n=limit) if word and limit is not None else c["not_allowed"]


def _field_of(error: DomainError, fields: tuple[str, ...], default: str, aliases: dict[str, str] | None = None) -> str:
    name = (aliases or {}).get(error.field or "", error.field or "")
    return name if name in fields else default


def _request_key() -> str:
    return secrets.token_urlsafe(16)


async def _first_time(uow: Any, staff: Principal, key: str, request: Request, body: dict[str, Any]) -> bool:
    """Whether this form is sent for the first time. Each form carries a key, claimed in the transaction of its work:
    a double click or a reload after success does the work once (as an `Idempotency-Key` does for the API)."""
    if not key:
        return True
    fingerprint = idempotency.request_hash(request.method, request.url.path, body)
    claim = await idempotency.claim(uow, staff.key, f"console:{key[:64]}", fingerprint)
    if isinstance(claim, idempotency.Replay):
        return False
    await idempotency.record(uow, claim, f"console:{request.url.path}"[:64], 303, {})
    return True


# --- overview --------------------------------------------------------------------------------------------------------


@router.get("/console", response_class=HTMLResponse)
async def overview(request: Request) -> Response:
    staff = await _staff(request)
    if isinstance(staff, Response):
        return staff
    async with new_uow(request, read_only=True) as uow:
        merchant_id = staff.merchant_filter()
        waiting = await orders_repository.list_orders(uow.conn, merchant_id=merchant_id, status="paid", limit=100)
        recent = await order_views(uow, await orders_repository.list_orders(uow.conn, merchant_id=merchant_id, limit=5))
        merchants = await _merchants(uow)
    return _page(request, "console/overview.html", staff, {
        "section": "overview", "waiting": len(waiting), "waiting_more": len(waiting) == 100, "recent": recent,
        "merchants": merchants})


# --- products, prices and shelf labels --------------------------------------------------------------------------------


async def _products_context(request: Request, staff: Principal, q: str, offset: int, **extra: Any) -> dict[str, Any]:
    async with new_uow(request, read_only=True) as uow:
        rows = await catalog_repository.search_products(
            uow.conn, text=q or None, category_ids=None, merchant_id=staff.merchant_filter(), only_active=False,
            limit=PAGE_SIZE + 1, offset=offset)
        products = await product_views(uow, request, rows[:PAGE_SIZE], with_locations=False)
        variant_ids = [v.id for p in products for v in p.variants]
        stock = await inventory_repository.stock_rows(uow.conn, variant_ids=variant_ids, limit=100_000)
        merchants = await _merchants(uow)
    on_hand: dict[int, int] = {}
    for row in stock:
        on_hand[row["variant_id"]] = on_hand.get(row["variant_id"], 0) + row["on_hand"]
    return {"section": "products", "products": products, "on_hand": on_hand, "merchants": merchants, "q": q,
            "offset": offset, "has_more": len(rows) > PAGE_SIZE,
            "channel_options": [(ch.value, _words(request)[f"ch_{ch.value}"]) for ch in Channel],
            "price_errors": {}, "price_form": {}} | extra


@router.get("/console/products", response_class=HTMLResponse)
async def products(
    request: Request,
    q: Annotated[str, Query(max_length=100)] = "",
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    saved: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Response:
    staff = await _staff(request)
    if isinstance(staff, Response):
        return staff
    context = await _products_context(request, staff, q.strip(), offset, saved=saved)
    return _page(request, "console/products.html", staff, context)


def _price_from_form(errors: Errors, c: dict[str, str], channel: str, currency: str, amount: str
                     ) -> tuple[Channel, str, int] | None:
    """(channel, currency, amount in minor units) from what was typed, or None with the problems in `errors`."""
    chosen = _check(errors, "channel", lambda: parse_choice(Channel, channel.strip(), "channel"), c)
    code_text = _text(errors, "currency", currency, 3, c)
    code = _check(errors, "currency", lambda: check_currency(code_text), c) if code_text is not None else None
    if not amount.strip():
        errors["amount"] = c["enter_price"]
    amount_text = _text(errors, "amount", amount, MAX_AMOUNT_CHARS, c) if amount.strip() else None
    if code is None or chosen is None or amount_text is None:
        return None
    minor = _check(errors, "amount", lambda: parse_amount(amount_text, code, field="amount"), c)
    if minor is None:
        return None
    if _schema_errors(PriceSet, {"channel": chosen, "currency": code, "amount_minor": minor}, c):
        errors["amount"] = c["too_large"]
        return None
    return chosen, code, minor


@router.post("/console/prices/{variant_id}", response_class=HTMLResponse)
async def set_price(
    request: Request, variant_id: IdPath, channel: Annotated[str, Form()] = "", currency: Annotated[str, Form()] = "",
    amount: Annotated[str, Form()] = "", q: Annotated[str, Form()] = "", offset: Annotated[str, Form()] = "0",
) -> Response:
    """Sets one price of a SKU (channel, currency, amount in major units) through the catalog service."""
    staff = await _staff(request)
    if isinstance(staff, Response):
        return staff
    c = _words(request)
    errors: Errors = {}
    status_code = 422
    price = _price_from_form(errors, c, channel, currency, amount)
    if price is not None:
        try:
            async with new_uow(request) as uow:
                await catalog_service.set_price(uow, staff, variant_id, *price)
        except NotFound:
            return _not_found(request)
        except DomainError as error:
            errors[_field_of(error, ("channel", "currency", "amount"), "amount")] = _said(c, error)
            status_code = error.status_code
    if errors:
        page_offset = int(offset) if offset.isascii() and offset.isdigit() and len(offset) < 8 else 0
        context = await _products_context(
            request, staff, q.strip()[:100], page_offset, price_errors={variant_id: errors},
            price_form={variant_id: {"channel": channel, "currency": currency[:20], "amount": amount[:40]}})
        return _page(request, "console/products.html", staff, context, status_code=status_code)
    return RedirectResponse(f"/console/products?saved={variant_id}#variant-{variant_id}", status_code=303)


@router.get("/console/labels/{variant_id}", response_class=HTMLResponse)
async def shelf_label(
    request: Request, variant_id: IdPath, copies: Annotated[int, Query(ge=1, le=60)] = 1
) -> Response:
    """A printable shelf label: the product, the SKU, its store price (else its online price) and its QR code."""
    staff = await _staff(request)
    if isinstance(staff, Response):
        return staff
    async with new_uow(request, read_only=True) as uow:
        row = await catalog_repository.get_variant(uow.conn, variant_id)
        try:
            if row is None:
                raise NotFound("no such SKU")
            staff.check_merchant(row["merchant_id"], "SKU")
        except NotFound:
            return _not_found(request)
        product_row = await catalog_repository.get_product(uow.conn, row["product_id"])
        [product] = await product_views(uow, request, [product_row], with_locations=False)
        merchants = await _merchants(uow)
    variant = next(v for v in product.variants if v.id == variant_id)
    merchant = merchants[product.merchant_id]
    # The price a shopper pays at the shelf: the store price in the merchant's currency, else the online one.
    by_preference = sorted(variant.prices,
                           key=lambda p: (p.currency != merchant["currency"], p.channel != Channel.STORE))
    return _page(request, "console/label.html", staff, {
        "section": "products", "product": product, "variant": variant, "merchant": merchant,
        "price": by_preference[0] if by_preference else None, "copies": copies, "merchants": merchants})


# --- stock ------------------------------------------------------------------------------------------------------------


async def _stock_context(request: Request, staff: Principal, location_id: int | None = None, **extra: Any
                         ) -> dict[str, Any]:
    merchant_id = staff.merchant_filter()
    async with new_uow(request, read_only=True) as uow:
        rows = await inventory_repository.stock_rows(uow.conn, merchant_id=merchant_id, location_id=location_id,
                                                     limit=STOCK_ROWS)
        product_rows = await catalog_repository.search_products(
            uow.conn, text=None, category_ids=None, merchant_id=merchant_id, only_active=False, limit=2000, offset=0)
        variant_rows = await catalog_repository.variants_of(uow.conn, [p["id"] for p in product_rows])
        places = await inventory_repository.list_locations(uow.conn)
        managed = places
        if merchant_id is not None:  # the locations its staff may change stock at: the ones the merchant runs
            managed = await inventory_repository.list_locations(uow.conn, merchant_id=merchant_id)
        merchants = await _merchants(uow)
    product_names = {p["id"]: p["name"] for p in product_rows}
    variants = {v["id"]: v | {"product_name": product_names.get(v["product_id"], "")} for v in variant_rows}
    places_by_id = {p["id"]: p for p in places}
    levels = [
        {"variant": variants.get(r["variant_id"], {"id": r["variant_id"], "sku": "?", "name": "", "product_name": ""}),
         "location": places_by_id[r["location_id"]],
         "level": StockLevel(r["on_hand"], r["reserved"], r["safety_stock"])}
        for r in rows
    ]
    levels.sort(key=lambda x: (x["variant"]["product_name"], x["variant"]["sku"], x["location"]["code"]))
    return {"section": "stock", "levels": levels, "variants": list(variants.values()), "merchants": merchants,
            "places": [p for p in places if p["is_active"]], "managed": [p for p in managed if p["is_active"]],
            "location_id": location_id, "adjust_errors": {}, "adjust_form": {}, "transfer_errors": {},
            "transfer_form": {}, "adjust_key": _request_key(), "transfer_key": _request_key()} | extra


@router.get("/console/stock", response_class=HTMLResponse)
async def stock(
    request: Request,
    location: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    saved: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    staff = await _staff(request)
    if isinstance(staff, Response):
        return staff
    return _page(request, "console/stock.html", staff, await _stock_context(request, staff, location, saved=saved))


ADJUST_FIELDS = ("variant_id", "location_id", "delta", "reason")


@router.post("/console/stock/adjust", response_class=HTMLResponse)
async def adjust_stock(
    request: Request, variant_id: Annotated[str, Form()] = "", location_id: Annotated[str, Form()] = "",
    delta: Annotated[str, Form()] = "", reason: Annotated[str, Form()] = "", request_key: Annotated[str, Form()] = "",
) -> Response:
    """Corrects a SKU's on-hand count at a location by a signed delta, with a reason (the inventory service)."""
    staff = await _staff(request)
    if isinstance(staff, Response):
        return staff
    c = _words(request)
    errors: Errors = {}
    values = {"variant_id": _whole(errors, "variant_id", variant_id, c),
              "location_id": _whole(errors, "location_id", location_id, c),
              "delta": _whole(errors, "delta", delta, c), "reason": _text(errors, "reason", reason, 200, c)}
    errors = errors or _schema_errors(AdjustIn, values, c)
    status_code = 422
    if not errors:
        try:
            async with new_uow(request) as uow:
                if await _first_time(uow, staff, request_key, request, values):
                    await inventory_service.adjust(uow, staff, values["variant_id"], values["location_id"],
                                                   values["delta"], values["reason"])
        except IdempotencyKeyReused:
            errors["form"], status_code = c["form_used"], 409
        except DomainError as error:
            aliases = {"quantity": "delta", "lot_code": "delta"}
            unnamed = "location_id" if isinstance(error, NotFound) else "delta"  # a location not theirs names no field
            errors[_field_of(error, ADJUST_FIELDS, unnamed, aliases)] = _said(c, error)
            status_code = error.status_code
    if errors:
        form = {"variant_id": variant_id, "location_id": location_id, "delta": delta[:20], "reason": reason[:300]}
        context = await _stock_context(request, staff, adjust_errors=errors, adjust_form=form)
        return _page(request, "console/stock.html", staff, context, status_code=status_code)
    return RedirectResponse("/console/stock?saved=adjust", status_code=303)


TRANSFER_FIELDS = ("variant_id", "from_location_id", "to_location_id", "quantity")


@router.post("/console/stock/transfer", response_class=HTMLResponse)
async def transfer_stock(
    request: Request, variant_id: Annotated[str, Form()] = "", from_location_id: Annotated[str, Form()] = "",
    to_location_id: Annotated[str, Form()] = "", quantity: Annotated[str, Form()] = "",
    request_key: Annotated[str, Form()] = "",
) -> Response:
    """Moves unreserved units of a SKU from one location to another, both sides or neither (the inventory service)."""
    staff = await _staff(request)
    if isinstance(staff, Response):
        return staff
    c = _words(request)
    errors: Errors = {}
    values = {name: _whole(errors, name, value, c) for name, value in (
        ("variant_id", variant_id), ("from_location_id", from_location_id), ("to_location_id", to_location_id),
        ("quantity", quantity))}
    errors = errors or _schema_errors(TransferIn, values, c)
    status_code = 422
    if not errors:
        try:
            async with new_uow(request) as uow:
                if await _first_time(uow, staff, request_key, request, values):
                    await inventory_service.transfer(uow, staff, values["variant_id"], values["from_location_id"],
                                                     values["to_location_id"], values["quantity"])
        except IdempotencyKeyReused:
            errors["form"], status_code = c["form_used"], 409
        except DomainError as error:
            unnamed = "from_location_id" if isinstance(error, NotFound) else "quantity"
            errors[_field_of(error, TRANSFER_FIELDS, unnamed, {"lot_code": "quantity"})] = _said(c, error)
            status_code = error.status_code
    if errors:
        form = {"variant_id": variant_id, "from_location_id": from_location_id, "to_location_id": to_location_id,
                "quantity": quantity[:20]}
        context = await _stock_context(request, staff, transfer_errors=errors, transfer_form=form)
        return _page(request, "console/stock.html", staff, context, status_code=status_code)
    return RedirectResponse("/console/stock?saved=transfer", status_code=303)


# --- orders -----------------------------------------------------------------------------------------------------------


@router.get("/console/orders", response_class=HTMLResponse)
async def orders(
    request: Request,
    status: Annotated[str, Query(max_length=20)] = "",
    before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Response:
    staff = await _staff(request)
    if isinstance(staff, Response):
        return staff
    errors: Errors = {}
    c = _words(request)
    chosen = _check(errors, "status", lambda: parse_choice(OrderStatus, status, "status"), c) if status else None
    async with new_uow(request, read_only=True) as uow:
        rows = await orders_repository.list_orders(
            uow.conn, merchant_id=staff.merchant_filter(), status=chosen.value if chosen else None,
            limit=PAGE_SIZE + 1, before_id=before)
        views = await order_views(uow, rows[:PAGE_SIZE])
        merchants = await _merchants(uow)
    return _page(request, "console/orders.html", staff, {
        "section": "orders", "orders": views, "status": status if chosen else "", "errors": errors,
        "statuses": [s.value for s in OrderStatus], "merchants": merchants,
        "older": views[-1].id if len(rows) > PAGE_SIZE else None}, status_code=422 if errors else 200)


async def _order_page(request: Request, staff: Principal, order_id: int, **extra: Any) -> HTMLResponse:
    try:
        async with new_uow(request, read_only=True) as uow:
            row = await orders_service.visible_order(uow, staff, order_id)
            [view] = await order_views(uow, [row], with_history=True, caller=staff)
            places = {p["id"]: p for p in await inventory_repository.list_locations(uow.conn)}
            merchants = await _merchants(uow)
    except NotFound:
        return _not_found(request)
    moves = [s.value for s in CONSOLE_MOVES if s in TRANSITIONS[view.status]]
    status_code = extra.pop("status_code", 200)
    return _page(request, "console/order.html", staff, {
        "section": "orders", "order": view, "places": places, "moves": moves, "merchants": merchants,
        "error": None, "moved": request.query_params.get("moved")} | extra, status_code=status_code)


@router.get("/console/orders/{order_id}", response_class=HTMLResponse)
async def order(request: Request, order_id: IdPath) -> Response:
    staff = await _staff(request)
    if isinstance(staff, Response):
        return staff
    return await _order_page(request, staff, order_id)


@router.post("/console/orders/{order_id}/move", response_class=HTMLResponse)
async def move_order(
    request: Request, order_id: IdPath, to: Annotated[str, Form()] = "", note: Annotated[str, Form()] = ""
) -> Response:
    """Moves the order one step through the order service; a cancelled paid order is refunded after the commit,
    as the API does."""
    staff = await _staff(request)
    if isinstance(staff, Response):
        return staff
    if len(note.strip()) > 200:
        return await _order_page(request, staff, order_id, error=_words(request)["too_long"].format(n=200),
                                 status_code=422)
    try:
        target = parse_choice(OrderStatus, to.strip()[:20], "to")
        async with new_uow(request) as uow:
            moved = await orders_service.move(uow, staff, order_id, target, note=note.strip())
    except NotFound:
        return _not_found(request)
    except DomainError as error:
        return await _order_page(request, staff, order_id, error=_said(_words(request), error),
                                 status_code=error.status_code)
    if target is OrderStatus.CANCELLED and moved["payment_reference"] is not None:
        state = request.app.state
        await payments_service.pay_back_processing_refunds(state.uow_factory, state.gateway)
    return RedirectResponse(f"/console/orders/{order_id}?moved=1", status_code=303)


# --- product imports, applied in the background with their progress ---------------------------------------------------
# The progress and report live in the import's row (catalog import_jobs), so any server process answers the page and
# its polls, and a finished import's report outlives a restart. The process that got the upload applies the file.


async def _apply_in_chunks(factory: Any, job_id: int, merchant_id: int, parsed: ParsedFile,
                           location_id: int | None) -> None:
    """Applies the parsed products through `import_parsed`, a chunk per transaction, writing the job's progress after
    each chunk in a short transaction of its own. Each product stays all or nothing; a chunk that committed stays if
    a later one fails (re-importing the same file changes nothing that is already there). If this process dies, the
    row stops moving and the page shows the import as interrupted."""
    status = ImportStatus.DONE
    try:
        for start in range(0, len(parsed.products), IMPORT_CHUNK):
            chunk = parsed.products[start:start + IMPORT_CHUNK]
            async with factory() as uow:
                part = await catalog_service.import_parsed(uow, merchant_id, ParsedFile(chunk, [], 0),
                                                           stock_location_id=location_id)
            async with factory() as uow:
                await catalog_service.record_import_chunk(uow, job_id, part, len(chunk))
    except Exception:  # a background task has no caller to tell: the page shows that it stopped
        log.exception("console import %s stopped", job_id)
        status = ImportStatus.FAILED
    try:
        async with factory() as uow:
            await catalog_service.finish_import(uow, job_id, status)
    except Exception:  # the database is gone: the row stays running, and shows as interrupted once silent
        log.exception("console import %s could not be marked %s", job_id, status.value)


async def _import_context(request: Request, staff: Principal, **extra: Any) -> dict[str, Any]:
    merchant_id = staff.merchant_filter()
    async with new_uow(request, read_only=True) as uow:
        places = await inventory_repository.list_locations(uow.conn, merchant_id=merchant_id)
        merchants = await _merchants(uow)
        jobs = await catalog_service.recent_imports(uow, staff, limit=RECENT_IMPORTS)
    return {"section": "import", "managed": [p for p in places if p["is_active"]], "merchants": merchants,
            "sources": list(PARSERS), "errors": {}, "form": {}, "jobs": jobs, "job": None} | extra


@router.get("/console/import", response_class=HTMLResponse)
async def import_form(request: Request) -> Response:
    staff = await _staff(request)
    if isinstance(staff, Response):
        return staff
    return _page(request, "console/import.html", staff, await _import_context(request, staff))


IMPORT_FIELDS = ("file", "source", "location_id", "merchant")


@router.post("/console/import", response_class=HTMLResponse)
async def start_import(request: Request, background: BackgroundTasks) -> Response:
    """Reads the upload as the API does, checks the merchant and location, parses the file, records the import and
    applies it in the background; the browser goes to the import's page, which shows its progress and then its
    error report."""
    staff = await _staff(request)
    if isinstance(staff, Response):
        return staff
    c = _words(request)
    errors: Errors = {}
    status_code = 422
    text = ""
    try:
        text = await _uploaded_text(request)
    except DomainError as error:
        errors["file"] = _said(c, error)
    form = await request.form()
    source, location, merchant = (str(form.get(name) or "")[:80] for name in ("source", "location_id", "merchant"))
    if source not in PARSERS:
        errors["source"] = c["required"]
    location_id = _whole(errors, "location_id", location, c) if location else None
    merchant_row: dict[str, Any] = {}
    try:
        async with new_uow(request, read_only=True) as uow:
            merchant_row = await catalog_repository.get_merchant(
                uow.conn, await _merchant_for(uow, staff, merchant.strip() or None)) or {}
            if location_id is not None:
                place = await inventory_service.get_location(uow, location_id)
                staff.check_location(location_id, place["merchant_id"])
    except DomainError as error:
        errors.setdefault(_field_of(error, IMPORT_FIELDS, "location_id"), _said(c, error))
        status_code = error.status_code
    if errors:
        form_values = {"source": source, "location_id": location, "merchant": merchant}
        context = await _import_context(request, staff, errors=errors, form=form_values)
        return _page(request, "console/import.html", staff, context, status_code=status_code)
    parsed = await asyncio.to_thread(PARSERS[source], text, merchant_row["currency"])
    upload = form.get("file")
    async with new_uow(request) as uow:
        job = await catalog_service.start_import(
            uow, staff, merchant_row["id"], source=source, location_id=location_id, parsed=parsed,
            file_name=str(getattr(upload, "filename", "") or f"{source}.csv"))
    background.add_task(_apply_in_chunks, request.app.state.uow_factory, job.id, merchant_row["id"], parsed,
                        location_id)
    return RedirectResponse(f"/console/import/{job.id}", status_code=303)


@router.get("/console/import/{job_id}", response_class=HTMLResponse)
async def import_page(request: Request, job_id: IdPath) -> Response:
    staff = await _staff(request)
    if isinstance(staff, Response):
        return staff
    try:
        async with new_uow(request, read_only=True) as uow:
            job = await catalog_service.visible_import(uow, staff, job_id)
    except NotFound:  # another merchant's import is as absent as one that never was
        return _not_found(request)
    return _page(request, "console/import.html", staff, await _import_context(request, staff, job=job))


HTMX_STOP_POLLING = 286  # htmx swaps this answer in and stops polling


@router.get("/console/import/{job_id}/progress", response_class=HTMLResponse)
async def import_progress(request: Request, job_id: IdPath) -> Response:
    """The progress fragment htmx polls while the import runs; the finished (or interrupted) one carries the report
    and ends the polling."""
    staff = await _staff(request)
    if isinstance(staff, Response):
        return HTMLResponse("", status_code=staff.status_code)
    try:
        async with new_uow(request, read_only=True) as uow:
            job = await catalog_service.visible_import(uow, staff, job_id, with_issues=False)
            if job.state != ImportStatus.RUNNING:  # the report is shown once the import has ended
                job = await catalog_service.visible_import(uow, staff, job_id)
    except NotFound:
        return HTMLResponse("", status_code=404)
    return render(request, "console/_import_progress.html", {"c": _words(request), "job": job},
                  status_code=200 if job.state == ImportStatus.RUNNING else HTMX_STOP_POLLING)
