"""Payment use cases: capture into escrow, release on receipt, refunds, the daily settlement.

Every function runs inside the caller's unit of work, so an order's move and its money move commit together or not
at all; the gateway (network) is only ever called outside a transaction, by the functions that say so.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from unichannel.access.model import Principal, Role
from unichannel.catalog import repository as catalog_repository
from unichannel.errors import (
    AlreadyCaptured,
    Conflict,
    DomainError,
    IllegalTransition,
    InvalidInput,
    NotFound,
    PaymentInProgress,
    RefundExceedsCaptured,
    UnknownPayment,
)
from unichannel.orders import repository as orders_repository
from unichannel.payments import instalments, model, rates, repository
from unichannel.payments.gateway import Authorization, PaymentGateway
from unichannel.payments.model import AccountKind, Conversion, PaymentState, TransferKind
from unichannel.uow import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)

# Order states from which a shopper may ask for money back (a refund before shipping is a cancellation).
REFUNDABLE_STATUSES = ("paid", "allocated", "shipped", "delivered", "completed", "cancelled")


def payment_state(payment: dict[str, Any]) -> PaymentState:
    conversion = None
    if payment["fx_rate"] is not None:
        conversion = Conversion(payment["currency"], payment["merchant_currency"],
                                repository.decimal_or_none(payment["fx_rate"]), payment["fx_rate_date"])
    return PaymentState(
        order_id=payment["order_id"], customer_id=payment["customer_id"], merchant_id=payment["merchant_id"],
        currency=payment["currency"], captured_minor=payment["captured_minor"],
        refunded_minor=payment["refunded_minor"], released_minor=payment["released_minor"],
        refunded_after_release_minor=payment["refunded_after_release_minor"],
        merchant_currency=payment["merchant_currency"], merchant_gross_minor=payment["merchant_gross_minor"],
        fee_minor=payment["fee_minor"], conversion=conversion,
    )


async def record_authorization(
    uow: UnitOfWork, order: dict[str, Any], authorization: Authorization, *, method: str, request_key: str | None,
) -> dict[str, Any]:
    """Records money held on the shopper's card for the order (no ledger entry: nothing is taken yet). Recording the
    same authorization again (a retried request) returns the first record. Another live payment of the order
    (authorized or captured) refuses it with PaymentInProgress: the caller voids it at the gateway."""
    await orders_repository.get_order(uow.conn, order["id"], for_update=True)  # payments of one order take turns
    live = await repository.live_payment(uow.conn, order["id"])
    if live is not None and live["gateway_reference"] != authorization.gateway_reference:
        raise PaymentInProgress("another payment of this order is in progress or done; this one was released",
                                field="order_id")
    now = uow.now()
    await repository.insert_payment(uow.conn, {
        "order_id": order["id"], "customer_id": order["customer_id"], "merchant_id": order["merchant_id"],
        "gateway": authorization.gateway, "gateway_reference": authorization.gateway_reference, "method": method,
        "status": "authorized", "request_key": request_key, "currency": authorization.currency,
        "amount_minor": authorization.amount_minor, "captured_minor": 0, "refunded_minor": 0, "released_minor": 0,
        "refunded_after_release_minor": 0, "merchant_gross_minor": 0, "fee_minor": 0, "created_at": now,
        "updated_at": now,
    })
    return await repository.payment_by_reference(uow.conn, authorization.gateway_reference)


async def capture_payment(uow: UnitOfWork, gateway_reference: str) -> tuple[str, dict[str, Any]]:
    """Books a capture the gateway made: shopper -> escrow, once. Returns (outcome, payment): `captured` the first
    time; `duplicate` when it was booked already (a retry, a duplicated or late webhook); `ignored` for a payment
    that was voided (a late event never resurrects it). A second captured payment for one order is refused."""
    payment = await repository.payment_by_reference(uow.conn, gateway_reference, for_update=True)
    if payment is None:
        raise UnknownPayment("no payment with this gateway reference is recorded (yet)", field="payment")
    if payment["status"] == "captured":
        return "duplicate", payment
    if payment["status"] == "voided":
        return "ignored", payment
    if await repository.captured_payment(uow.conn, payment["order_id"]) is not None:
        raise AlreadyCaptured("this order's payment was captured already", field="order_id")
    now = uow.now()
    values = {"status": "captured", "captured_minor": payment["amount_minor"], "updated_at": now}
    if not await repository.move_payment(uow.conn, payment["id"], "authorized", values):
        return "duplicate", payment
    transfer = model.capture(payment["order_id"], payment["customer_id"], payment["amount_minor"], payment["currency"])
    await repository.post(uow.conn, transfer, f"capture:payment:{payment['id']}", now)
    uow.emit("payment.captured", "payment", payment["id"], {
        "payment_id": payment["id"], "order_id": payment["order_id"], "merchant_id": payment["merchant_id"],
        "amount_minor": payment["amount_minor"], "currency": payment["currency"],
    })
    return "captured", payment | values


async def void_payment(uow: UnitOfWork, gateway_reference: str) -> str:
    """An authorization released without capture: `voided`, or `duplicate` / `ignored` (a captured payment is not
    undone by a void; refunds do that)."""
    payment = await repository.payment_by_reference(uow.conn, gateway_reference, for_update=True)
    if payment is None:
        raise UnknownPayment("no payment with this gateway reference is recorded (yet)", field="payment")
    if payment["status"] != "authorized":
        return "duplicate" if payment["status"] == "voided" else "ignored"
    if not await repository.move_payment(uow.conn, payment["id"], "authorized",
                                         {"status": "voided", "updated_at": uow.now()}):
        return "duplicate"
    uow.emit("payment.voided", "payment", payment["id"], {"payment_id": payment["id"], "order_id": payment["order_id"]})
    return "voided"


async def refund_paid_back(uow: UnitOfWork, refund_key: str | None) -> str:
    """The gateway reports a refund paid: the refund it names is `succeeded` (once)."""
    parts = (refund_key or "").split(":")
    if len(parts) != 2 or parts[0] != "refund" or not parts[1].isdigit():
        return "ignored"  # a part of a refund paid in several parts: marked when all are paid, by pay_back
    refund_id = int(parts[1])
    if await repository.update_refund(uow.conn, refund_id, "processing", {"status": "succeeded", "updated_at": uow.now()}):
        found = await repository.get_refund(uow.conn, refund_id)
        uow.emit("refund.succeeded", "refund", refund_id, {"refund_id": refund_id, "order_id": found["order_id"]})
        return "refunded"
    return "duplicate"


async def release(uow: UnitOfWork, order: dict[str, Any]) -> int | None:
    """Receipt confirmed: what escrow holds for the order goes to the merchant minus the platform fee, converted to
    the merchant's currency at the day's ECB reference rate. Returns the transfer id, or None if nothing was held."""
    payment = await repository.captured_payment(uow.conn, order["id"], for_update=True)
    if payment is None or payment["released_at"] is not None:
        return None
    state = payment_state(payment)
    merchant = await catalog_repository.get_merchant(uow.conn, order["merchant_id"])
    now = uow.now()
    conversion = None
    if merchant["currency"] != state.currency:
        conversion = rates.conversion(state.currency, merchant["currency"], now.date())
    values: dict[str, Any] = {"released_at": now, "updated_at": now, "merchant_currency": merchant["currency"]}
    transfer_id = None
    if state.held_minor > 0:
        done = model.release(order["id"], order["merchant_id"], state.held_minor, state.currency,
                             uow.settings.platform_fee_basis_points[merchant["kind"]], conversion)
        transfer_id = await repository.post(uow.conn, done.transfer, f"release:payment:{payment['id']}", now)
        values |= {"released_minor": done.released_minor, "merchant_gross_minor": done.merchant_gross_minor,
                   "fee_minor": done.fee_minor}
        if conversion is not None:
            values |= {"fx_rate": str(conversion.rate), "fx_rate_date": conversion.rate_date}
    if not await repository.mark_released(uow.conn, payment["id"], values):
        raise Conflict("the payment was released meanwhile", field="order_id")
    uow.emit("payment.released", "payment", payment["id"], {
        "payment_id": payment["id"], "order_id": order["id"], "merchant_id": order["merchant_id"],
        "released_minor": values.get("released_minor", 0), "fee_minor": values.get("fee_minor", 0),
        "merchant_currency": merchant["currency"],
    })
    return transfer_id


async def refund(
    uow: UnitOfWork, order: dict[str, Any], amount_minor: int, *, reason: str, actor: str, refund_id: int | None = None
) -> int:
    """Posts a refund in the ledger (out of escrow before release, out of the merchant's payable after) and leaves it
    `processing` for the gateway to pay back after commit. Never more than what was captured and not yet refunded,
    even when two refunds race. Returns the refund's id."""
    payment = await repository.captured_payment(uow.conn, order["id"], for_update=True)
    if payment is None:
        raise RefundExceedsCaptured("nothing was captured for this order", field="amount_minor")
    state = payment_state(payment)
    transfer = model.refund(state, amount_minor)
    now = uow.now()
    if not await repository.add_refunded(uow.conn, payment["id"], amount_minor, state.is_released, now):
        raise Conflict("the payment changed meanwhile (another refund or a release); retry", field="amount_minor")
    values = {"status": "processing", "decided_by": actor, "updated_at": now}
    if refund_id is None:
        refund_id = await repository.insert_refund(uow.conn, {
            "payment_id": payment["id"], "order_id": order["id"], "merchant_id": order["merchant_id"],
            "amount_minor": amount_minor, "currency": state.currency, "reason": reason, "status": "requested",
            "requested_by": actor, "gateway_minor": amount_minor, "created_at": now, "updated_at": now,
        })
    values["transfer_id"] = await repository.post(uow.conn, transfer, f"refund:{refund_id}", now)
    if payment["gateway"] == instalments.GATEWAY:
        parts = await instalments.offset_refund(uow, order, amount_minor, payment["refunded_minor"], refund_id)
    else:
        parts = [[payment["gateway_reference"], amount_minor]]
    values |= {"gateway_parts": parts, "gateway_minor": sum(part[1] for part in parts)}
    if not await repository.update_refund(uow.conn, refund_id, "requested", values):
        raise Conflict("the refund was decided meanwhile", field="refund_id")
    uow.emit("refund.approved", "refund", refund_id, {
        "refund_id": refund_id, "order_id": order["id"], "merchant_id": order["merchant_id"],
        "amount_minor": amount_minor, "currency": state.currency, "after_release": state.is_released,
    })
    return refund_id


async def request_refund(
    uow: UnitOfWork, principal: Principal, order: dict[str, Any], amount_minor: int, reason: str
) -> int:
    """A shopper asks for money back; the merchant (or an operator) decides. While asked, receipt is not confirmed
    automatically, so escrow keeps the money."""
    if order["status"] not in REFUNDABLE_STATUSES:
        raise IllegalTransition(f"an order that is {order['status']} has no payment to refund", field="order_id")
    payment = await repository.captured_payment(uow.conn, order["id"])
    if payment is None:
        raise IllegalTransition("this order was not paid", field="order_id")
    asked = sum(r["amount_minor"] for r in await repository.refunds_of_order(uow.conn, order["id"])
                if r["status"] == "requested")
    left = payment["captured_minor"] - payment["refunded_minor"] - asked
    if amount_minor > left:
        raise RefundExceedsCaptured(f"at most {left} can still be asked back", field="amount_minor")
    now = uow.now()
    refund_id = await repository.insert_refund(uow.conn, {
        "payment_id": payment["id"], "order_id": order["id"], "merchant_id": order["merchant_id"],
        "amount_minor": amount_minor, "currency": payment["currency"], "reason": reason, "status": "requested",
        "requested_by": principal.key, "gateway_minor": amount_minor, "created_at": now, "updated_at": now,
    })
    uow.emit("refund.requested", "refund", refund_id, {
        "refund_id": refund_id, "order_id": order["id"], "merchant_id": order["merchant_id"],
        "amount_minor": amount_minor, "currency": payment["currency"],
    })
    return refund_id


async def decide_refund(
    uow: UnitOfWork, principal: Principal, order: dict[str, Any], refund_id: int, *, approve: bool
) -> None:
    """The merchant of the order or an operator approves (the money moves) or rejects a requested refund."""
    principal.require(Role.MERCHANT, Role.OPERATOR)
    found = await repository.get_refund(uow.conn, refund_id)
    if found is None or found["order_id"] != order["id"]:
        raise NotFound("no such refund for this order", field="refund_id")
    if found["status"] != "requested":
        raise IllegalTransition(f"the refund is {found['status']} already", field="refund_id")
    if approve:
        await refund(uow, order, found["amount_minor"], reason=found["reason"], actor=principal.key,
                     refund_id=refund_id)
        return
    values = {"status": "rejected", "decided_by": principal.key, "updated_at": uow.now()}
    if not await repository.update_refund(uow.conn, refund_id, "requested", values):
        raise Conflict("the refund was decided meanwhile", field="refund_id")
    uow.emit("refund.rejected", "refund", refund_id, {"refund_id": refund_id, "order_id": order["id"]})


async def pay_back_processing_refunds(uow_factory: UnitOfWorkFactory, gateway: PaymentGateway, limit: int = 100
                                      ) -> list[int]:
    """Asks the gateway to pay back each refund the ledger has approved (in its parts: one capture, or for an
    instalment order the shopper's repayments); marks it succeeded once the gateway has. A refund of cash is left
    for the store's clerk (`paid_back_in_cash`). Called after the approving
    transaction commits, and by the sweeper for any left over (a crash in between): every gateway call is keyed on
    the refund and part, so a retry never pays twice."""
    async with uow_factory(read_only=True) as uow:
        waiting = await repository.refunds_in_status(uow.conn, "processing", limit)
    done = []
    for found in waiting:
        parts = found["gateway_parts"] or []
        if model.pays_back_in_cash(parts):
            continue  # notes the store's clerk hands back, then says so: `paid_back_in_cash`
        try:
            for number, (reference, amount) in enumerate(parts):
                key = f"refund:{found['id']}" if len(parts) == 1 else f"refund:{found['id']}:{number}"
                await gateway.refund(reference, amount, found["currency"], idempotency_key=key)
        except DomainError as error:  # this one waits for the next sweep; it must not hold up the others
            log.warning("the gateway did not pay back refund %s yet: %s", found["id"], error.message)
            continue
        async with uow_factory() as uow:
            if await refund_paid_back(uow, f"refund:{found['id']}") == "refunded":
                done.append(found["id"])
    return done


async def paid_back_in_cash(uow: UnitOfWork, clerk: Principal, order: dict[str, Any], refund_id: int) -> None:
    """The clerk of the order's store has handed the refund's notes back to the member: it is `succeeded`. Only a
    refund of a cash payment, approved and not yet paid back; once (a second time is a 409)."""
    model.check_may_take_cash(clerk, model.CASH, order)
    refund = await repository.get_refund(uow.conn, refund_id)
    if refund is None or refund["order_id"] != order["id"]:
        raise NotFound("no such refund of this order", field="refund_id")
    if not model.pays_back_in_cash(refund["gateway_parts"]):
        raise IllegalTransition("this refund is paid back to the card, not in cash", field="refund_id")
    if refund["status"] != "processing":
        raise IllegalTransition(f"this refund is {refund['status']}, not waiting to be paid back", field="refund_id")
    if await refund_paid_back(uow, f"refund:{refund_id}") != "refunded":  # another counter said so just now
        raise IllegalTransition("this refund was paid back already", field="refund_id")


async def void_stale_authorizations(uow_factory: UnitOfWorkFactory, gateway: PaymentGateway, older_than: timedelta,
                                    limit: int = 100) -> list[str]:
    """Releases card holds that were authorized but never captured (the paying process died in between, say),
    once they are older than any order hold could be. One the gateway did capture is left for its webhook."""
    async with uow_factory(read_only=True) as uow:
        stale = await repository.authorizations_older_than(uow.conn, uow.now() - older_than, limit)
    voided = []
    for payment in stale:
        try:
            await gateway.void(payment["gateway_reference"], idempotency_key=f"void:stale:{payment['id']}")
        except DomainError as error:
            log.warning("could not void stale authorization %s: %s", payment["gateway_reference"], error.message)
            continue
        async with uow_factory() as uow:
            if await void_payment(uow, payment["gateway_reference"]) == "voided":
                voided.append(payment["gateway_reference"])
    return voided


def settlement_window(business_date: date, zone: str) -> tuple[datetime, datetime]:
    """[start, end) of a settlement day: midnight to midnight in the settlement time zone, as UTC instants."""
    tz = ZoneInfo(zone)
    try:
        start = datetime.combine(business_date, time(0), tzinfo=tz).astimezone(UTC)
        end = datetime.combine(business_date + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    except OverflowError:
        raise InvalidInput("that date is beyond the calendar", field="business_date") from None
    return start, end


async def settle(uow: UnitOfWork, business_date: date) -> list[dict[str, Any]]:
    """Moves each merchant's payable, as accrued by the end of `business_date`, to settled, and records a payout
    line per merchant and currency. Run twice for one day, the second run changes nothing and returns the first
    run's lines. A payable made negative by refunds after a payout is carried over, never paid out."""
    start, end = settlement_window(business_date, uow.settings.local_timezone)
    now = uow.now()
    if end > now:
        raise InvalidInput(f"{business_date.isoformat()} is not over yet; settle a day once it has ended",
                           field="business_date")
    # Settlement runs take turns per payable (two days settled at once must not both count the same payable).
    await repository.lock_accounts(uow.conn, AccountKind.MERCHANT_PAYABLE)
    accrued = {row["id"]: row for row in await repository.balances(
        uow.conn, kind=AccountKind.MERCHANT_PAYABLE, before=end, exclude_kind=TransferKind.SETTLEMENT)}
    accrued_before = {row["id"]: row["balance_minor"] for row in await repository.balances(
        uow.conn, kind=AccountKind.MERCHANT_PAYABLE, before=start, exclude_kind=TransferKind.SETTLEMENT)}
    for account_id, account in accrued.items():
        paid_out = await repository.settled_total(uow.conn, account_id)
        payout = account["balance_minor"] - paid_out
        moved = await repository.movements_by_kind(uow.conn, account_id, start, end)
        carried_over = accrued_before.get(account_id, 0) - paid_out
        if payout == 0 and carried_over == 0 and not moved:
            continue  # nothing happened on this payable: no payout line
        merchant_id, currency = account["owner_id"], account["currency"]
        transfer = model.settlement(merchant_id, currency, payout)
        reference = f"settlement:{business_date.isoformat()}:{merchant_id}:{currency}"
        settlement_id = await repository.insert_settlement(uow.conn, {
            "merchant_id": merchant_id, "currency": currency, "business_date": business_date, "cutoff_at": end,
            "released_minor": moved.get("release", 0), "refunded_minor": -moved.get("refund", 0),
            "fee_minor": await repository.fees_released(uow.conn, merchant_id, currency, start, end),
            "carried_over_minor": carried_over,
            "payout_minor": max(payout, 0), "created_at": now,
        })
        if settlement_id is None:
            continue  # this day was settled for this merchant and currency already
        if transfer is not None:
            transfer_id = await repository.post(uow.conn, transfer, reference, now)
            await repository.set_settlement_transfer(uow.conn, settlement_id, transfer_id)
            uow.emit("settlement.paid", "settlement", settlement_id, {
                "settlement_id": settlement_id, "merchant_id": merchant_id, "currency": currency,
                "payout_minor": payout, "business_date": business_date.isoformat(),
            })
    return await repository.settlements_on(uow.conn, business_date)
