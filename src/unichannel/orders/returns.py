"""Returns: a shopper sends delivered goods back within the return window; once the location receives them, the
sellable units are stock again and what the returned units were paid is refunded.

While a return is open, receipt is not confirmed automatically, so escrow keeps the money until the goods are back.
The delivery fee is not refunded for a return (it is for a parcel that never arrived).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from unichannel.access.model import Principal, Role
from unichannel.errors import Conflict, Forbidden, IllegalTransition, InvalidInput, NotFound, ReturnWindowClosed
from unichannel.fulfillment import repository as fulfillment_repository
from unichannel.fulfillment import service as fulfillment
from unichannel.fulfillment.tracking import Route, ShipmentStatus, steps_to
from unichannel.inventory import service as inventory
from unichannel.orders import repository
from unichannel.orders.model import OrderStatus
from unichannel.orders.service import visible_order
from unichannel.payments import repository as payments_repository
from unichannel.payments import service as payments
from unichannel.uow import UnitOfWork

RETURNABLE = (OrderStatus.DELIVERED.value, OrderStatus.COMPLETED.value)


async def request_return(
    uow: UnitOfWork, principal: Principal, order_id: int, wanted: dict[int, int], reason: str
) -> int:
    """The shopper asks to send back `wanted` units (order line id -> units) of delivered parcels, within the return
    window: a return parcel to each location they came from is created, waiting to be handed to the courier."""
    order = await visible_order(uow, principal, order_id)
    principal.require(Role.SHOPPER, Role.OPERATOR)
    await repository.get_order(uow.conn, order_id, for_update=True)  # one return request of an order at a time
    if order["status"] not in RETURNABLE:
        raise IllegalTransition(f"an order that is {order['status']} cannot be returned; only delivered goods can",
                                field="order_id")
    delivered_at = await repository.delivered_at(uow.conn, order_id)
    window = uow.settings.return_window_days
    if delivered_at is None or uow.now() > delivered_at + timedelta(days=window):
        raise ReturnWindowClosed(f"goods can be returned within {window} days of delivery", field="order_id",
                                 details={"days": window})
    parcels = await fulfillment_repository.shipments_of(uow.conn, [order_id], "outbound")
    delivered_ids = [p["id"] for p in parcels if p["status"] == ShipmentStatus.DELIVERED.value]
    if not delivered_ids:
        raise IllegalTransition("only goods delivered in a parcel can be sent back; a till sale has none (returns "
                                "at the till are not built yet)", field="order_id")
    delivered = {line["order_line_id"]: line for line in await fulfillment_repository.lines_of(uow.conn, delivered_ids)}
    already = await repository.returned_quantities(uow.conn, order_id)
    lines, refund_minor = [], 0
    for line_id, quantity in sorted(wanted.items()):
        line = delivered.get(line_id)
        if line is None:
            raise InvalidInput(f"line {line_id} is not a delivered line of this order", field="lines")
        left = line["quantity"] - already.get(line_id, 0)
        if quantity > left:
            raise InvalidInput(f"line {line_id}: at most {left} units can still be returned", field="lines")
        lines.append({"order_line_id": line_id, "quantity": quantity, "location_id": line["location_id"]})
        refund_minor += line["unit_price_minor"] * quantity
    payment = await payments_repository.captured_payment(uow.conn, order_id)
    promised = sum(r["refund_minor"] for r in await repository.returns_of(uow.conn, [order_id])
                   if r["status"] == "open")
    if payment is None or payment["captured_minor"] - payment["refunded_minor"] - promised < refund_minor:
        raise Conflict("this order has not that much paid and not refunded", field="lines")
    now = uow.now()
    return_id = await repository.insert_return(uow.conn, {
        "order_id": order_id, "merchant_id": order["merchant_id"], "customer_id": order["customer_id"],
        "status": "open", "reason": reason, "refund_minor": refund_minor, "requested_by": principal.key,
        "created_at": now, "updated_at": now,
    }, [{"order_line_id": ln["order_line_id"], "quantity": ln["quantity"]} for ln in lines])
    await fulfillment.create_return_shipments(uow, order, return_id, lines, principal.key)
    uow.emit("return.requested", "return", return_id, {
        "return_id": return_id, "order_id": order_id, "merchant_id": order["merchant_id"],
        "refund_minor": refund_minor, "currency": order["currency"],
    })
    return return_id


async def visible_return(uow: UnitOfWork, principal: Principal, return_id: int) -> tuple[dict, dict]:
    found = await repository.get_return(uow.conn, return_id)
    if found is None:
        raise NotFound("no such return", field="return_id")
    try:
        order = await visible_order(uow, principal, found["order_id"])
    except NotFound:
        if principal.role is not Role.CLERK or not await _returns_to(uow, return_id, principal.location_id):
            raise NotFound("no such return", field="return_id") from None
        order = await repository.get_order(uow.conn, found["order_id"])
    return found, order


async def _returns_to(uow: UnitOfWork, return_id: int, location_id: int | None) -> bool:
    return any(s["location_id"] == location_id
               for s in await fulfillment_repository.shipments_of_return(uow.conn, return_id))


async def receive_return(
    uow: UnitOfWork, principal: Principal, return_id: int, sellable: dict[int, int]
) -> dict[str, Any]:
    """The location takes the returned goods in: the return parcels are `returned`, the units found sellable
    (`sellable`: order line id -> units; all of them if not said) go back on hand, into the lots they left, and
    what the returned units were paid is refunded (paid back by the gateway after commit)."""
    found, order = await visible_return(uow, principal, return_id)
    principal.require(Role.MERCHANT, Role.OPERATOR, Role.CLERK)
    if principal.role is Role.CLERK and not await _returns_to(uow, return_id, principal.location_id):
        raise Forbidden("the goods are received where they return to", field="return_id")
    if found["status"] != "open":
        raise IllegalTransition(f"the return is {found['status']} already", field="return_id")
    lines = await repository.return_lines_of(uow.conn, [return_id])
    unknown = set(sellable) - {line["order_line_id"] for line in lines}
    if unknown:
        raise InvalidInput(f"line {min(unknown)} is not in this return", field="lines")
    for parcel in await fulfillment_repository.shipments_of_return(uow.conn, return_id):
        for step in steps_to(Route.RETURN, ShipmentStatus(parcel["status"]), ShipmentStatus.RETURNED):
            parcel = await fulfillment.advance(uow, parcel, step, actor=principal.key, note="received back")
    outbound = await fulfillment_repository.shipments_of(uow.conn, [order["id"]], "outbound")
    packed = {line["order_line_id"]: line for line in
              await fulfillment_repository.lines_of(uow.conn, [p["id"] for p in outbound])}
    for line in lines:
        units = sellable.get(line["order_line_id"], line["quantity"])
        if not 0 <= units <= line["quantity"]:
            raise InvalidInput(f"line {line['order_line_id']}: between 0 and {line['quantity']} units are sellable",
                               field="lines")
        await repository.set_sellable(uow.conn, line["id"], units)
        if units:
            await inventory.restock(uow, line, units, fulfillment.lot_picks(packed[line["order_line_id"]]),
                                    reference=f"return:{return_id}", reason="returned by the shopper")
    refund_id = None
    payment = await payments_repository.captured_payment(uow.conn, order["id"])
    # A refund given meanwhile (asked and approved apart from the return) may have paid some of it back already.
    amount = min(found["refund_minor"], payment["captured_minor"] - payment["refunded_minor"]) if payment else 0
    if amount > 0:
        refund_id = await payments.refund(uow, order, amount, actor=principal.key,
                                          reason=f"return {return_id}: {found['reason']}"[:200])
    values = {"status": "received", "refund_id": refund_id, "updated_at": uow.now()}
    if not await repository.update_return(uow.conn, return_id, "open", values):
        raise Conflict("the return was received meanwhile", field="return_id")
    uow.emit("return.received", "return", return_id, {
        "return_id": return_id, "order_id": order["id"], "merchant_id": order["merchant_id"],
        "refund_minor": found["refund_minor"], "currency": order["currency"],
        "restocked": sum(sellable.get(ln["order_line_id"], ln["quantity"]) for ln in lines),
    })
    return await repository.get_return(uow.conn, return_id)
