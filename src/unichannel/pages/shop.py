"""The shopper's pages beyond browsing: scan-to-cart, the cart, checkout with the delivery choices, and the orders
with their status and parcels (pickup codes included). Every action goes through the same services as the API.

Cards: with Stripe as the card gateway, the checkout and order pages take the card with Stripe.js (a card Element);
the browser turns it into a PaymentMethod and posts only its id (`pm_...`), so no card number reaches this server.
With the simulated gateway (the demo, tests) the page says the card is simulated and pays with a test card."""

from __future__ import annotations

import re
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from unichannel.access.model import Principal, Role
from unichannel.api_types import IdPath
from unichannel.catalog.model import SCAN_PATH_PREFIX, Channel
from unichannel.checkout import service as cart_service
from unichannel.errors import DomainError, InvalidInput, PaymentDeclined
from unichannel.fulfillment import service as fulfillment
from unichannel.fulfillment.model import Promise
from unichannel.inventory import repository as inventory_repository
from unichannel.orders import repository as orders_repository
from unichannel.orders import service as orders_service
from unichannel.orders.api import order_views
from unichannel.orders.model import Address, DeliveryChoice, DeliveryMode
from unichannel.pages.routes import page_locale, page_principal, render
from unichannel.pages.text import error_text
from unichannel.payments.stripe import StripeGateway
from unichannel.web import new_uow

router = APIRouter(include_in_schema=False)

SIMULATED_CARD = "tok_visa"  # the simulated gateway's card that pays, when the page posts no test card token
PAYMENT_METHOD_ID = re.compile(r"pm_[A-Za-z0-9_]{1,120}")  # what Stripe.js hands the page for a card

WORDS = {
    "zh_CN": {
        "cart": "购物车", "empty_cart": "购物车是空的", "subtotal": "小计", "quantity": "数量", "remove": "删除",
        "checkout": "去结算", "delivery": "配送方式", "address": "收货地址", "name": "收货人", "phone": "手机号",
        "line1": "详细地址", "city": "城市", "use_location": "使用我的位置", "show_options": "查看配送方式",
        "pay": "提交订单并支付", "card": "银行卡", "card_simulated": "模拟银行卡：演示用，不会扣真实的钱",
        "orders": "我的订单", "order": "订单",
        "status": "状态", "pickup_code": "取件码", "tracking": "物流", "fee": "运费", "total": "合计",
        "added": "已加入购物车", "no_options": "当前没有可用的配送方式", "window": "预计",
        "home_delivery": "送货上门", "express_30_min": "30分钟达", "store_pickup": "门店自提",
        "station_pickup": "服务站自提", "pickup": "自提", "express": "30分钟达", "in_store": "门店购买",
        "placed": "待支付", "paid": "已支付", "allocated": "备货中",
        "shipped": "已发货", "delivered": "已送达", "completed": "已完成", "cancelled": "已取消",
        "pay_now": "立即支付", "payment_failed": "支付没有成功，订单已保留，请在库存保留时间内重新支付。", "ok": "更新",
    },
    "en": {
        "cart": "Cart", "empty_cart": "Your cart is empty", "subtotal": "Subtotal", "quantity": "Quantity",
        "remove": "Remove", "checkout": "Checkout", "delivery": "Delivery", "address": "Delivery address",
        "name": "Name", "phone": "Phone", "line1": "Address", "city": "City", "use_location": "Use my location",
        "show_options": "Show delivery options", "pay": "Place order and pay", "card": "Card",
        "card_simulated": "Simulated card: a demo, no real money moves", "orders": "My orders", "order": "Order",
        "status": "Status", "pickup_code": "Pickup code",
        "tracking": "Tracking", "fee": "Delivery", "total": "Total", "added": "Added to your cart",
        "no_options": "No delivery option is possible right now", "window": "Expected",
        "home_delivery": "Home delivery", "express_30_min": "30-minute delivery", "store_pickup": "Store pickup",
        "station_pickup": "Village station pickup", "pickup": "Pickup", "express": "30-minute delivery",
        "in_store": "Bought in store", "placed": "awaiting payment", "paid": "paid",
        "allocated": "being prepared", "shipped": "shipped", "delivered": "delivered", "completed": "completed",
        "cancelled": "cancelled", "pay_now": "Pay now",
        "payment_failed": "The payment did not go through; the order is kept: pay it before its stock hold lapses.",
        "ok": "Update",
    },
}


def _words(request: Request) -> dict[str, str]:
    from unichannel.pages.routes import page_locale

    return WORDS.get(page_locale(request), WORDS["zh_CN"])


def _said(request: Request, error: DomainError) -> str:
    """A service's refusal in the page's language."""
    return error_text(page_locale(request), error)


def _not_a_number() -> InvalidInput:
    return InvalidInput("a whole number, please", field="quantity")


async def _shopper(request: Request) -> Principal | None:
    principal = await page_principal(request)
    return principal if principal is not None and principal.role is Role.SHOPPER else None


def _to_signin(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/signin?next={request.url.path}", status_code=303)


def _takes_cards_with_stripe(request: Request) -> bool:
    return request.app.state.gateway.card.name == StripeGateway.name


def _card_entry(request: Request) -> dict[str, Any]:
    """What the payment field needs: Stripe's publishable key (the page loads Stripe.js and mounts a card Element),
    or None for the simulated card."""
    if not _takes_cards_with_stripe(request):
        return {"stripe_key": None}
    return {"stripe_key": request.app.state.settings.stripe_publishable_key}


def _card_token(request: Request, token: str) -> str:
    """The token the card gateway charges: with Stripe, the PaymentMethod id Stripe.js made from the card (refused
    before anything is placed when there is none, or when what came is not one); simulated, a test card token
    posted, else the card that pays. The refusals are in English, as a service's: a Chinese page says them with
    pages/text.py."""
    if not _takes_cards_with_stripe(request):
        return token or SIMULATED_CARD
    if not token:
        raise InvalidInput("Enter your card details", field="token")
    if not PAYMENT_METHOD_ID.fullmatch(token):
        raise InvalidInput("The card details did not come back from Stripe; enter your card again", field="token",
                           details={"gateway": "Stripe"})
    return token


@router.get("/scan/{variant_id}")
async def scan(request: Request, variant_id: IdPath) -> Response:
    """What a product's QR code opens on a phone: the SKU goes into this shopper's cart, the one the till sees."""
    shopper = await _shopper(request)
    if shopper is None:
        return _to_signin(request)
    try:
        async with new_uow(request) as uow:
            variant = await cart_service.resolve_variant(uow, sku=None, merchant_slug=None, code=f"{SCAN_PATH_PREFIX}{variant_id}")
            await cart_service.add_item(uow, shopper.customer_id, variant, 1, added_via=Channel.STORE,
                                        channel=Channel.ONLINE)
    except DomainError as error:
        context = await _cart_context(request, shopper, error=_said(request, error))
        return render(request, "storefront/cart.html", context, status_code=error.status_code)
    return RedirectResponse("/cart?added=1", status_code=303)


async def _cart_context(request: Request, shopper: Principal, **extra: Any) -> dict[str, Any]:
    async with new_uow(request, read_only=True) as uow:
        view = await cart_service.view(uow, shopper.customer_id, Channel.ONLINE)
    return {"cart": view.priced, "s": _words(request), "principal": shopper, "added": request.query_params.get("added"),
            "tz": ZoneInfo(request.app.state.settings.local_timezone)} | extra


@router.post("/cart/add/{variant_id}")
async def add_to_cart(request: Request, variant_id: IdPath, quantity: Annotated[str, Form(max_length=6)] = "1"
                      ) -> Response:
    """The product page's "add to cart": the same cart the phone, the web and the till share."""
    shopper = await _shopper(request)
    if shopper is None:
        return RedirectResponse(f"/signin?next=/scan/{variant_id}", status_code=303)
    try:
        async with new_uow(request) as uow:
            variant = await cart_service.resolve_variant(uow, sku=None, merchant_slug=None, code=f"{SCAN_PATH_PREFIX}{variant_id}")
            await cart_service.add_item(uow, shopper.customer_id, variant, int(quantity or "1"),
                                        added_via=Channel.ONLINE, channel=Channel.ONLINE)
    except (ValueError, DomainError) as error:
        message = _said(request, error if isinstance(error, DomainError) else _not_a_number())
        return render(request, "storefront/cart.html", await _cart_context(request, shopper, error=message),
                      status_code=422)
    return RedirectResponse("/cart?added=1", status_code=303)


@router.get("/cart", response_class=HTMLResponse)
async def cart(request: Request) -> Response:
    shopper = await _shopper(request)
    if shopper is None:
        return _to_signin(request)
    return render(request, "storefront/cart.html", await _cart_context(request, shopper))


@router.post("/cart/lines/{line_id}", response_class=HTMLResponse)
async def set_quantity(request: Request, line_id: IdPath, quantity: Annotated[str, Form(max_length=6)] = "") -> Response:
    shopper = await _shopper(request)
    if shopper is None:
        return _to_signin(request)
    try:
        wanted = int(quantity)
        async with new_uow(request) as uow:
            await cart_service.set_quantity(uow, shopper.customer_id, line_id, wanted, Channel.ONLINE)
    except (ValueError, DomainError) as error:
        message = _said(request, error if isinstance(error, DomainError) else _not_a_number())
        return render(request, "storefront/cart.html", await _cart_context(
            request, shopper, line_error={line_id: message}), status_code=422)
    return RedirectResponse("/cart", status_code=303)


def _coordinates(latitude: str, longitude: str) -> tuple[float, float] | None:
    if not latitude and not longitude:
        return None
    try:
        lat, lon = float(latitude), float(longitude)
    except ValueError:
        raise InvalidInput("the location is not a pair of coordinates", field="latitude") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InvalidInput("the location is out of range", field="latitude")
    return lat, lon


async def _options(request: Request, shopper: Principal, coordinates: tuple[float, float] | None
                   ) -> list[dict[str, Any]]:
    """The delivery choices every merchant's part of the cart can have (one choice serves the whole checkout)."""
    async with new_uow(request, read_only=True) as uow:
        parts = await fulfillment.options_for_cart(uow, shopper.customer_id, coordinates)
        places = {loc["id"]: loc for loc in await inventory_repository.list_locations(uow.conn)}
    common: dict[tuple[str, int | None], dict[str, Any]] = {}
    for index, part in enumerate(parts):
        offered = {(o.promise.value, o.location_id): o for o in part.options}
        if index == 0:
            common = {key: {"promise": key[0], "location": places.get(key[1]), "location_id": key[1], "fee": 0,
                            "currency": o.currency, "earliest": o.earliest, "latest": o.latest}
                      for key, o in offered.items()}
        common = {key: value for key, value in common.items() if key in offered}
        for key, value in common.items():
            value["fee"] += offered[key].fee_minor
            value["latest"] = max(value["latest"], offered[key].latest)
    return list(common.values())


@router.get("/checkout", response_class=HTMLResponse)
async def checkout(request: Request) -> Response:
    shopper = await _shopper(request)
    if shopper is None:
        return _to_signin(request)
    params = request.query_params
    form = {k: params.get(k, "") for k in ("name", "phone", "line1", "city", "latitude", "longitude")}
    context = await _cart_context(request, shopper, form=form, **_card_entry(request))
    if context["cart"].items:
        try:
            context["options"] = await _options(request, shopper, _coordinates(form["latitude"], form["longitude"]))
        except DomainError as error:
            context |= {"options": [], "errors": {error.field or "latitude": _said(request, error)}}
    return render(request, "storefront/checkout.html", context)


MODES = {Promise.HOME_DELIVERY.value: DeliveryMode.HOME_DELIVERY, Promise.EXPRESS.value: DeliveryMode.EXPRESS,
         Promise.STORE_PICKUP.value: DeliveryMode.PICKUP, Promise.STATION_PICKUP.value: DeliveryMode.PICKUP}


@router.post("/checkout", response_class=HTMLResponse)
async def place(
    request: Request,
    option: Annotated[str, Form(max_length=60)] = "",
    name: Annotated[str, Form(max_length=120)] = "", phone: Annotated[str, Form(max_length=32)] = "",
    line1: Annotated[str, Form(max_length=300)] = "", city: Annotated[str, Form(max_length=100)] = "",
    latitude: Annotated[str, Form(max_length=30)] = "", longitude: Annotated[str, Form(max_length=30)] = "",
    token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Places the cart with the chosen delivery and pays it by card (Stripe, or the simulated card in the demo). A
    payment that fails leaves its order placed, shown with the gateway's message next to the card, to pay again."""
    shopper = await _shopper(request)
    if shopper is None:
        return _to_signin(request)
    form = {"name": name, "phone": phone, "line1": line1, "city": city, "latitude": latitude, "longitude": longitude}
    try:
        promise, _, location = option.partition(":")
        if promise not in MODES:
            raise InvalidInput("choose how the order reaches you", field="option")
        mode = MODES[promise]
        coordinates = _coordinates(latitude, longitude)
        address = None
        if mode is not DeliveryMode.PICKUP or promise == Promise.STATION_PICKUP.value:
            for field_name, value in (("name", name), ("phone", phone), ("line1", line1), ("city", city)):
                if not value.strip():
                    raise InvalidInput("this is needed to deliver to you", field=field_name)
            address = Address(name.strip(), phone.strip(), line1.strip(), city.strip(),
                              latitude=coordinates[0] if coordinates else None,
                              longitude=coordinates[1] if coordinates else None)
        location_id = int(location) if location.isascii() and location.isdigit() and len(location) <= 18 else None
        choice = DeliveryChoice(mode, location_id, address)
        card_token = _card_token(request, token)
        async with new_uow(request) as uow:
            _, order_ids = await orders_service.place_orders(uow, shopper, shopper.customer_id, choice)
    except DomainError as error:
        errors = {error.field or "option": _said(request, error)}
        context = await _cart_context(request, shopper, form=form, errors=errors,
                                      **_card_entry(request))
        try:
            context["options"] = await _options(request, shopper, _coordinates(latitude, longitude))
        except DomainError:
            context["options"] = []
        return render(request, "storefront/checkout.html", context, status_code=error.status_code)
    # Placed: the stock is held for the hold time. A payment that fails leaves its order waiting to be paid (from
    # its page, shown here), as a shop does, instead of losing the cart.
    for index, order_id in enumerate(order_ids):
        if index and _takes_cards_with_stripe(request):
            # A Stripe PaymentMethod pays once: the next order of the checkout asks for the card on its page.
            return RedirectResponse(f"/orders/{order_id}", status_code=303)
        failure = await _pay(request, shopper, order_id, card_token)
        if failure is not None:
            return await _order_page(request, shopper, order_id, failure)
    return RedirectResponse(f"/orders/{order_ids[0]}", status_code=303)


async def _pay(request: Request, shopper: Principal, order_id: int, card_token: str) -> DomainError | None:
    """Pays the order by card; the error if it did not go through."""
    state = request.app.state
    try:
        await orders_service.pay(state.uow_factory, state.gateway, shopper, order_id, method="card",
                                 token=card_token, request_key=None)
    except DomainError as error:
        return error
    return None


@router.post("/orders/{order_id}/pay")
async def pay_order(request: Request, order_id: IdPath, token: Annotated[str, Form(max_length=200)] = "") -> Response:
    """Pays a placed order from its page; a failure shows the order again with the reason next to the card."""
    shopper = await _shopper(request)
    if shopper is None:
        return _to_signin(request)
    try:
        card_token = _card_token(request, token)
    except DomainError as error:
        return await _order_page(request, shopper, order_id, error)
    failure = await _pay(request, shopper, order_id, card_token)
    if failure is not None:
        return await _order_page(request, shopper, order_id, failure)
    return RedirectResponse(f"/orders/{order_id}", status_code=303)


@router.get("/orders", response_class=HTMLResponse)
async def orders(request: Request) -> Response:
    shopper = await _shopper(request)
    if shopper is None:
        return _to_signin(request)
    async with new_uow(request, read_only=True) as uow:
        rows = await orders_repository.list_orders(uow.conn, customer_id=shopper.customer_id, limit=50)
        views = await order_views(uow, rows)
    return render(request, "storefront/orders.html", {"orders": views, "s": _words(request), "principal": shopper})


@router.get("/orders/{order_id}", response_class=HTMLResponse)
async def order(request: Request, order_id: IdPath) -> Response:
    shopper = await _shopper(request)
    if shopper is None:
        return _to_signin(request)
    return await _order_page(request, shopper, order_id)


async def _order_page(request: Request, shopper: Principal, order_id: int, failure: DomainError | None = None
                      ) -> Response:
    """The order with its parcels; after a failed payment, with the gateway's message next to the card field and the
    failure's status (402 declined, 503 gateway down...), the order still payable from here."""
    try:
        async with new_uow(request, read_only=True) as uow:
            row = await orders_service.visible_order(uow, shopper, order_id)
            [view] = await order_views(uow, [row], with_history=True, caller=shopper)
            places = {loc["id"]: loc for loc in await inventory_repository.list_locations(uow.conn)}
    except DomainError:
        return render(request, "not_found.html", {}, status_code=404)
    context = {"order": view, "places": places, "s": _words(request), "principal": shopper,
               "tz": ZoneInfo(request.app.state.settings.local_timezone)} | _card_entry(request)
    if failure is None:
        return render(request, "storefront/order.html", context)
    said = _said(request, failure)
    if failure.code == PaymentDeclined.code and said != failure.message:
        said = f"{said}（{failure.message}）"  # the gateway's own reason (the card issuer's), which no table here knows
    context |= {"failed": failure.code, "errors": {"token": said}}
    return render(request, "storefront/order.html", context, status_code=failure.status_code)
