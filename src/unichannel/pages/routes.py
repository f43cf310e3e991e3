"""The page routes: the storefront (browse, search, product page with live availability), the 11.11 big screen,
sign-in; and their Server-Sent Event streams. Not part of the API's OpenAPI: these are for people."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sse_starlette.sse import EventSourceResponse

from unichannel.access.model import Principal, Role
from unichannel.api_types import IdPath
from unichannel.catalog import repository as catalog_repository
from unichannel.catalog import service as catalog_service
from unichannel.catalog.api import product_views
from unichannel.catalog.model import category_and_descendants
from unichannel.customers import service as customers
from unichannel.access.repository import revoke_token
from unichannel.errors import DomainError, Forbidden, NotFound, Unauthenticated
from unichannel.events import Event
from unichannel.inventory import repository as inventory_repository
from unichannel.money import Money
from unichannel.pages import screen
from unichannel.pages.text import DEFAULT_LOCALE, LOCALES, error_text, words
from unichannel.web import new_uow

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
TOKEN_COOKIE, LANG_COOKIE = "uc_token", "uc_lang"
SCREEN_REDRAW_SECONDS = 0.3  # the big screen redraws at most this often, so a burst of orders is one redraw

async def same_site_posts_only(request: Request) -> None:
    """Every page form is posted from the pages themselves: a POST another site makes the browser send (with the
    sign-in cookie, or to sign someone in as somebody else) is refused."""
    if request.method == "POST" and request.headers.get("sec-fetch-site") == "cross-site":
        raise Forbidden("forms are accepted only from this site's own pages")


router = APIRouter(include_in_schema=False, dependencies=[Depends(same_site_posts_only)])


def page_locale(request: Request) -> str:
    asked = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    return asked if asked in LOCALES else DEFAULT_LOCALE


def money_text(locale: str):  # noqa: ANN201 - a template filter
    babel_locale = "zh_CN" if locale == "zh_CN" else "en_US"
    return lambda minor, currency: Money(int(minor), currency).localized(babel_locale)


def render(request: Request, name: str, context: dict[str, Any], *, status_code: int = 200) -> HTMLResponse:
    locale = page_locale(request)
    context = {"t": words(locale), "locale": locale, "money": money_text(locale),
               "other_locale": "en" if locale == "zh_CN" else "zh_CN"} | context
    response = TEMPLATES.TemplateResponse(request, name, context, status_code=status_code)
    if request.query_params.get("lang") in LOCALES:
        response.set_cookie(LANG_COOKIE, locale, max_age=365 * 86400, samesite="lax")
    return response


async def page_principal(request: Request) -> Principal | None:
    token = request.cookies.get(TOKEN_COOKIE)
    if not token:
        return None
    try:
        return await request.app.state.authenticator.authenticate(token)
    except Unauthenticated:
        return None


# --- storefront --------------------------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
async def home(
    request: Request,
    q: Annotated[str | None, Query(max_length=100)] = None,
    category: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    async with new_uow(request, read_only=True) as uow:
        categories = await catalog_repository.list_categories(uow.conn)
        category_ids = None
        if category:
            row = await catalog_repository.get_category_by_slug(uow.conn, category)
            category_ids = category_and_descendants(row["id"], categories) if row else []
        rows = await catalog_repository.search_products(
            uow.conn, text=q or None, category_ids=category_ids, merchant_id=None, only_active=True, limit=48,
            offset=0)
        products = await product_views(uow, request, rows, with_locations=False)
    top = [c for c in categories if c["parent_id"] is None]
    return render(request, "storefront/home.html", {
        "products": products, "categories": top, "q": q or "", "category": category or "",
        "principal": await page_principal(request)})


async def _product(request: Request, product_id: int) -> tuple[Any, dict[int, dict[str, Any]]]:
    async with new_uow(request, read_only=True) as uow:
        row = await catalog_service.visible_product(uow, None, product_id)
        [product] = await product_views(uow, request, [row], with_locations=True)
        places = {loc["id"]: loc for loc in await inventory_repository.list_locations(uow.conn)}
    return product, places


def _availability_context(product: Any, places: dict[int, dict[str, Any]]) -> dict[str, Any]:
    return {"product": product, "places": places}


@router.get("/p/{product_id}", response_class=HTMLResponse)
async def product_page(request: Request, product_id: IdPath) -> HTMLResponse:
    try:
        product, places = await _product(request, product_id)
    except NotFound:
        return render(request, "not_found.html", {}, status_code=404)
    return render(request, "storefront/product.html", _availability_context(product, places)
                  | {"principal": await page_principal(request)})


@router.get("/p/{product_id}/availability", response_class=HTMLResponse)
async def availability(request: Request, product_id: IdPath) -> HTMLResponse:
    product, places = await _product(request, product_id)
    return render(request, "storefront/_availability.html", _availability_context(product, places))


async def _availability_html(request: Request, product_id: int) -> str:
    return (await availability(request, product_id)).body.decode()


@router.get("/live/products/{product_id}")
async def live_product(request: Request, product_id: IdPath) -> EventSourceResponse:
    """Pushes the product's availability, redrawn, whenever the stock of one of its variants changes."""
    product, _ = await _product(request, product_id)
    variant_ids = {v.id for v in product.variants}

    def wanted(event: Event) -> bool:
        return event.topic == "stock.changed" and event.payload.get("variant_id") in variant_ids

    async def stream():  # noqa: ANN202
        async for event in request.app.state.live.listen(wanted):
            if await request.is_disconnected():
                return
            if event is None:
                continue
            html = await request.app.state.live.shared(
                ("availability", product_id, page_locale(request), event.id or object()),
                lambda: _availability_html(request, product_id))
            yield {"event": "availability", "data": html}

    return EventSourceResponse(stream(), ping=15)


# --- the 11.11 big screen -----------------------------------------------------------------------------------------


async def _snapshot(request: Request) -> screen.Snapshot:
    async with new_uow(request, read_only=True) as uow:
        return await screen.snapshot(uow.conn, uow.now(), uow.settings.local_timezone)


@router.get("/screen", response_class=HTMLResponse)
async def big_screen(request: Request) -> HTMLResponse:
    principal = await page_principal(request)
    if principal is None or principal.role is not Role.OPERATOR:
        return render(request, "signin.html", {"message_key": "operator_only", "next": "/screen"},
                      status_code=403 if principal else 401)
    return render(request, "screen.html", {"shot": await _snapshot(request)})


@router.get("/screen/panel", response_class=HTMLResponse)
async def screen_panel(request: Request) -> HTMLResponse:
    principal = await page_principal(request)
    if principal is None or principal.role is not Role.OPERATOR:
        return HTMLResponse("", status_code=401)
    return render(request, "_screen_panel.html", {"shot": await _snapshot(request)})


@router.get("/live/screen")
async def live_screen(request: Request) -> Response:
    """Pushes the big screen's figures, redrawn, after each paid order or stock change (at most every 0.3 s), and
    an `orders` event with how many orders were paid since the last one (the orders-per-second chart)."""
    principal = await page_principal(request)
    if principal is None or principal.role is not Role.OPERATOR:
        return Response(status_code=401)

    def wanted(event: Event) -> bool:
        return event.topic in ("order.paid", "order.cancelled") or event.topic == "stock.changed"

    async def stream():  # noqa: ANN202
        paid, last, owed = 0, 0.0, False
        async for event in request.app.state.live.listen(wanted, heartbeat_seconds=SCREEN_REDRAW_SECONDS):
            if await request.is_disconnected():
                return
            if event is not None:
                owed = True
                paid += event.topic == "order.paid"
            if owed and time.monotonic() - last >= SCREEN_REDRAW_SECONDS:  # a burst is one redraw, none is lost
                last, owed = time.monotonic(), False
                html = (await screen_panel(request)).body.decode()
                yield {"event": "panel", "data": html}
            if event is None or paid:
                yield {"event": "orders", "data": f'{{"paid": {paid}}}'}
                paid = 0

    return EventSourceResponse(stream(), ping=15)


# --- sign-in -----------------------------------------------------------------------------------------------------


def _signed_in(request: Request, next_url: str, token: str) -> RedirectResponse:
    target = next_url if next_url.startswith("/") and not next_url.startswith("//") else "/"
    response = RedirectResponse(target, status_code=303)
    secure = request.app.state.settings.public_base_url.startswith("https://")
    response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="lax", secure=secure, max_age=30 * 86400)
    return response


@router.get("/signin", response_class=HTMLResponse)
async def signin_page(request: Request, next: Annotated[str, Query(max_length=200)] = "/") -> HTMLResponse:
    return render(request, "signin.html", {"next": next})


@router.post("/signin", response_class=HTMLResponse)
async def signin_member(
    request: Request, identifier: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=200)] = "", next: Annotated[str, Form(max_length=200)] = "/",
) -> Response:
    try:
        async with new_uow(request) as uow:
            _, issued = await customers.sign_in(uow, identifier.strip(), password)
    except DomainError as error:
        # The service words a refused sign-in for any caller; this page knows it was the phone/email and password.
        locale = page_locale(request)
        message = words(locale)["wrong_sign_in"] if isinstance(error, Unauthenticated) else error_text(locale, error)
        return render(request, "signin.html", {"next": next, "member_error": message,
                                               "identifier": identifier}, status_code=error.status_code)
    return _signed_in(request, next, issued.token)


@router.post("/signin/staff", response_class=HTMLResponse)
async def signin_staff(
    request: Request, token: Annotated[str, Form(max_length=300)] = "", next: Annotated[str, Form(max_length=200)] = "/",
) -> Response:
    try:
        principal = await request.app.state.authenticator.authenticate(token.strip())
        principal.require(Role.CLERK, Role.MERCHANT, Role.OPERATOR)
    except (Unauthenticated, Forbidden) as error:
        t = words(page_locale(request))
        message = t["bad_staff_token"] if isinstance(error, Unauthenticated) else t["not_staff_token"]
        return render(request, "signin.html", {"next": next, "staff_error": message}, status_code=401)
    return _signed_in(request, next, token.strip())


@router.post("/signout")
async def signout(request: Request) -> RedirectResponse:
    """Signs out: a member's sign-in token is revoked (a copied cookie stops working); a staff API token stays valid
    for the API, it only leaves this browser."""
    principal = await page_principal(request)
    if principal is not None and principal.role is Role.SHOPPER:
        async with new_uow(request) as uow:
            await revoke_token(uow.conn, principal.token_id, uow.now())
        request.app.state.authenticator.forget()
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(TOKEN_COOKIE)
    return response
