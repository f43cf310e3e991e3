"""Flash-sale HTTP routes under /api/v1; `POST /flash-sales/{id}/orders` is the 11.11 hot path."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from unichannel import idempotency
from unichannel.access.model import Principal, Role
from unichannel.api_types import MAX_ID, IdPath
from unichannel.catalog import service as catalog_service
from unichannel.checkout.api import CustomerParam, cart_owner
from unichannel.clock import Clock
from unichannel.errors import (
    InvalidInput,
    MalformedJson,
    NotFound,
    NotParticipating,
    NotStarted,
    PayloadTooLarge,
    SoldOut,
)
from unichannel.inventory import repository as inventory_repository
from unichannel.promotions import repository, service
from unichannel.promotions.model import check_open
from unichannel.promotions.schemas import FlashOrderIn, FlashOrderOut, FlashSaleIn, FlashSaleOut
from unichannel.promotions.service import FlashRequest, terms_of
from unichannel.web import Caller, ErrorOut, IdempotencyKey, MaybeCaller, current_principal, new_uow

router = APIRouter(tags=["flash sales"])
SALE_CACHE_SECONDS = 1.0  # how stale an in-process view of a sale may be before it is read again
MAX_ORDER_BODY = 4096  # bytes of an order's body (`{"quantity": n}` takes a dozen): more is refused unread


def sale_state(sale: dict[str, Any], now: datetime) -> str:
    if now < sale["starts_at"]:
        return "upcoming"
    if now >= sale["ends_at"]:
        return "ended"
    return "sold_out" if sale["sold"] >= sale["quantity"] else "open"


async def _sale_view(uow, sale: dict[str, Any]) -> FlashSaleOut:  # noqa: ANN001
    return FlashSaleOut(
        **{k: sale[k] for k in FlashSaleOut.model_fields if k in sale and k not in ("left", "state", "location_ids")},
        left=sale["quantity"] - sale["sold"], state=sale_state(sale, uow.now()),
        location_ids=await repository.pool_of(uow.conn, sale["id"]),
    )


@router.post("/flash-sales", response_model=FlashSaleOut, status_code=201)
async def create_flash_sale(request: Request, caller: Caller, body: FlashSaleIn) -> FlashSaleOut:
    caller.require(Role.MERCHANT, Role.OPERATOR)
    async with new_uow(request) as uow:
        if caller.role is Role.MERCHANT:
            merchant_id = caller.merchant_id
        elif body.merchant is None:
            raise InvalidInput("name the merchant (slug)", field="merchant")
        else:
            merchant_id = (await catalog_service.merchant_by_slug(uow, body.merchant))["id"]
        location_ids = []
        for code in body.locations:
            row = await inventory_repository.get_location_by_code(uow.conn, code)
            if row is None:
                raise InvalidInput(f"no location {code!r}", field="locations")
            location_ids.append(row["id"])
        sale = await service.create_sale(
            uow, merchant_id, variant_id=body.variant_id, location_ids=location_ids, name=body.name,
            currency=body.currency, price_minor=body.price_minor, quantity=body.quantity,
            per_customer_limit=body.per_customer_limit, starts_at=body.starts_at, ends_at=body.ends_at,
        )
        return await _sale_view(uow, sale)


@router.get("/flash-sales", response_model=list[FlashSaleOut])
async def list_flash_sales(request: Request) -> list[FlashSaleOut]:
    async with new_uow(request, read_only=True) as uow:
        return [await _sale_view(uow, sale) for sale in await repository.list_sales(uow.conn)]


@router.get("/flash-sales/{sale_id}", response_model=FlashSaleOut)
async def get_flash_sale(request: Request, sale_id: IdPath, caller: MaybeCaller) -> FlashSaleOut:
    async with new_uow(request, read_only=True) as uow:
        sale = await repository.get_sale(uow.conn, sale_id)
        if sale is None:
            raise NotFound("no such flash sale", field="flash_sale_id")
        return await _sale_view(uow, sale)


class SaleCache:
    """A short-lived in-process copy of each sale's terms and pool, so requests before the opening or after the sell-out
    are answered without touching the database (sold-out replies are at least as fast as orders).

    One read per sale at a time: when an entry goes stale, one request reads the sale again while the others carry on
    with the stale copy (or wait for that one read) instead of each taking a database connection. A stale copy may
    only let a request on to its batch, which reads the sale again under its lock: a refusal (not started, sold out)
    is never given from it."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._entries: dict[int, tuple[datetime, dict[str, Any], list[int]]] = {}
        self._reading: dict[int, asyncio.Future[tuple[dict[str, Any], list[int]]]] = {}

    async def get(
        self, request: Request, sale_id: int, *, stale_ok: bool = True
    ) -> tuple[dict[str, Any], list[int], bool]:
        """(sale, pool, stale): with `stale_ok`, a stale copy while another request reads the sale again."""
        entry = self._entries.get(sale_id)
        if entry is not None and entry[0] > self._clock.now():
            return entry[1], entry[2], False
        reading = self._reading.get(sale_id)
        if reading is None:
            reading = self._reading[sale_id] = asyncio.ensure_future(self._read(request, sale_id))
            reading.add_done_callback(lambda done: self._read_done(sale_id, done))
        if entry is not None and stale_ok:
            return entry[1], entry[2], True
        sale, pool = await asyncio.shield(reading)
        return sale, pool, False

    def _read_done(self, sale_id: int, done: asyncio.Future[Any]) -> None:
        self._reading.pop(sale_id, None)
        if not done.cancelled():
            done.exception()  # seen (no "never retrieved" warning): a reader served stale meets it on its next read

    async def _read(self, request: Request, sale_id: int) -> tuple[dict[str, Any], list[int]]:
        async with new_uow(request, read_only=True) as uow:
            sale = await repository.get_sale(uow.conn, sale_id)
            if sale is None:
                raise NotFound("no such flash sale", field="flash_sale_id")
            pool = await repository.pool_of(uow.conn, sale_id)
        self._entries[sale_id] = (self._clock.now() + timedelta(seconds=SALE_CACHE_SECONDS), sale, pool)
        return sale, pool

    def note_exhausted(self, sale_id: int) -> None:
        """A batch found no unit left for online buyers: remember it until the entry is next refreshed."""
        entry = self._entries.get(sale_id)
        if entry is not None:
            entry[1]["sold"] = entry[1]["quantity"]


def _buyer(caller: Principal, customer_id: int | None, pool: list[int]) -> tuple[int, str, int | None]:
    """(customer, channel, till store): a shopper buys online for themself; a clerk sells to a member at a store that
    takes part in the sale."""
    owner, _ = cart_owner(caller, customer_id)
    if caller.role is Role.CLERK:
        if caller.location_id not in pool:
            raise NotParticipating("this store does not take part in the sale", field="flash_sale_id")
        return owner, "store", caller.location_id
    if caller.role is not Role.SHOPPER:
        raise InvalidInput("flash-sale orders are placed by shoppers or store clerks", field="customer_id")
    return owner, "online", None


FLASH_ORDER_PATH = "/flash-sales/{sale_id}/orders"


@router.post(
    FLASH_ORDER_PATH, status_code=201, response_model=FlashOrderOut,
    responses={413: {"model": ErrorOut, "description": f"the body is larger than {MAX_ORDER_BODY} bytes"},
               503: {"description": "the batch this order was part of failed; nothing was written; retry"}},
)
async def place_flash_order(
    request: Request,
    sale_id: IdPath,
    caller: Caller,
    body: FlashOrderIn,
    idempotency_key: IdempotencyKey = None,
    customer_id: CustomerParam = None,
) -> Any:
    """Holds flash-sale units at the flash price. Answers only after the order is durably committed.

    409 `not_started` before the opening; 409 `sold_out` once every unit is taken or the sale has ended; 409
    `limit_exceeded` past the per-customer limit; 503 `batch_failed` if the transaction failed (nothing written).

    (This declaration is the documented contract. Requests are served by `fast_flash_order`, mounted ahead of it,
    which checks the same input by hand and runs the same `_place`: the hot path skips FastAPI's per-request
    dependency and validation machinery.)
    """
    return await _place(request, sale_id, caller, body.quantity, idempotency_key, customer_id)


async def _place(
    request: Request, sale_id: int, caller: Principal, quantity: int, idempotency_key: str | None,
    customer_id: int | None,
) -> Response:
    state = request.app.state
    sale, pool, stale = await state.sale_cache.get(request, sale_id)
    owner, channel, till = _buyer(caller, customer_id, pool)
    try:
        check_open(terms_of(sale), sale["sold"], state.clock.now())
    except (NotStarted, SoldOut):
        if not stale:
            raise
        sale, pool, _ = await state.sale_cache.get(request, sale_id, stale_ok=False)
        check_open(terms_of(sale), sale["sold"], state.clock.now())
    flash = FlashRequest(caller.key, owner, quantity, channel, till, idempotency_key)
    if idempotency_key is not None:
        idempotency.check_key(idempotency_key)
        flash.fingerprint = idempotency.request_hash("POST", f"/flash-sales/{sale_id}/orders", [owner, quantity])
    result = await state.coalescer.submit(sale_id, flash)
    if result.sale_exhausted:
        state.sale_cache.note_exhausted(sale_id)
    return Response(result.payload, status_code=result.status_code, media_type="application/json")


def _whole_number(text: str | None, field: str, low: int, high: int) -> int | None:
    if text is None:
        return None
    if not text.isascii() or not text.isdigit() or not low <= int(text) <= high:
        raise InvalidInput(f"{field}: a whole number from {low} to {high}", field=field)
    return int(text)


async def _body_of(request: Request) -> bytes:
    """The body, refused with 413 past MAX_ORDER_BODY bytes (said in Content-Length or sent) before the rest is read:
    the hot path must not buffer whatever a client chooses to send."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_ORDER_BODY:
        raise PayloadTooLarge(f"an order's body is at most {MAX_ORDER_BODY} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_ORDER_BODY:
            raise PayloadTooLarge(f"an order's body is at most {MAX_ORDER_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _quantity_of(raw: bytes) -> int:
    """The body `{"quantity": n}` checked exactly as FlashOrderIn would (strict integer, no other keys)."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise MalformedJson("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise InvalidInput("the body is a JSON object", field=None)
    extra = set(body) - {"quantity"}
    if extra:
        raise InvalidInput(f"{sorted(extra)[0]}: extra inputs are not permitted", field=sorted(extra)[0])
    quantity = body.get("quantity", 1)
    limits = FlashOrderIn.model_fields["quantity"].metadata
    high = next(m.le for m in limits if hasattr(m, "le"))
    if type(quantity) is not int or not 1 <= quantity <= high:
        raise InvalidInput(f"quantity: a whole number from 1 to {high}", field="quantity")
    return quantity


async def fast_flash_order(request: Request) -> Response:
    """The 11.11 hot path, served as a plain route (see `place_flash_order` for the contract)."""
    sale_id = _whole_number(request.path_params["sale_id"], "sale_id", 1, MAX_ID)
    caller = await current_principal(request, request.headers.get("authorization"))
    customer_id = _whole_number(request.query_params.get("customer_id"), "customer_id", 1, MAX_ID)
    quantity = _quantity_of(await _body_of(request))
    return await _place(request, sale_id, caller, quantity, request.headers.get("idempotency-key"), customer_id)
