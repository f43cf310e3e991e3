"""Instalment use cases: pay an order in 3, 6 or 12 monthly instalments, repay (the next instalment or everything
early), fall behind (a missed instalment makes the plan overdue), and refunds that pay down the debt first.

The platform lends the shopper the order's total, so the order is paid, escrowed and released to the merchant like
any other; the shopper's instalment receivable carries what they still owe. The fee is fixed when the plan is made
(a setting per length of plan); a refund gives back the same share of it as of the order.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from unichannel.access.model import Principal, Role
from unichannel.errors import Conflict, IllegalTransition, NotFound
from unichannel.payments import model, repository
from unichannel.payments.gateway import PaymentGateway
from unichannel.uow import UnitOfWork, UnitOfWorkFactory

GATEWAY = "instalments"  # the `gateway` of an order's payment made by an instalment plan


def local_today(uow: UnitOfWork) -> date:
    return uow.now().astimezone(ZoneInfo(uow.settings.local_timezone)).date()


def owed(rows: list[dict[str, Any]]) -> int:
    return sum(row["amount_minor"] - row["paid_minor"] for row in rows)


async def finance(uow: UnitOfWork, order: dict[str, Any], months: int) -> int:
    """Makes the plan for the order (schedule, fee) and lends the total to the shopper; returns the plan id. The
    caller books the order's payment from the lent money in the same transaction."""
    fee_basis_points = uow.settings.instalment_fee_basis_points.get(str(months), 0)
    schedule = model.instalment_schedule(order["total_minor"], months, fee_basis_points, local_today(uow))
    fee = model.instalment_fee(order["total_minor"], fee_basis_points)
    now = uow.now()
    plan_id = await repository.insert_plan(uow.conn, {
        "order_id": order["id"], "customer_id": order["customer_id"], "currency": order["currency"],
        "total_minor": order["total_minor"], "fee_minor": fee, "fee_refunded_minor": 0, "months": months,
        "status": "active",
        "created_at": now, "updated_at": now,
    }, [{"number": i.number, "due_on": i.due_on, "scheduled_minor": i.amount_minor, "amount_minor": i.amount_minor,
         "paid_minor": 0} for i in schedule])
    transfer = model.instalment_plan(order["id"], order["customer_id"], order["total_minor"], fee, order["currency"])
    await repository.post(uow.conn, transfer, f"instalment_plan:{plan_id}", now)
    uow.emit("instalment.plan_created", "instalment_plan", plan_id, {
        "plan_id": plan_id, "order_id": order["id"], "customer_id": order["customer_id"], "months": months,
        "total_minor": order["total_minor"], "fee_minor": fee, "currency": order["currency"],
    })
    return plan_id


async def visible_plan(uow: UnitOfWork, principal: Principal, plan_id: int, *, for_update: bool = False
                       ) -> dict[str, Any]:
    plan = await repository.get_plan(uow.conn, plan_id, for_update=for_update)
    if plan is None or not (principal.role is Role.OPERATOR or (
            principal.role is Role.SHOPPER and plan["customer_id"] == principal.customer_id)):
        raise NotFound("no such instalment plan", field="plan_id")
    return plan


def _status(rows: list[dict[str, Any]], today: date) -> str:
    if owed(rows) == 0:
        return "paid_off"
    late = any(r["due_on"] < today and r["paid_minor"] < r["amount_minor"] for r in rows)
    return "overdue" if late else "active"


async def _allocate(uow: UnitOfWork, rows: list[dict[str, Any]], amount_minor: int) -> None:
    """Pays `amount_minor` into the instalments, oldest first."""
    left = amount_minor
    for row in rows:
        take = min(left, row["amount_minor"] - row["paid_minor"])
        if take <= 0:
            continue
        paid = row["paid_minor"] + take
        await repository.update_instalment(uow.conn, row["id"], {
            "paid_minor": paid, "paid_at": uow.now() if paid == row["amount_minor"] else None})
        row["paid_minor"] = paid
        left -= take


async def repay(
    uow_factory: UnitOfWorkFactory, gateway: PaymentGateway, principal: Principal, plan_id: int, *, early: bool,
    method: str, token: str | None, request_key: str | None = None,
) -> None:
    """The shopper pays the oldest instalment not yet paid, or (early repayment) everything still owed, through
    the gateway. The capture is booked once; if it cannot be booked (the plan was paid meanwhile), it is refunded."""
    async with uow_factory() as uow:
        plan = await visible_plan(uow, principal, plan_id)
        rows = await repository.instalments_of(uow.conn, [plan_id])
        unpaid = [r["amount_minor"] - r["paid_minor"] for r in rows if r["paid_minor"] < r["amount_minor"]]
        if not unpaid:
            raise IllegalTransition("the plan is paid off", field="plan_id")
        amount = sum(unpaid) if early else unpaid[0]
    key = f"plan:{plan_id}:{request_key or uuid.uuid4().hex}"
    authorization = await gateway.authorize(reference=f"instalment_plan:{plan_id}", amount_minor=amount,
                                            currency=plan["currency"], method=method, token=token,
                                            idempotency_key=f"authorize:{key}")
    await gateway.capture(authorization.gateway_reference, amount, plan["currency"], idempotency_key=f"capture:{key}")
    try:
        async with uow_factory() as uow:
            await book_repayment(uow, plan_id, authorization.gateway_reference, amount,
                                 note="early repayment" if early else "instalment")
    except BaseException:
        await gateway.refund(authorization.gateway_reference, amount, plan["currency"],
                             idempotency_key=f"unbooked:{key}")
        async with uow_factory() as uow:  # so a retry of this request never books money that went back
            await repository.insert_repayment(uow.conn, {
                "plan_id": plan_id, "gateway_reference": authorization.gateway_reference, "amount_minor": amount,
                "refunded_minor": amount, "status": "unbooked", "transfer_id": None, "created_at": uow.now()})
        raise


async def book_repayment(uow: UnitOfWork, plan_id: int, gateway_reference: str, amount_minor: int, note: str) -> str:
    """Books money the gateway took for the plan: shopper -> receivable, into the instalments oldest first.
    `duplicate` if this capture was booked already."""
    plan = await repository.get_plan(uow.conn, plan_id, for_update=True)
    rows = await repository.instalments_of(uow.conn, [plan_id])
    earlier = next((r for r in await repository.repayments_of(uow.conn, plan_id)
                    if r["gateway_reference"] == gateway_reference), None)
    if earlier is not None and earlier["status"] == "unbooked":
        raise Conflict("this payment could not be booked and was refunded; pay again with a new Idempotency-Key",
                       field="Idempotency-Key")
    if earlier is not None:
        return "duplicate"
    if amount_minor > owed(rows):
        raise Conflict("the plan was paid meanwhile; this payment is refunded", field="plan_id")
    now = uow.now()
    transfer = model.instalment_payment(plan["order_id"], plan["customer_id"], amount_minor, plan["currency"], note)
    transfer_id = await repository.post(uow.conn, transfer, f"instalment_payment:{gateway_reference}", now)
    await repository.insert_repayment(uow.conn, {
        "plan_id": plan_id, "gateway_reference": gateway_reference, "amount_minor": amount_minor,
        "refunded_minor": 0, "status": "booked", "transfer_id": transfer_id, "created_at": now})
    await _allocate(uow, rows, amount_minor)
    status = _status(rows, local_today(uow))
    await repository.set_plan_status(uow.conn, plan_id, status, now)
    uow.emit("instalment.paid", "instalment_plan", plan_id, {
        "plan_id": plan_id, "amount_minor": amount_minor, "currency": plan["currency"], "status": status})
    return "booked"


async def mark_overdue(uow: UnitOfWork, limit: int = 200) -> list[int]:
    """Plans with an instalment due before today and not paid become overdue (paying catches them up)."""
    overdue = []
    for plan_id in await repository.plans_falling_behind(uow.conn, local_today(uow), limit):
        await repository.set_plan_status(uow.conn, plan_id, "overdue", uow.now())
        uow.emit("instalment.overdue", "instalment_plan", plan_id, {"plan_id": plan_id})
        overdue.append(plan_id)
    return overdue


async def offset_refund(uow: UnitOfWork, order: dict[str, Any], amount_minor: int, refunded_before_minor: int,
                        refund_id: int) -> list[list[Any]]:
    """A refund of an order paid in instalments gives back its share of the plan's fee too, and the money owed to
    the shopper pays down what they still owe first (the last instalments first); only the rest goes back through
    the gateway, from the shopper's repayments, newest first. Returns those gateway parts:
    [[repayment gateway reference, amount], ...]."""
    plan = await repository.plan_of_order(uow.conn, order["id"], for_update=True)
    rows = await repository.instalments_of(uow.conn, [plan["id"]])
    refunded_after = refunded_before_minor + amount_minor
    fee_back = (model.share(plan["fee_minor"], refunded_after, plan["total_minor"])
                - model.share(plan["fee_minor"], refunded_before_minor, plan["total_minor"]))
    due_to_shopper = amount_minor + fee_back
    offset = min(due_to_shopper, owed(rows))
    now = uow.now()
    transfer = model.refund_offset(order["id"], order["customer_id"], plan["currency"], fee_back, offset)
    if transfer.postings:
        await repository.post(uow.conn, transfer, f"refund_offset:{refund_id}", now)
        await repository.add_fee_refunded(uow.conn, plan["id"], fee_back)
    if offset:
        reduced = model.reduce_from_the_end([r["amount_minor"] - r["paid_minor"] for r in rows], offset)
        for row, still_owed in zip(rows, reduced, strict=True):
            amount = row["paid_minor"] + still_owed
            if amount != row["amount_minor"]:
                await repository.update_instalment(uow.conn, row["id"], {
                    "amount_minor": amount, "paid_at": row["paid_at"] or (now if still_owed == 0 else None)})
                row["amount_minor"] = amount
        await repository.set_plan_status(uow.conn, plan["id"], _status(rows, local_today(uow)), now)
    parts, left = [], due_to_shopper - offset
    for repayment in await repository.repayments_of(uow.conn, plan["id"]):
        if repayment["status"] != "booked":
            continue
        take = min(left, repayment["amount_minor"] - repayment["refunded_minor"])
        if take > 0 and await repository.add_repayment_refunded(uow.conn, repayment["id"], take):
            parts.append([repayment["gateway_reference"], take])
            left -= take
    if left:
        raise AssertionError("what a refund owes the shopper beyond the debt is always within what they repaid")
    return parts
