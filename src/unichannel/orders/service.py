"""Order use cases: place orders from a cart, pay, move through the lifecycle, cancel, lapse unpaid orders.

Placing is all or nothing: every line of every order holds its stock, or nothing is written at all.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from unichannel.access.model import Principal, Role
from unichannel.catalog.model import Channel
from unichannel.checkout import repository as cart_repository
from unichannel.checkout import service as cart_service
from unichannel.errors import (
    CannotFulfil,
    Conflict,
    EmptyCart,
    Forbidden,
    IdempotencyKeyReused,
    IllegalTransition,
    InvalidInput,
    NotFound,
    PaymentInProgress,
    ReservationExpired,
    SoldOut,
)
from unichannel.fulfillment import repository as fulfillment_repository
from unichannel.fulfillment import service as fulfillment
from unichannel.fulfillment.tracking import (
    FINAL,
    HAPPY_PATHS,
    PICKUP_ROUTES,
    Route,
    ShipmentStatus,
    out_of_hand,
    steps_to,
)
from unichannel.fulfillment.model import Line, Promise
from unichannel.fulfillment.promises import location_terms
from unichannel.inventory import repository as inventory_repository
from unichannel.inventory import service as inventory
from unichannel.orders import repository
from unichannel.orders.model import (
    DeliveryChoice,
    DeliveryMode,
    OrderStatus,
    Place,
    channel_of,
    check_delivery_choice,
    check_transition,
    distance_km,
)
from unichannel.payments import instalments
from unichannel.payments import repository as payments_repository
from unichannel.payments import service as payments
from unichannel.payments.gateway import Authorization, PaymentGateway
from unichannel.payments.model import check_may_take_cash
from unichannel.promotions import repository as promotions_repository
from unichannel.uow import UnitOfWork, UnitOfWorkFactory


def _place(row: dict[str, Any]) -> Place:
    return Place(row["id"], row["kind"], row["latitude"], row["longitude"], row["is_active"])


async def place_orders(
    uow: UnitOfWork, principal: Principal, customer_id: int, choice: DeliveryChoice
) -> tuple[int, list[int]]:
    """Turns the member's cart into one order per merchant, holding stock for every line; returns (checkout, orders).

    Source selection plans where each unit comes from for the chosen delivery; stock is then reserved pick by pick in
    (SKU, location) order (a fixed lock order), each with one conditional UPDATE. If any pick cannot be held, the
    exception rolls back every hold and order of this checkout, and the cart stays as it was.
    """
    # A sale at a till is a store sale, at store prices, whether handed over or delivered home from the store.
    at_till = principal.role is Role.CLERK and not principal.is_station_operator
    channel = Channel.STORE if at_till else Channel(channel_of(choice.mode))
    pickup_row = None
    if choice.location_id is not None:
        pickup_row = await inventory_repository.get_location(uow.conn, choice.location_id)
    pickup = _place(pickup_row) if pickup_row else None
    check_delivery_choice(choice, pickup)
    cart_view = await cart_service.view(uow, customer_id, channel)
    priced = cart_view.priced
    if not priced.items:
        raise EmptyCart("the cart is empty", field="cart")
    priced.require_purchasable()
    now = uow.now()
    expires_at = now + timedelta(minutes=uow.settings.reservation_hold_minutes)
    if choice.mode is DeliveryMode.IN_STORE:
        expires_at = now + timedelta(minutes=15)  # a till sale is paid on the spot or abandoned
    else:
        _check_station_area(choice, pickup_row)
        for variant_id in sorted({p.item.variant_id for p in priced.items}):  # a lapsed hold must not hide units
            await inventory.expire_lapsed(uow, variant_id=variant_id)
    checkout_id = await repository.insert_checkout(
        uow.conn, {"customer_id": customer_id, "currency": priced.currency, "total_minor": 0, "created_at": now}
    )
    order_ids, grand_total = [], 0
    for merchant_id, items in priced.by_merchant().items():
        subtotal = sum(p.total_minor or 0 for p in items)
        picks, fee, location_id = await _sources_of(uow, principal, choice, pickup, items, subtotal, priced.currency)
        order_id = await repository.insert_order(
            uow.conn,
            {
                "checkout_id": checkout_id,
                "customer_id": customer_id,
                "merchant_id": merchant_id,
                "channel": channel.value,
                "status": OrderStatus.PLACED.value,
                "currency": priced.currency,
                "subtotal_minor": subtotal,
                "delivery_minor": fee,
                "total_minor": subtotal + fee,
                "delivery_mode": choice.mode.value,
                "location_id": location_id,
                "address": asdict(choice.address) if choice.address else None,
                "placed_by": principal.key,
                "assisted_by_location_id": principal.location_id if principal.is_station_operator else None,
                "placed_at": now,
                "updated_at": now,
            },
        )
        by_line = {p.item.line_id: p for p in items}
        lines = []
        # Stock rows are always locked in (SKU, location) order, so two checkouts can never deadlock.
        picks.sort(key=lambda pick: (by_line[pick[0]].item.variant_id, pick[1]))
        for line_id, source_id, quantity in picks:
            priced_item = by_line[line_id]
            item = priced_item.item
            try:
                held = await inventory.reserve(uow, merchant_id, item.variant_id, quantity, [source_id], expires_at)
            except SoldOut:
                lines_wanted = [Line(p.item.line_id, p.item.variant_id, p.item.quantity) for p in items]
                if choice.mode is DeliveryMode.IN_STORE or await fulfillment.is_sold_out(uow, lines_wanted):
                    raise
                # Another checkout took the units the plan counted on, a moment ago: the promise cannot be kept.
                raise CannotFulfil("the units this delivery counted on were just taken; ask for the delivery options "
                                   "again", field="delivery") from None
            lines.append(
                {
                    "order_id": order_id,
                    "merchant_id": merchant_id,
                    "variant_id": item.variant_id,
                    "sku": item.sku,
                    "name": item.name,
                    "quantity": quantity,
                    "unit_price_minor": priced_item.unit_price_minor,
                    "total_minor": priced_item.unit_price_minor * quantity,
                    "location_id": held["location_id"],
                    "reservation_id": held["id"],
                }
            )
        await repository.insert_lines(uow.conn, lines)
        await _record(uow, order_id, None, OrderStatus.PLACED, principal.key)
        uow.emit(
            "order.placed",
            "order",
            order_id,
            {
                "order_id": order_id,
                "merchant_id": merchant_id,
                "customer_id": customer_id,
                "channel": channel.value,
                "total_minor": subtotal + fee,
                "currency": priced.currency,
                "location_id": location_id,
                "lines": [{"variant_id": ln["variant_id"], "quantity": ln["quantity"]} for ln in lines],
            },
        )
        order_ids.append(order_id)
        grand_total += subtotal + fee
    await repository.set_checkout_total(uow.conn, checkout_id, grand_total)
    await cart_repository.delete_lines(uow.conn, cart_view.cart["id"], [p.item.line_id for p in priced.items])
    return checkout_id, order_ids


def _check_station_area(choice: DeliveryChoice, pickup_row: dict[str, Any] | None) -> None:
    """A village station serves the villages within its service area; an address beyond it is refused."""
    if choice.mode is not DeliveryMode.PICKUP or pickup_row is None or pickup_row["kind"] != "village_station":
        return
    area = location_terms(pickup_row["kind"], pickup_row["details"] or {}).service_radius_km
    address = choice.address
    assert address is not None and address.latitude is not None and address.longitude is not None
    if distance_km(pickup_row["latitude"], pickup_row["longitude"], address.latitude, address.longitude) > area:
        raise InvalidInput(f"the address is outside {pickup_row['name']}'s service area ({area:g} km)",
                           field="delivery.address")


async def _sources_of(
    uow: UnitOfWork, principal: Principal, choice: DeliveryChoice, pickup: Place | None, items: list[Any],
    subtotal: int, currency: str,
) -> tuple[list[tuple[int, int, int]], int, int | None]:
    """(line id, location, units) for every unit of the merchant's items, the delivery fee, and the order's
    location (pickup place, the till's store, or the store of a 30-minute delivery), for the chosen delivery."""
    if choice.mode is DeliveryMode.IN_STORE:  # off the till store's own shelf, handed over: no fee
        return [(p.item.line_id, choice.location_id, p.item.quantity) for p in items], 0, choice.location_id
    address = choice.address
    coordinates = (address.latitude, address.longitude) if address and address.latitude is not None else None
    at_till = principal.role is Role.CLERK and not principal.is_station_operator
    till = principal.location_id if at_till and choice.mode is DeliveryMode.HOME_DELIVERY else None
    if choice.mode is DeliveryMode.PICKUP:
        station = pickup is not None and pickup.kind == "village_station"
        promise = Promise.STATION_PICKUP if station else Promise.STORE_PICKUP
    else:
        promise = Promise.EXPRESS if choice.mode is DeliveryMode.EXPRESS else Promise.HOME_DELIVERY
    lines = [Line(p.item.line_id, p.item.variant_id, p.item.quantity) for p in items]
    option = await fulfillment.plan_for_order(uow, items[0].item.merchant_id, lines, subtotal, currency, promise,
                                              address=coordinates, location_id=choice.location_id,
                                              till_store_id=till)
    picks = [(pick.line_id, pick.location_id, pick.quantity) for pick in option.plan.picks]
    return picks, option.fee_minor, option.location_id


async def _record(uow: UnitOfWork, order_id: int, before: OrderStatus | None, after: OrderStatus, actor: str, note=""):
    await repository.insert_history(
        uow.conn,
        {
            "order_id": order_id,
            "from_status": before.value if before else None,
            "to_status": after.value,
            "actor": actor,
            "note": note,
            "at": uow.now(),
        },
    )


async def visible_order(uow: UnitOfWork, principal: Principal, order_id: int) -> dict[str, Any]:
    """The order if this caller may see it; otherwise NotFound, exactly as if it did not exist."""
    order = await repository.get_order(uow.conn, order_id)
    if order is None or not can_see(principal, order):
        raise NotFound("no such order", field="order_id")
    return order


def can_see(principal: Principal, order: dict[str, Any]) -> bool:
    match principal.role:
        case Role.OPERATOR:
            return True
        case Role.MERCHANT:
            return order["merchant_id"] == principal.merchant_id
        case Role.CLERK:
            return principal.location_id in (order["location_id"], order["assisted_by_location_id"])
        case Role.SHOPPER:
            return order["customer_id"] == principal.customer_id
    return False


async def move(
    uow: UnitOfWork, principal: Principal, order_id: int, target: OrderStatus, *, note: str = ""
) -> dict[str, Any]:
    """Moves an order one legal step, with its stock effects: allocating holds the units and creates the order's
    shipments; shipping (or delivering) moves every shipment of it that far at once; cancelling gives back the
    units and the money. A till sale has no shipments: its units leave stock when it is handed over."""
    order = await visible_order(uow, principal, order_id)
    _check_may_move(principal, order, target)
    current = OrderStatus(order["status"])
    check_transition(current, target)
    values: dict[str, Any] = {"status": target.value, "updated_at": uow.now()}
    if target is OrderStatus.CANCELLED:
        values["cancel_reason"] = note or f"cancelled by {principal.role.value}"
    parcels = await fulfillment_repository.shipments_of(uow.conn, [order_id], "outbound")
    if target is OrderStatus.CANCELLED and any(out_of_hand(Route(p["route"]), ShipmentStatus(p["status"]))
                                               for p in parcels):
        raise IllegalTransition("a parcel of this order is already on its way or delivered: it can no longer be "
                                "cancelled; ask for a return once it is delivered", field="status")
    if not await repository.update_order(uow.conn, order_id, current.value, values):
        raise Conflict("the order changed meanwhile; reload it", field="order_id")
    lines = await repository.lines_of(uow.conn, [order_id])
    if parcels and target in (OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.CANCELLED):
        await _move_parcels(uow, parcels, target, principal.key, note)
    for line in lines:
        if target is OrderStatus.ALLOCATED:
            await inventory.allocate(uow, line["reservation_id"])
        elif target is OrderStatus.SHIPPED and not parcels:  # handed over at the till, fresh produce FEFO
            await inventory.pack(uow, line["reservation_id"], f"order:{order_id}", sku=line["sku"])
        elif target is OrderStatus.CANCELLED:
            await inventory.release(uow, line["reservation_id"])
    if target is OrderStatus.ALLOCATED and order["delivery_mode"] != DeliveryMode.IN_STORE.value:
        await fulfillment.create_shipments(uow, order, lines, principal.key)
    if target is OrderStatus.CANCELLED:
        await _return_flash_units(uow, order, lines)
        await _refund_everything_left(uow, order, principal.key, note or "order cancelled")
    elif target is OrderStatus.COMPLETED:
        await payments.release(uow, order)
    await _record(uow, order_id, current, target, principal.key, note)
    uow.emit(
        f"order.{target.value}",
        "order",
        order_id,
        {"order_id": order_id, "merchant_id": order["merchant_id"], "from": current.value, "to": target.value},
    )
    return await visible_order(uow, principal, order_id)


async def _move_parcels(uow: UnitOfWork, parcels: list[dict[str, Any]], target: OrderStatus, actor: str, note: str
                        ) -> None:
    """The whole order at once: shipped takes each parcel to where it is out of the location's hands (handed
    over, or ready at the counter), delivered to delivered, cancelled cancels the parcels not yet out."""
    for parcel in parcels:
        route, status = Route(parcel["route"]), ShipmentStatus(parcel["status"])
        if status in FINAL:
            continue
        goal = {
            OrderStatus.SHIPPED: HAPPY_PATHS[route][HAPPY_PATHS[route].index(ShipmentStatus.PACKED) + 1],
            OrderStatus.DELIVERED: ShipmentStatus.DELIVERED,
            OrderStatus.CANCELLED: ShipmentStatus.CANCELLED,
        }[target]
        for step in steps_to(route, status, goal):
            parcel = await fulfillment.advance(uow, parcel, step, actor=actor, note=note or f"order {target.value}")


def _check_may_move(principal: Principal, order: dict[str, Any], target: OrderStatus) -> None:
    """Who may make which move. Confirming receipt releases escrow to the merchant, so the merchant never does it:
    the shopper does (or an operator, or the clerk who hands a till sale over); the sweeper does after N days."""
    if target is OrderStatus.CANCELLED:
        if order["status"] == OrderStatus.SHIPPED.value:
            raise IllegalTransition("a shipped order is on its way: ask for a return once it is delivered",
                                    field="status")
        if principal.role is Role.CLERK and order["delivery_mode"] != DeliveryMode.IN_STORE.value \
                and order["status"] not in (OrderStatus.PLACED, OrderStatus.PAID):
            raise Forbidden("once allocated, the merchant cancels this order, not a clerk", field="status")
        if principal.role is Role.SHOPPER and order["status"] not in (OrderStatus.PLACED, OrderStatus.PAID):
            raise IllegalTransition("a shopper can cancel only before the order is allocated; ask the merchant",
                                    field="status")
        return
    if target is OrderStatus.COMPLETED:
        if principal.role is Role.CLERK and order["delivery_mode"] != DeliveryMode.IN_STORE.value:
            raise Forbidden("a clerk confirms receipt only of a till sale handed over in the store", field="to")
        principal.require(Role.SHOPPER, Role.OPERATOR, Role.CLERK)
        return
    principal.require(Role.MERCHANT, Role.OPERATOR, Role.CLERK)
    if target is OrderStatus.DELIVERED and order["delivery_mode"] == DeliveryMode.PICKUP.value:
        raise Forbidden("a parcel for pickup is delivered when the shopper collects it with the pickup code",
                        field="to")
    if principal.role is Role.CLERK and order["delivery_mode"] != DeliveryMode.IN_STORE.value:
        raise Forbidden("a clerk moves the parcels of this order (scan them), not the order itself", field="to")


async def _refund_everything_left(uow: UnitOfWork, order: dict[str, Any], actor: str, reason: str) -> None:
    """A cancelled paid order gives back all its money still captured and not refunded (paid back after commit)."""
    payment = await payments_repository.captured_payment(uow.conn, order["id"])
    if payment is not None and payment["captured_minor"] > payment["refunded_minor"]:
        await payments.refund(uow, order, payment["captured_minor"] - payment["refunded_minor"],
                              reason=reason[:200], actor=actor)


async def confirm_delivered_orders(uow: UnitOfWork, limit: int = 200) -> list[int]:
    """Confirms receipt of orders delivered `auto_confirm_days` ago for which no refund is being asked, releasing
    their escrow; an open refund request pauses the clock until it is decided."""
    due_before = uow.now() - timedelta(days=uow.settings.auto_confirm_days)
    confirmed = []
    for order_id in await repository.delivered_orders_due(uow.conn, due_before, limit):
        order = await repository.get_order(uow.conn, order_id)
        values = {"status": OrderStatus.COMPLETED.value, "updated_at": uow.now()}
        if not await repository.update_order(uow.conn, order_id, OrderStatus.DELIVERED.value, values):
            continue
        await payments.release(uow, order)
        await _record(uow, order_id, OrderStatus.DELIVERED, OrderStatus.COMPLETED, "system:auto-confirm",
                      f"no confirmation {uow.settings.auto_confirm_days} days after delivery")
        uow.emit("order.completed", "order", order_id, {
            "order_id": order_id, "merchant_id": order["merchant_id"], "from": "delivered", "to": "completed",
            "automatic": True,
        })
        confirmed.append(order_id)
    return confirmed


async def pay(
    uow_factory: UnitOfWorkFactory,
    gateway: PaymentGateway,
    principal: Principal,
    order_id: int,
    *,
    method: str,
    token: str | None,
    request_key: str | None = None,
    months: int | None = None,
) -> None:
    """Pays the order's total: the gateway authorizes, the order is checked to be still payable, the gateway
    captures, and the capture is booked into escrow with the order marked paid, in one transaction.

    The gateway is called outside any transaction (no lock is held across the network). If the holds lapsed while
    the gateway answered, the authorization is voided and nothing is taken. With a `request_key` (the client's
    Idempotency-Key), a retry reuses the same gateway calls and so never charges twice. Cash is recorded only by
    the clerk of the order's store (CashOnlyAtTill otherwise); the gateway sends it to the till's drawer, never to a card gateway.
    """
    async with uow_factory() as uow:
        order = await visible_order(uow, principal, order_id)
        check_may_take_cash(principal, method, order)
        if request_key is not None:
            earlier = await payments_repository.payment_by_request_key(uow.conn, request_key)
            if earlier is not None and earlier["order_id"] != order_id:
                raise IdempotencyKeyReused("this Idempotency-Key paid another order", field="Idempotency-Key")
            if earlier is not None and earlier["status"] == "captured":
                return  # a retry of a payment that went through
        check_transition(OrderStatus(order["status"]), OrderStatus.PAID)
        if method == "instalments":
            await _pay_in_instalments(uow, principal, order, months)
            return
    key = f"order:{order_id}:{request_key or uuid.uuid4().hex}"
    authorization = await gateway.authorize(
        reference=f"order:{order_id}", amount_minor=order["total_minor"], currency=order["currency"], method=method,
        token=token, idempotency_key=f"authorize:{key}",
    )
    try:
        async with uow_factory() as uow:
            order = await visible_order(uow, principal, order_id)
            await payments.record_authorization(uow, order, authorization, method=method, request_key=request_key)
            lines = await repository.lines_of(uow.conn, [order_id])
            payable = order["status"] == OrderStatus.PLACED.value and await inventory.all_held(
                uow, [line["reservation_id"] for line in lines])
    except PaymentInProgress:  # a second payment of the order (a double click): release this one's hold
        await gateway.void(authorization.gateway_reference, idempotency_key=f"void:{key}")
        raise
    if not payable:
        await gateway.void(authorization.gateway_reference, idempotency_key=f"void:{key}")
        async with uow_factory() as uow:
            await payments.void_payment(uow, authorization.gateway_reference)
        if order["status"] != OrderStatus.PLACED.value:
            check_transition(OrderStatus(order["status"]), OrderStatus.PAID)
        raise ReservationExpired("the stock held for this order was released when the hold lapsed; nothing was charged")
    await gateway.capture(authorization.gateway_reference, authorization.amount_minor, authorization.currency,
                          idempotency_key=f"capture:{key}")
    async with uow_factory() as uow:
        outcome = await apply_capture(uow, authorization.gateway_reference, actor=principal.key, note=method)
    if outcome == "refunded":  # the order was cancelled or lapsed while the gateway captured
        await payments.pay_back_processing_refunds(uow_factory, gateway)
        raise ReservationExpired("the order stopped being payable while the payment went through; it was refunded")


async def _pay_in_instalments(uow: UnitOfWork, principal: Principal, order: dict[str, Any], months: int | None
                              ) -> None:
    """The platform lends the total over `months` and the loan pays the order at once, in one transaction."""
    if months is None:
        raise InvalidInput("paying in instalments needs the number of months (3, 6 or 12)", field="months")
    if principal.role is not Role.SHOPPER:
        raise Forbidden("only the shopper can take an instalment plan, for their own order", field="method")
    lines = await repository.lines_of(uow.conn, [order["id"]])
    if not await inventory.all_held(uow, [line["reservation_id"] for line in lines]):
        raise ReservationExpired("the stock held for this order was released when the hold lapsed")
    await instalments.finance(uow, order, months)
    reference = f"instalments:order:{order['id']}"
    authorization = Authorization(reference, order["total_minor"], order["currency"], instalments.GATEWAY)
    await payments.record_authorization(uow, order, authorization, method="instalments", request_key=None)
    await apply_capture(uow, reference, actor=principal.key, note=f"instalments over {months} months")


async def apply_capture(uow: UnitOfWork, gateway_reference: str, *, actor: str, note: str = "") -> str:
    """Books a capture (from the pay request or from the gateway's webhook, whichever comes first) and marks the
    order paid, its holds kept until shipping. If the order can no longer take the money (cancelled, or its holds
    lapsed), the capture is booked and refunded in full, so no money is ever kept for goods not held."""
    outcome, payment = await payments.capture_payment(uow, gateway_reference)
    if outcome != "captured":
        return outcome
    order_id = payment["order_id"]
    order = await repository.get_order(uow.conn, order_id, for_update=True)
    lines = await repository.lines_of(uow.conn, [order_id])
    if order["status"] != OrderStatus.PLACED.value or not await inventory.all_held(
            uow, [line["reservation_id"] for line in lines]):
        await payments.refund(uow, order, payment["captured_minor"], actor=actor,
                              reason="captured after the order stopped being payable")
        return "refunded"
    for line in lines:
        await inventory.hold_until_shipped(uow, line["reservation_id"])
    values = {"status": OrderStatus.PAID.value, "payment_reference": gateway_reference, "updated_at": uow.now()}
    if not await repository.update_order(uow.conn, order_id, OrderStatus.PLACED.value, values):
        raise Conflict("the order changed meanwhile; reload it", field="order_id")
    await _record(uow, order_id, OrderStatus.PLACED, OrderStatus.PAID, actor, note)
    uow.emit("order.paid", "order", order_id, {
        "order_id": order_id, "merchant_id": order["merchant_id"], "channel": order["channel"],
        "location_id": order["location_id"], "total_minor": order["total_minor"], "currency": order["currency"],
    })
    return outcome


async def _return_flash_units(uow: UnitOfWork, order: dict[str, Any], lines: list[dict[str, Any]]) -> None:
    """A cancelled flash-sale order gives its units back to the sale and to the buyer's per-customer allowance."""
    if order["flash_sale_id"] is not None:
        units = sum(line["quantity"] for line in lines)
        await promotions_repository.give_back(uow.conn, order["flash_sale_id"], order["customer_id"], units)


async def cancel_lapsed_orders(uow: UnitOfWork, limit: int = 200) -> list[int]:
    """Expires lapsed holds and cancels the unpaid orders they belonged to, releasing their other holds too."""
    await inventory.expire_lapsed(uow, limit=limit)
    cancelled = []
    for order_id in await repository.placed_orders_with_lapsed_holds(uow.conn, uow.now(), limit):
        now = uow.now()
        values = {"status": OrderStatus.CANCELLED.value, "cancel_reason": "payment_timeout", "updated_at": now}
        if not await repository.update_order(uow.conn, order_id, OrderStatus.PLACED.value, values):
            continue
        lines = await repository.lines_of(uow.conn, [order_id])
        for line in lines:
            await inventory.release(uow, line["reservation_id"])
        await _return_flash_units(uow, await repository.get_order(uow.conn, order_id), lines)
        await _record(uow, order_id, OrderStatus.PLACED, OrderStatus.CANCELLED, "system:sweeper", "payment_timeout")
        uow.emit("order.cancelled", "order", order_id, {"order_id": order_id, "reason": "payment_timeout"})
        cancelled.append(order_id)
    return cancelled


# --- shipments move the order -----------------------------------------------------------------------------------


async def move_shipment(
    uow: UnitOfWork, principal: Principal, shipment_id: int, target: ShipmentStatus, *, note: str = ""
) -> dict[str, Any]:
    """Scans a parcel one step on (see `fulfillment.tracking`), then moves its order as far as its parcels have
    gone. A parcel back undelivered refunds what its lines were paid."""
    shipment = await fulfillment.visible_shipment(uow, principal, shipment_id)
    fulfillment.check_may_move(principal, shipment, target)
    await repository.get_order(uow.conn, shipment["order_id"], for_update=True)  # the order first, as `move` does
    shipment = await fulfillment.visible_shipment(uow, principal, shipment_id)
    moved = await fulfillment.advance(uow, shipment, target, actor=principal.key, note=note)
    if shipment["direction"] == "outbound":
        if target is ShipmentStatus.RETURNED:
            await _refund_parcel(uow, moved, principal.key)
        await follow_shipments(uow, shipment["order_id"], principal.key)
    return moved


async def check_pickup_code(uow: UnitOfWork, principal: Principal, shipment_id: int, code: str) -> bool:
    """At the counter (the clerks of the pickup store or station): is this the parcel's code? Wrong codes are
    counted whatever happens next, so the caller commits this on its own."""
    shipment = await fulfillment.visible_shipment(uow, principal, shipment_id)
    principal.require(Role.CLERK, Role.OPERATOR)
    if principal.role is Role.CLERK and principal.location_id != shipment["pickup_location_id"]:
        raise Forbidden("parcels are handed over at the counter they wait at", field="shipment_id")
    waiting = (ShipmentStatus.AT_STATION.value, ShipmentStatus.READY_FOR_PICKUP.value)
    if shipment["status"] not in waiting:
        raise IllegalTransition(f"the parcel is {shipment['status']}, not waiting for pickup", field="shipment_id")
    return await fulfillment.check_pickup_code(uow, shipment, code)


async def collect_parcel(uow: UnitOfWork, principal: Principal, shipment_id: int) -> dict[str, Any]:
    """The shopper (or the villager) collected the parcel with its code (checked by `check_pickup_code`): it is
    delivered, and the collection confirms receipt once every parcel of the order is collected."""
    shipment = await fulfillment.visible_shipment(uow, principal, shipment_id)
    await repository.get_order(uow.conn, shipment["order_id"], for_update=True)  # the order first, as `move` does
    shipment = await fulfillment.visible_shipment(uow, principal, shipment_id)
    moved = await fulfillment.advance(uow, shipment, ShipmentStatus.DELIVERED, actor=principal.key,
                                      note="collected with the pickup code")
    await follow_shipments(uow, shipment["order_id"], principal.key, collected=True)
    return moved


async def _refund_parcel(uow: UnitOfWork, parcel: dict[str, Any], actor: str) -> None:
    order = await repository.get_order(uow.conn, parcel["order_id"])
    payment = await payments_repository.captured_payment(uow.conn, order["id"])
    if payment is None:
        return
    lines = await fulfillment_repository.lines_of(uow.conn, [parcel["id"]])
    amount = min(sum(line["unit_price_minor"] * line["quantity"] for line in lines),
                 payment["captured_minor"] - payment["refunded_minor"])
    if amount > 0:
        await payments.refund(uow, order, amount, actor=actor,
                              reason=f"parcel {parcel['tracking_code']} came back undelivered")


async def follow_shipments(uow: UnitOfWork, order_id: int, actor: str, *, collected: bool = False) -> None:
    """Moves the order as far as its parcels have gone: shipped once every parcel is out of the location's hands;
    delivered once every parcel is delivered or back, and then receipt is confirmed at once if the last parcel was
    collected with its pickup code and every delivered one was collected that way; cancelled (money back) if every
    parcel came back undelivered."""
    order = await repository.get_order(uow.conn, order_id, for_update=True)
    parcels = await fulfillment_repository.shipments_of(uow.conn, [order_id], "outbound")
    states = [(Route(p["route"]), ShipmentStatus(p["status"])) for p in parcels]
    current = OrderStatus(order["status"])
    if current is OrderStatus.ALLOCATED and all(out_of_hand(route, status) for route, status in states):
        await _follow(uow, order, current, OrderStatus.SHIPPED, actor, "every parcel is on its way")
        current = OrderStatus.SHIPPED
    if current is not OrderStatus.SHIPPED or not all(status in FINAL for _, status in states):
        return
    delivered = [route for route, status in states if status is ShipmentStatus.DELIVERED]
    if not delivered:
        await _follow(uow, order, current, OrderStatus.CANCELLED, actor, "every parcel came back undelivered")
        await _refund_everything_left(uow, order, actor, "undeliverable")
        return
    await _follow(uow, order, current, OrderStatus.DELIVERED, actor, "every parcel is delivered")
    if collected and all(route in PICKUP_ROUTES for route in delivered):
        await _follow(uow, order, OrderStatus.DELIVERED, OrderStatus.COMPLETED, actor,
                      "receipt confirmed: collected with the pickup code")
        await payments.release(uow, order)


async def _follow(uow: UnitOfWork, order: dict[str, Any], before: OrderStatus, after: OrderStatus, actor: str,
                  note: str) -> None:
    check_transition(before, after)
    values: dict[str, Any] = {"status": after.value, "updated_at": uow.now()}
    if after is OrderStatus.CANCELLED:
        values["cancel_reason"] = note
    if not await repository.update_order(uow.conn, order["id"], before.value, values):
        raise Conflict("the order changed meanwhile; reload it", field="order_id")
    await _record(uow, order["id"], before, after, actor, note)
    uow.emit(f"order.{after.value}", "order", order["id"], {
        "order_id": order["id"], "merchant_id": order["merchant_id"], "from": before.value, "to": after.value,
    })
