"""The store till (POS) for the clerk of one store: identify a member by phone, scan their goods into their one cart
(the same cart they see on their phone, priced for the store channel), sell in store (handed over on the spot) or
buy-in-store-deliver-home, and print the receipt. Every action goes through the same services as the API; the till
only keeps which member it serves in a cookie, and every request re-checks the clerk."""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sse_starlette.sse import EventSourceResponse

from unichannel.access.model import Principal, Role
from unichannel.api_types import MAX_ID
from unichannel.catalog import repository as catalog_repository
from unichannel.catalog.model import Channel
from unichannel.checkout import service as cart_service
from unichannel.checkout.api import cart_owner
from unichannel.customers import repository as customers_repository
from unichannel.customers import service as customers_service
from unichannel.errors import DomainError, InvalidInput, NotFound, SoldOut
from unichannel.events import Event
from unichannel.fulfillment import service as fulfillment
from unichannel.fulfillment.model import Line
from unichannel.inventory import repository as inventory_repository
from unichannel.inventory.model import StockLevel
from unichannel.orders import repository as orders_repository
from unichannel.orders import service as orders_service
from unichannel.orders.model import Address, DeliveryChoice, DeliveryMode, OrderStatus
from unichannel.payments import repository as payments_repository
from unichannel.payments import service as payments_service
from unichannel.payments.gateway import SimulatedGateway
from unichannel.pages.routes import page_locale, page_principal, render
from unichannel.pages.text import error_text, words
from unichannel.web import new_uow

router = APIRouter(include_in_schema=False)

MEMBER_COOKIE = "uc_pos_member"  # the member this till serves: a UI convenience only, never an authorisation
HANDOVER = (OrderStatus.ALLOCATED, OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.COMPLETED)
SIMULATED_CARD = "tok_visa"  # what the simulated card terminal hands over when the form carries no token
SELL_FIELDS = ("phone", "mode", "payment", "name", "address_phone", "line1", "city")
FIELD_LIMITS = {"phone": 32, "code": 200, "quantity": 6, "name": 120, "address_phone": 32, "line1": 300,
                "city": 100, "token": 200}

WORDS = {
    "zh_CN": {
        "till": "收银台", "member": "会员", "member_phone": "会员手机号", "identify": "识别会员",
        "change_member": "换一位会员", "no_member": "请先输入会员手机号识别会员", "scan": "扫码或输入条码 / SKU",
        "add": "加入", "cart": "购物车", "empty_cart": "购物车是空的", "item": "商品", "unit_price": "单价",
        "quantity": "数量", "line_total": "小计", "shelf": "本店库存", "shelf_left": "可售 {n} 件",
        "shelf_short": "本店不足，可送货上门", "no_price": "无门店价", "set_quantity": "改数量", "remove": "删除",
        "total": "合计", "sell": "结账", "mode": "交付方式", "in_store": "店内提货", "home_delivery": "买了送到家",
        "recipient": "收货人", "address_phone": "收货手机号", "line1": "详细地址", "city": "城市",
        "payment": "支付方式", "card": "银行卡", "cash": "现金", "pay": "收款并完成",
        "receipt": "小票", "order": "订单号", "date": "时间", "delivery_fee": "运费", "paid_by": "支付",
        "status": "状态", "print": "打印小票", "next_customer": "下一位顾客",
        "delivered_to": "送货地址", "thanks": "谢谢惠顾", "added": "已加入：{name}",
        "required": "请填写此项", "too_long": "太长了（最多 {n} 个字符）", "bad_text": "含有无效字符",
        "bad_quantity": "数量须为 1 到 {n} 之间的整数（0 为删除）",
        "bad_phone": "手机号格式不对，例如 13800001111", "unknown_member": "没有这个手机号的会员",
        "unknown_code": "没有这个条码或 SKU 的商品", "ambiguous": "多个商家使用此编码，请扫描商品条码",
        "sold_out": "已售罄", "not_on_shelf": "本店货架上不够，请减少数量或选择送货上门", "not_for_sale": "此商品已下架",
        "empty": "购物车是空的，请先扫码",
        "cannot_fulfil": "现在无法这样交付（库存或距离），请换一种方式", "declined": "支付未成功，未扣款，商品已放回购物车",
        "gateway_down": "支付服务暂时无响应，未扣款，商品已放回购物车，请重试", "choose_mode": "请选择交付方式",
        "choose_payment": "请选择支付方式",
        "no_terminal": "刷卡需要读卡器（Stripe Terminal），本收银台尚未接入：请收现金",
        "clerk_only": "收银台仅限门店店员使用，请先用店员令牌登录。",
        "order_status_paid": "已支付，待发货", "order_status_completed": "已交付",
        "sign_out": "退出", "locale": "zh_CN",
        "cash_refunds": "待退现金", "cash_refunds_hint": "这些退款要在本店用现金退给会员，退还后请点“已退还”。",
        "refund_of": "订单 {order} 退款", "paid_back": "已退还",
    },
    "en": {
        "till": "Till", "member": "Member", "member_phone": "Member's phone",
        "identify": "Identify member", "change_member": "Another member",
        "no_member": "Identify the member by phone first", "scan": "Scan or type a barcode / SKU", "add": "Add",
        "cart": "Cart", "empty_cart": "The cart is empty", "item": "Item", "unit_price": "Unit price",
        "quantity": "Qty", "line_total": "Line total", "shelf": "In this store", "shelf_left": "{n} available",
        "shelf_short": "Not enough here: deliver home", "no_price": "no store price", "set_quantity": "Set",
        "remove": "Remove", "total": "Total", "sell": "Checkout", "mode": "Hand-over",
        "in_store": "Take it now", "home_delivery": "Deliver home", "recipient": "Recipient",
        "address_phone": "Recipient's phone", "line1": "Address", "city": "City", "payment": "Payment",
        "card": "Card", "cash": "Cash", "pay": "Take payment and finish", "receipt": "Receipt", "order": "Order",
        "date": "Date", "delivery_fee": "Delivery", "paid_by": "Paid by", "status": "Status",
        "print": "Print receipt", "next_customer": "Next customer",
        "delivered_to": "Deliver to", "thanks": "Thank you", "added": "Added: {name}",
        "required": "This is needed", "too_long": "Too long (at most {n} characters)",
        "bad_text": "Contains characters that are not allowed",
        "bad_quantity": "A quantity is a whole number from 1 to {n} (0 removes the line)",
        "bad_phone": "Not a phone number, e.g. 13800001111", "unknown_member": "No member has this phone number",
        "unknown_code": "No product has this barcode or SKU",
        "ambiguous": "Several merchants use this code: scan the product's barcode", "sold_out": "Sold out",
        "not_on_shelf": "Not enough on this store's shelf: lower the quantity or deliver home",
        "not_for_sale": "This product is not for sale", "empty": "The cart is empty: scan something first",
        "cannot_fulfil": "This hand-over is not possible now (stock or distance): choose another",
        "declined": "The payment did not go through: nothing was charged and the goods are back in the cart",
        "gateway_down": "The payment service did not answer: nothing was charged and the goods are back in the "
                        "cart; try again",
        "choose_mode": "Choose how the goods are handed over", "choose_payment": "Choose how the member pays",
        "no_terminal": "A card at the till needs a card reader (Stripe Terminal), which this till does not have yet: "
                       "take cash",
        "clerk_only": "The till is for store clerks: sign in with your staff token.",
        "order_status_paid": "paid, to be delivered", "order_status_completed": "handed over",
        "sign_out": "Sign out", "locale": "en",
        "cash_refunds": "Cash to pay back",
        "cash_refunds_hint": "These refunds are paid back in cash at this store: hand the notes over, then say so.",
        "refund_of": "Refund of order {order}", "paid_back": "Paid back",
    },
}


def _words(request: Request) -> dict[str, str]:
    return WORDS.get(page_locale(request), WORDS["zh_CN"])


def _is_store_clerk(principal: Principal | None) -> bool:
    return principal is not None and principal.role is Role.CLERK and not principal.is_station_operator


def _has_card_terminal(request: Request) -> bool:
    """Whether this till can take a card: the simulated gateway's terminal hands over a card that pays; a real card
    gateway needs a card reader at the till (Stripe Terminal), which the till does not drive yet."""
    return request.app.state.gateway.card.name == SimulatedGateway.name


def _is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _refused(request: Request, principal: Principal | None) -> Response:
    """The sign-in page (401 signed out, 403 signed in as someone other than a store clerk), as `/screen` does."""
    status = 403 if principal else 401
    if _is_htmx(request):
        return Response(status_code=status, headers={"HX-Redirect": "/signin?next=/pos"})
    t = words(page_locale(request)) | {"clerk_only": _words(request)["clerk_only"]}
    return render(request, "signin.html", {"t": t, "message_key": "clerk_only", "next": "/pos"}, status_code=status)


def _id(text: str) -> int | None:
    """A positive id written in ASCII digits, or None (so no odd digit or huge number reaches `int`)."""
    if not (text.isascii() and text.isdigit() and len(text) <= 19):
        return None
    return int(text) if 0 < int(text) <= MAX_ID else None


def masked_phone(member: dict[str, Any] | None) -> str:
    """The member's phone as the screen and the receipt show it: '+86139****0101' (or their email if no phone)."""
    if member is None:
        return ""
    phone = member["phone"] or ""
    return f"{phone[:-8]}****{phone[-4:]}" if len(phone) > 8 else phone or member["email"] or ""


def _member_id(request: Request) -> int | None:
    return _id(request.cookies.get(MEMBER_COOKIE, ""))


class FormError(InvalidInput):
    """A form field the till itself refuses, already worded for the clerk."""


def _checked(p: dict[str, str], name: str, value: str, *, required: bool = True) -> str:
    """A form field, trimmed: needed, not too long, no NUL (PostgreSQL cannot store it); else FormError on it."""
    value = value.strip()
    if required and not value:
        raise FormError(p["required"], field=name)
    if len(value) > FIELD_LIMITS[name]:
        raise FormError(p["too_long"].format(n=FIELD_LIMITS[name]), field=name)
    if "\x00" in value:
        raise FormError(p["bad_text"], field=name)
    return value


def _said(error: DomainError, p: dict[str, str], field: str, max_quantity: int = 999) -> dict[str, str]:
    """The error in the clerk's words, keyed by the field on this page it is shown next to (in the till's words for
    what happens at a till, else the service's refusal in the page's language)."""
    if isinstance(error, FormError):
        return {field: error.message}
    said = error_text(p["locale"], error)
    if error.code == "not_found":
        message = p["not_for_sale"] if error.field == "sku" else {
            "code": p["unknown_code"], "phone": p["unknown_member"]}.get(field, said)
    elif error.code == "invalid_input" and error.field in ("phone", "quantity"):
        message = p["bad_phone"] if error.field == "phone" else p["bad_quantity"].format(n=max_quantity)
    else:
        message = {"sold_out": p["sold_out"], "ambiguous_code": p["ambiguous"], "empty_cart": p["empty"],
                   "cannot_fulfil": p["cannot_fulfil"], "payment_declined": p["declined"],
                   "gateway_unavailable": p["gateway_down"]}.get(error.code, said)
    return {field: message}


# --- the till ------------------------------------------------------------------------------------------------------


async def _till_context(request: Request, clerk: Principal, **extra: Any) -> dict[str, Any]:
    """The store, the member this till serves, their cart priced for the store, and the store's stock of each item."""
    member_id = _member_id(request)
    member, cart, shelf = None, None, {}
    # Not read-only: a member's cart is created on first sight, as the cart API does.
    async with new_uow(request) as uow:
        store = await inventory_repository.get_location(uow.conn, clerk.location_id)
        if member_id is not None:
            member = await customers_repository.get_customer(uow.conn, member_id)
        if member is not None:
            owner, channel = cart_owner(clerk, member["id"])
            cart = (await cart_service.view(uow, owner, channel)).priced
            variant_ids = [p.item.variant_id for p in cart.items]
            rows = await inventory_repository.stock_rows(uow.conn, variant_ids=variant_ids,
                                                         location_id=clerk.location_id) if variant_ids else []
            shelf = {r["variant_id"]: StockLevel(r["on_hand"], r["reserved"], r["safety_stock"]) for r in rows}
        cash_refunds = await payments_repository.cash_refunds_waiting(uow.conn, clerk.location_id)
    return {"p": _words(request), "clerk": clerk, "store": store, "member": member, "cart": cart, "shelf": shelf,
            "cash_refunds": cash_refunds,
            "member_phone": masked_phone(member), "has_card_terminal": _has_card_terminal(request),
            "errors": {}, "form": {}, "max_quantity": request.app.state.settings.max_line_quantity} | extra


async def _till(request: Request, clerk: Principal, *, status_code: int = 200, **extra: Any) -> HTMLResponse:
    """The whole page, or for htmx only the till section (the scan field, the cart and the checkout)."""
    context = await _till_context(request, clerk, **extra)
    template = "pos/_till.html" if _is_htmx(request) else "pos/till.html"
    return render(request, template, context, status_code=status_code)


@router.get("/pos", response_class=HTMLResponse)
async def till(request: Request) -> Response:
    clerk = await page_principal(request)
    if not _is_store_clerk(clerk):
        return _refused(request, clerk)
    return await _till(request, clerk)


@router.post("/pos/refunds/{order_id}/{refund_id}/paid-back", response_class=HTMLResponse)
async def cash_paid_back(request: Request, order_id: str, refund_id: str) -> Response:
    """The clerk has handed a cash refund's notes to the member: the refund is done (once)."""
    clerk = await page_principal(request)
    if not _is_store_clerk(clerk):
        return _refused(request, clerk)
    order_number, refund_number = _id(order_id), _id(refund_id)
    if order_number is None or refund_number is None:
        return render(request, "not_found.html", {}, status_code=404)
    try:
        async with new_uow(request) as uow:
            order = await orders_service.visible_order(uow, clerk, order_number)
            await payments_service.paid_back_in_cash(uow, clerk, order, refund_number)
    except NotFound:
        return render(request, "not_found.html", {}, status_code=404)
    except DomainError as error:
        return await _till(request, clerk, status_code=error.status_code,
                           refund_error=error_text(page_locale(request), error))
    return RedirectResponse("/pos", status_code=303)  # the refund leaves the list: that is the receipt of it


@router.post("/pos/member", response_class=HTMLResponse)
async def identify_member(request: Request, phone: Annotated[str, Form()] = "") -> Response:
    """Finds the member by phone and remembers them for this till."""
    clerk = await page_principal(request)
    if not _is_store_clerk(clerk):
        return _refused(request, clerk)
    p = _words(request)
    try:
        wanted = _checked(p, "phone", phone)
        async with new_uow(request, read_only=True) as uow:
            member = await customers_service.lookup(uow, phone=wanted)
    except DomainError as error:
        return await _till(request, clerk, errors=_said(error, p, "phone"), form={"phone": phone[:32]},
                           status_code=422 if error.status_code == 404 else error.status_code)
    response = RedirectResponse("/pos", status_code=303)
    response.set_cookie(MEMBER_COOKIE, str(member["id"]), path="/pos", httponly=True, samesite="strict",
                        max_age=4 * 3600)
    return response


@router.post("/pos/member/forget")
async def forget_member(request: Request) -> Response:
    """The next customer: the till forgets the member (their cart stays theirs)."""
    clerk = await page_principal(request)
    if not _is_store_clerk(clerk):
        return _refused(request, clerk)
    response = RedirectResponse("/pos", status_code=303)
    response.delete_cookie(MEMBER_COOKIE, path="/pos")
    return response


@router.post("/pos/scan", response_class=HTMLResponse)
async def scan(request: Request, code: Annotated[str, Form()] = "") -> Response:
    """Adds one unit of the scanned (or typed) barcode, SKU or QR payload to the member's cart; a SKU no place has
    left is refused as sold out (one the store lacks can still be delivered home)."""
    clerk = await page_principal(request)
    if not _is_store_clerk(clerk):
        return _refused(request, clerk)
    p = _words(request)
    try:
        member_id = _member_id(request)
        if member_id is None:
            raise FormError(p["no_member"], field="phone")
        wanted = _checked(p, "code", code)
        owner, channel = cart_owner(clerk, member_id)
        async with new_uow(request) as uow:
            variant = await cart_service.resolve_variant(uow, sku=None, merchant_slug=None, code=wanted)
            cart = (await cart_service.view(uow, owner, channel)).priced
            in_cart = sum(i.item.quantity for i in cart.items if i.item.variant_id == variant["id"])
            if await fulfillment.is_sold_out(uow, [Line(0, variant["id"], in_cart + 1)]):
                raise SoldOut(p["sold_out"], field="code")
            added = await cart_service.add_item(uow, owner, variant, 1, added_via=Channel.STORE, channel=channel,
                                                location_id=clerk.location_id)
    except DomainError as error:
        field = "phone" if error.field in ("phone", "customer_id") else "code"
        return await _till(request, clerk, errors=_said(error, p, field), form={"code": code[:200]},
                           status_code=error.status_code)
    if not _is_htmx(request):
        return RedirectResponse("/pos", status_code=303)
    name = next(f"{i.item.name} {i.item.sku}" for i in added.priced.items if i.item.variant_id == variant["id"])
    return await _till(request, clerk, notice=p["added"].format(name=name))


@router.post("/pos/lines/{line_id}", response_class=HTMLResponse)
async def set_quantity(request: Request, line_id: str, quantity: Annotated[str, Form()] = "") -> Response:
    """Changes a cart line's quantity (0 removes it)."""
    clerk = await page_principal(request)
    if not _is_store_clerk(clerk):
        return _refused(request, clerk)
    p = _words(request)
    maximum = request.app.state.settings.max_line_quantity
    try:
        member_id = _member_id(request)
        if member_id is None:
            raise FormError(p["no_member"], field="phone")
        text = _checked(p, "quantity", quantity)
        line = _id(line_id)
        if not (text.isascii() and text.isdigit()) or line is None:
            raise FormError(p["bad_quantity"].format(n=maximum), field="quantity")
        owner, channel = cart_owner(clerk, member_id)
        async with new_uow(request) as uow:
            await cart_service.set_quantity(uow, owner, line, int(text), channel)
    except DomainError as error:
        errors = {f"line-{line_id[:20]}": _said(error, p, "quantity", maximum)["quantity"]}
        return await _till(request, clerk, errors=errors, status_code=error.status_code)
    if not _is_htmx(request):
        return RedirectResponse("/pos", status_code=303)
    return await _till(request, clerk)


# --- selling -------------------------------------------------------------------------------------------------------


def _choice(p: dict[str, str], clerk: Principal, mode: str, form: dict[str, str]) -> DeliveryChoice:
    if mode == DeliveryMode.IN_STORE.value:
        return DeliveryChoice(DeliveryMode.IN_STORE, clerk.location_id)
    if mode != DeliveryMode.HOME_DELIVERY.value:
        raise FormError(p["choose_mode"], field="mode")
    values = {name: _checked(p, name, form[name]) for name in ("name", "address_phone", "line1", "city")}
    return DeliveryChoice(DeliveryMode.HOME_DELIVERY, None,
                          Address(values["name"], values["address_phone"], values["line1"], values["city"]))


def _payment(p: dict[str, str], payment: str, token: str, *, has_card_terminal: bool) -> tuple[str, str | None]:
    """(method, token): cash is recorded as cash (the till's drawer, never the card gateway); a card pays with the
    terminal's token. With no terminal and no token the clerk is told so, before anything is placed."""
    if payment == "cash":
        return "cash", None
    if payment != "card":
        raise FormError(p["choose_payment"], field="payment")
    card_token = _checked(p, "token", token, required=False)
    if card_token:
        return "card", card_token
    if not has_card_terminal:
        raise FormError(p["no_terminal"], field="payment")
    return "card", SIMULATED_CARD


async def _call_off(request: Request, clerk: Principal, member_id: int, order_ids: list[int], reason: str) -> None:
    """A sale is all or nothing: when its payment (or hand-over) fails, every order of it not yet handed over is
    cancelled (units released, any money taken paid back) and its goods go back into the member's cart, so the clerk
    can simply try again. An order that cannot be cancelled now is left to the sweeper (its hold lapses)."""
    state = request.app.state
    lines: list[dict[str, Any]] = []
    for order_id in order_ids:
        try:
            async with new_uow(request) as uow:
                order = await orders_service.visible_order(uow, clerk, order_id)
                if order["status"] not in (OrderStatus.PLACED.value, OrderStatus.PAID.value):
                    continue
                await orders_service.move(uow, clerk, order_id, OrderStatus.CANCELLED, note=reason[:200])
                lines += await orders_repository.lines_of(uow.conn, [order_id])
        except DomainError:
            continue
    await payments_service.pay_back_processing_refunds(state.uow_factory, state.gateway)
    owner, channel = cart_owner(clerk, member_id)
    for line in lines:
        try:
            async with new_uow(request) as uow:
                variant = await catalog_repository.get_variant(uow.conn, line["variant_id"])
                await cart_service.add_item(uow, owner, variant, line["quantity"], added_via=Channel.STORE,
                                            channel=channel, location_id=clerk.location_id)
        except DomainError:
            continue  # no longer sold (or the line is full): the clerk sees the cart as it is and scans again


async def _pay_and_hand_over(request: Request, clerk: Principal, order_ids: list[int], choice: DeliveryChoice,
                             method: str, token: str | None) -> None:
    """Pays every order of the sale through the gateway; a till sale is then handed over, which completes it."""
    state = request.app.state
    for order_id in order_ids:
        await orders_service.pay(state.uow_factory, state.gateway, clerk, order_id, method=method, token=token)
    if choice.mode is not DeliveryMode.IN_STORE:
        return
    for order_id in order_ids:
        async with new_uow(request) as uow:
            for target in HANDOVER:
                await orders_service.move(uow, clerk, order_id, target, note="handed over at the till")


@router.post("/pos/sell", response_class=HTMLResponse)
async def sell(
    request: Request,
    mode: Annotated[str, Form()] = "",
    payment: Annotated[str, Form()] = "",
    token: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    address_phone: Annotated[str, Form()] = "",
    line1: Annotated[str, Form()] = "",
    city: Annotated[str, Form()] = "",
) -> Response:
    """Places the member's cart (in store at this store, or delivered home), takes the payment, hands a till sale
    over, and shows the receipt."""
    clerk = await page_principal(request)
    if not _is_store_clerk(clerk):
        return _refused(request, clerk)
    p = _words(request)
    form = {"mode": mode[:20], "payment": payment[:10], "name": name[:120], "address_phone": address_phone[:32],
            "line1": line1[:300], "city": city[:100]}
    member_id = _member_id(request)
    try:
        if member_id is None:
            raise FormError(p["no_member"], field="phone")
        choice = _choice(p, clerk, mode, form | {"name": name, "address_phone": address_phone, "line1": line1,
                                                 "city": city})
        method, card_token = _payment(p, payment, token, has_card_terminal=_has_card_terminal(request))
        owner, _ = cart_owner(clerk, member_id)
        async with new_uow(request) as uow:
            _, order_ids = await orders_service.place_orders(uow, clerk, owner, choice)
    except DomainError as error:
        field = {"token": "payment", "customer_id": "phone"}.get(error.field or "", error.field or "")
        field = field if field in SELL_FIELDS else "sell"
        errors = _said(error, p, field)
        if error.code == "sold_out" and mode == DeliveryMode.IN_STORE.value:
            errors = {field: p["not_on_shelf"]}
        return await _till(request, clerk, errors=errors, form=form, status_code=error.status_code)
    try:
        await _pay_and_hand_over(request, clerk, order_ids, choice, method, card_token)
    except DomainError as error:
        await _call_off(request, clerk, owner, order_ids, f"the till sale failed: {error.code}")
        return await _till(request, clerk, errors=_said(error, p, "sell"), form=form, status_code=error.status_code)
    target = f"/pos/receipt/{order_ids[0]}"
    response = Response(status_code=204, headers={"HX-Redirect": target}) if _is_htmx(request) \
        else RedirectResponse(target, status_code=303)
    response.delete_cookie(MEMBER_COOKIE, path="/pos")  # the next customer starts with no member on screen
    return response


# --- the receipt ---------------------------------------------------------------------------------------------------


@router.get("/pos/receipt/{order_id}", response_class=HTMLResponse)
async def receipt(request: Request, order_id: str) -> Response:
    """The printable receipt of the sale the order belongs to (every order of its checkout this store may see)."""
    clerk = await page_principal(request)
    if not _is_store_clerk(clerk):
        return _refused(request, clerk)
    wanted = _id(order_id)
    if wanted is None:
        return render(request, "not_found.html", {}, status_code=404)
    try:
        async with new_uow(request, read_only=True) as uow:
            order = await orders_service.visible_order(uow, clerk, wanted)
            sale = [order] if order["checkout_id"] is None else [
                o for o in await orders_repository.orders_of_checkout(uow.conn, order["checkout_id"])
                if orders_service.can_see(clerk, o)]
            lines = await orders_repository.lines_of(uow.conn, [o["id"] for o in sale])
            paid = {o["id"]: await payments_repository.captured_payment(uow.conn, o["id"]) for o in sale}
            merchants = {o["merchant_id"]: await catalog_repository.get_merchant(uow.conn, o["merchant_id"])
                         for o in sale}
            store = await inventory_repository.get_location(uow.conn, clerk.location_id)
            member = await customers_repository.get_customer(uow.conn, order["customer_id"])
    except DomainError:
        return render(request, "not_found.html", {}, status_code=404)
    zone = ZoneInfo(request.app.state.settings.local_timezone)
    return render(request, "pos/receipt.html", {
        "p": _words(request), "store": store, "member": member, "member_phone": masked_phone(member), "sale": sale,
        "merchants": merchants,
        "lines": {o["id"]: [ln for ln in lines if ln["order_id"] == o["id"]] for o in sale}, "paid": paid,
        "placed_at": order["placed_at"].astimezone(zone).strftime("%Y-%m-%d %H:%M"),
        "total": sum(o["total_minor"] for o in sale), "currency": order["currency"]})


# --- live ----------------------------------------------------------------------------------------------------------


@router.get("/pos/live")
async def live_cart(request: Request) -> Response:
    """Pushes the cart, redrawn, when the member's cart changes anywhere (their phone too) or this store's stock
    changes."""
    clerk = await page_principal(request)
    member_id = _member_id(request)
    if not _is_store_clerk(clerk) or member_id is None:
        return Response(status_code=204)  # nothing to follow: EventSource stops on a 204

    def wanted(event: Event) -> bool:
        if event.topic == "cart.changed":
            return event.payload.get("customer_id") == member_id
        return event.topic == "stock.changed" and event.payload.get("location_id") == clerk.location_id

    async def stream():  # noqa: ANN202
        async for event in request.app.state.live.listen(wanted):
            if await request.is_disconnected():
                return
            if event is None:
                continue
            context = await _till_context(request, clerk)
            yield {"event": "cart", "data": render(request, "pos/_cart.html", context).body.decode()}

    return EventSourceResponse(stream(), ping=15)
