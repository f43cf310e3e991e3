"""Order HTTP routes under /api/v1."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from unichannel import idempotency
from unichannel.access.model import Principal, Role
from unichannel.api_types import IdPath, OptionalIdQuery
from unichannel.checkout.api import CustomerParam, cart_owner
from unichannel.errors import InvalidInput
from unichannel.money import Money
from unichannel.fulfillment import repository as fulfillment_repository
from unichannel.fulfillment.api import shipment_views
from unichannel.orders import repository, returns, service
from unichannel.orders.model import Address, DeliveryChoice, DeliveryMode, OrderStatus
from unichannel.payments import service as payments_service
from unichannel.orders.schemas import (
    CancelIn,
    CheckoutOut,
    OrderOut,
    PayIn,
    PlaceOrderIn,
    ReceiveReturnIn,
    ReturnIn,
    ReturnLineOut,
    ReturnOut,
    TransitionIn,
)
from unichannel.uow import UnitOfWork
from unichannel.web import Caller, ErrorOut, IdempotencyKey, claim_or_replay, new_uow

router = APIRouter(tags=["orders"])


async def order_views(uow: UnitOfWork, rows: list[dict[str, Any]], *, with_history: bool = False,
                      caller: Principal | None = None) -> list[OrderOut]:
    """Orders with their lines; with the history also their shipments (tracking) and returns."""
    lines = await repository.lines_of(uow.conn, [r["id"] for r in rows])
    views = []
    for row in rows:
        extra: dict[str, Any] = {}
        if with_history:
            extra["history"] = await repository.history_of(uow.conn, row["id"])
            parcels = await fulfillment_repository.shipments_of(uow.conn, [row["id"]])
            viewer = caller or Principal(token_id=0, role=Role.OPERATOR)
            extra["shipments"] = await shipment_views(uow, viewer, parcels)
            extra["returns"] = await return_views(uow, await repository.returns_of(uow.conn, [row["id"]]), parcels)
        views.append(
            OrderOut(
                **row,
                total_display=Money(row["total_minor"], row["currency"]).display(),
                lines=[ln for ln in lines if ln["order_id"] == row["id"]],
                **extra,
            )
        )
    return views


async def return_views(uow: UnitOfWork, rows: list[dict[str, Any]], parcels: list[dict[str, Any]]
                       ) -> list[ReturnOut]:
    lines = await repository.return_lines_of(uow.conn, [r["id"] for r in rows])
    return [ReturnOut(
        **row,
        lines=[ReturnLineOut(**ln) for ln in lines if ln["return_id"] == row["id"]],
        shipment_ids=[p["id"] for p in parcels if p["return_id"] == row["id"]],
    ) for row in rows]


def _choice(body: PlaceOrderIn, caller: Principal) -> DeliveryChoice:
    delivery = body.delivery
    location_id = delivery.location_id
    if delivery.mode is DeliveryMode.IN_STORE:
        if caller.role is not Role.CLERK:
            raise InvalidInput("only a clerk at a till sells in store", field="delivery.mode")
        if location_id not in (None, caller.location_id):
            raise InvalidInput("a clerk sells at their own store", field="delivery.location_id")
        location_id = caller.location_id
    address = Address(**delivery.address.model_dump()) if delivery.address else None
    return DeliveryChoice(delivery.mode, location_id, address)


@router.post("/orders", response_model=CheckoutOut, status_code=201)
async def place_orders(
    request: Request,
    caller: Caller,
    body: PlaceOrderIn,
    idempotency_key: IdempotencyKey = None,
    customer_id: CustomerParam = None,
) -> Any:
    """Places the cart as one order per merchant, holding stock for every line.

    Send an `Idempotency-Key`: a retry with the same key and body returns the same orders (never a second set);
    the same key with another body is a 409.
    """
    owner, _ = cart_owner(caller, customer_id)
    choice = _choice(body, caller)
    async with new_uow(request) as uow:
        claim, replay = await claim_or_replay(uow, caller, idempotency_key, request,
                                              [owner, body.model_dump(mode="json")])
        if replay is not None:
            return replay
        checkout_id, order_ids = await service.place_orders(uow, caller, owner, choice)
        rows = [await repository.get_order(uow.conn, order_id) for order_id in order_ids]
        views = await order_views(uow, rows)
        total = sum(v.total_minor for v in views)
        currency = views[0].currency
        result = CheckoutOut(
            checkout_id=checkout_id, currency=currency, total_minor=total,
            total_display=Money(total, currency).display(), orders=views,
        )
        if claim is not None:
            await idempotency.record(uow, claim, f"checkout:{checkout_id}", 201, result.model_dump(mode="json"))
        return result


@router.get("/orders", response_model=list[OrderOut])
async def list_orders(
    request: Request,
    caller: Caller,
    status: OrderStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before_id: OptionalIdQuery = None,
) -> list[OrderOut]:
    """Orders this caller may see, newest first: a member's own (online and in store), a merchant's, a store's."""
    scope = {
        Role.SHOPPER: {"customer_id": caller.customer_id},
        Role.MERCHANT: {"merchant_id": caller.merchant_id},
        Role.CLERK: {"location_id": caller.location_id},
        Role.OPERATOR: {},
    }[caller.role]
    async with new_uow(request, read_only=True) as uow:
        rows = await repository.list_orders(
            uow.conn, **scope, status=status.value if status else None, limit=limit, before_id=before_id
        )
        return await order_views(uow, rows)


@router.get("/customers/{customer_id}/orders", response_model=list[OrderOut])
async def purchase_history(
    request: Request, caller: Caller, customer_id: IdPath, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> list[OrderOut]:
    """A member's purchases across channels (web, phone and store tills), newest first."""
    owner, _ = cart_owner(caller, customer_id)
    async with new_uow(request, read_only=True) as uow:
        return await order_views(uow, await repository.list_orders(uow.conn, customer_id=owner, limit=limit))


@router.get("/orders/{order_id}", response_model=OrderOut)
async def get_order(request: Request, caller: Caller, order_id: IdPath) -> OrderOut:
    async with new_uow(request, read_only=True) as uow:
        [view] = await order_views(uow, [await service.visible_order(uow, caller, order_id)], with_history=True, caller=caller)
        return view


@router.post(
    "/orders/{order_id}/pay", response_model=OrderOut,
    responses={402: {"model": ErrorOut, "description": "the gateway declined the payment; the order stays unpaid"},
               503: {"model": ErrorOut, "description": "the gateway did not answer; nothing was charged, retry"}},
)
async def pay(
    request: Request, caller: Caller, order_id: IdPath, body: PayIn, idempotency_key: IdempotencyKey = None
) -> OrderOut:
    """Pays the order through the gateway: the money is captured into escrow until receipt is confirmed. Send an
    `Idempotency-Key`: a retry (after a timeout, say) never charges twice. Paying a paid order is a 409."""
    state = request.app.state
    request_key = None
    if idempotency_key is not None:
        request_key = f"{caller.key}:{idempotency.check_key(idempotency_key)}"
    await service.pay(state.uow_factory, state.gateway, caller, order_id, method=body.method, token=body.token,
                      request_key=request_key, months=body.months)
    async with new_uow(request, read_only=True) as uow:
        [view] = await order_views(uow, [await service.visible_order(uow, caller, order_id)], with_history=True, caller=caller)
        return view


async def _move(request: Request, caller: Principal, order_id: int, target: OrderStatus, note: str,
                idempotency_key: str | None, body: Any) -> Any:
    async with new_uow(request) as uow:
        claim, replay = await claim_or_replay(uow, caller, idempotency_key, request, body)
        if replay is not None:
            return replay
        order = await service.move(uow, caller, order_id, target, note=note)
        [view] = await order_views(uow, [order], with_history=True, caller=caller)
        if claim is not None:  # each order reaches each state once: (order, state) names the result
            await idempotency.record(uow, claim, f"move:{order_id}:{target.value}", 200, view.model_dump(mode="json"))
    await _refund_if_cancelled_after_payment(request, view)
    return view


@router.post("/orders/{order_id}/transitions", response_model=OrderOut)
async def transition(request: Request, caller: Caller, order_id: IdPath, body: TransitionIn,
                     idempotency_key: IdempotencyKey = None) -> Any:
    """Moves an order one step: allocated, shipped, delivered, completed (receipt confirmed: the escrow goes to the
    merchant), or cancelled (paid money is refunded). With an `Idempotency-Key`, a retry returns the same answer."""
    return await _move(request, caller, order_id, body.to, body.note, idempotency_key, body.model_dump(mode="json"))


@router.post("/orders/{order_id}/cancel", response_model=OrderOut)
async def cancel(request: Request, caller: Caller, order_id: IdPath, body: CancelIn | None = None,
                 idempotency_key: IdempotencyKey = None) -> Any:
    """Cancels an order, gives its held stock back and refunds what was paid."""
    reason = body.reason if body else ""
    return await _move(request, caller, order_id, OrderStatus.CANCELLED, reason, idempotency_key, {"reason": reason})


async def _refund_if_cancelled_after_payment(request: Request, view: OrderOut) -> None:
    """A paid order that was cancelled gets its money back: the ledger booked the refund with the cancellation;
    the gateway pays it back now that it has committed (the sweeper retries if this call fails)."""
    if view.status is OrderStatus.CANCELLED and view.payment_reference is not None:
        state = request.app.state
        await payments_service.pay_back_processing_refunds(state.uow_factory, state.gateway)


async def _return_view(uow: UnitOfWork, return_id: int) -> ReturnOut:
    found = await repository.get_return(uow.conn, return_id)
    parcels = await fulfillment_repository.shipments_of_return(uow.conn, return_id)
    [view] = await return_views(uow, [found], parcels)
    return view


@router.post("/orders/{order_id}/returns", response_model=ReturnOut, status_code=201)
async def request_return(request: Request, caller: Caller, order_id: IdPath, body: ReturnIn,
                         idempotency_key: IdempotencyKey = None) -> Any:
    """Sends delivered goods back within the return window (`UNICHANNEL_RETURN_WINDOW_DAYS`, 7 days after
    delivery): a return parcel to each location they came from is created; once the goods are received, they are
    restocked and what they were paid is refunded. Receipt is not confirmed automatically meanwhile."""
    wanted: dict[int, int] = {}
    for line in body.lines:
        wanted[line.line_id] = wanted.get(line.line_id, 0) + line.quantity
    async with new_uow(request) as uow:
        claim, replay = await claim_or_replay(uow, caller, idempotency_key, request, body.model_dump(mode="json"))
        if replay is not None:
            return replay
        return_id = await returns.request_return(uow, caller, order_id, wanted, body.reason)
        view = await _return_view(uow, return_id)
        if claim is not None:
            await idempotency.record(uow, claim, f"return:{return_id}", 201, view.model_dump(mode="json"))
        return view


@router.get("/returns/{return_id}", response_model=ReturnOut)
async def get_return(request: Request, caller: Caller, return_id: IdPath) -> ReturnOut:
    async with new_uow(request, read_only=True) as uow:
        await returns.visible_return(uow, caller, return_id)
        return await _return_view(uow, return_id)


@router.post("/returns/{return_id}/receive", response_model=ReturnOut)
async def receive_return(request: Request, caller: Caller, return_id: IdPath, body: ReceiveReturnIn | None = None,
                         idempotency_key: IdempotencyKey = None) -> Any:
    """The location the goods return to takes them in: the units fit to sell again (all, unless said per line) are
    back in stock and the returned units' price is refunded to the shopper."""
    sellable: dict[int, int] = {}
    for line in (body.lines if body else []):
        if line.line_id in sellable:
            raise InvalidInput(f"line {line.line_id} is named twice", field="lines")
        sellable[line.line_id] = line.sellable
    async with new_uow(request) as uow:
        claim, replay = await claim_or_replay(uow, caller, idempotency_key, request,
                                              body.model_dump(mode="json") if body else {})
        if replay is not None:
            return replay
        await returns.receive_return(uow, caller, return_id, sellable)
        view = await _return_view(uow, return_id)
        if claim is not None:
            await idempotency.record(uow, claim, f"receipt:{return_id}", 200, view.model_dump(mode="json"))
    await payments_service.pay_back_processing_refunds(request.app.state.uow_factory, request.app.state.gateway)
    return view
