"""Payment, refund, ledger and settlement HTTP routes under /api/v1."""

from __future__ import annotations

import csv
import io
import logging
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from unichannel import idempotency
from unichannel.access.model import Principal, Role
from unichannel.api_types import IdPath, OptionalIdQuery
from unichannel.errors import Forbidden, NotFound, parse_choice
from unichannel.money import Money, check_locale
from unichannel.orders import service as orders_service
from unichannel.payments import instalments, repository, service
from unichannel.payments.gateway import EventKind, WebhookEvent
from unichannel.payments.model import AccountKind, PaymentState
from unichannel.payments.schemas import (
    AccountOut,
    AmountOut,
    EntryOut,
    InstalmentOut,
    PaymentOut,
    PlanOut,
    RefundIn,
    RefundOut,
    RepayIn,
    SettlementOut,
    TransferOut,
    WebhookOut,
)
from unichannel.uow import UnitOfWork
from unichannel.web import Caller, ErrorOut, IdempotencyKey, claim_or_replay, new_uow

router = APIRouter(tags=["payments"])
log = logging.getLogger(__name__)

LocaleQuery = Annotated[str, Query(max_length=20, description="how amounts are displayed: zh_CN, en, en_US, ja...")]
CUSTOMER_ACCOUNTS = (AccountKind.SHOPPER_FUNDING, AccountKind.INSTALMENT_RECEIVABLE)
MERCHANT_ACCOUNTS = (AccountKind.MERCHANT_PAYABLE, AccountKind.MERCHANT_SETTLED)


def refund_view(row: dict[str, Any], locale: str) -> RefundOut:
    return RefundOut(**row, amount=AmountOut.of(row["amount_minor"], row["currency"], locale))


async def payment_view(uow: UnitOfWork, order_id: int, locale: str) -> PaymentOut:
    payment = await repository.captured_payment(uow.conn, order_id)
    if payment is None:
        raise NotFound("this order has no captured payment", field="order_id")
    state: PaymentState = service.payment_state(payment)
    currency, merchant_currency = payment["currency"], payment["merchant_currency"]
    transfers = await repository.transfers_of_order(uow.conn, order_id)
    entries = await repository.entries_of(uow.conn, [t["id"] for t in transfers])
    return PaymentOut(
        **{k: payment[k] for k in ("order_id", "status", "method", "gateway", "gateway_reference", "released_at",
                                   "fx_rate", "fx_rate_date")},
        captured=AmountOut.of(state.captured_minor, currency, locale),
        refunded=AmountOut.of(state.refunded_minor, currency, locale),
        held_in_escrow=AmountOut.of(state.held_minor, currency, locale),
        released=AmountOut.of(state.merchant_gross_minor, merchant_currency, locale) if merchant_currency else None,
        fee=AmountOut.of(state.fee_minor, merchant_currency, locale) if merchant_currency else None,
        refunds=[refund_view(r, locale) for r in await repository.refunds_of_order(uow.conn, order_id)],
        transfers=[
            TransferOut(**{k: t[k] for k in ("id", "kind", "reference", "fx_rate", "fx_rate_date", "created_at")},
                        entries=[EntryOut(debit=f"{e['debit_kind']}:{e['debit_owner_id']}",
                                          credit=f"{e['credit_kind']}:{e['credit_owner_id']}",
                                          amount=AmountOut.of(e["amount_minor"], e["currency"], locale))
                                 for e in entries if e["transfer_id"] == t["id"]])
            for t in transfers
        ],
    )


@router.get("/orders/{order_id}/payment", response_model=PaymentOut)
async def get_payment(request: Request, caller: Caller, order_id: IdPath, locale: LocaleQuery = "zh_CN") -> PaymentOut:
    """The order's payment: captured, refunded, held in escrow or released (with the fee and the rate used), its
    refunds, and every ledger transfer it made with their entries."""
    locale = check_locale(locale)
    async with new_uow(request, read_only=True) as uow:
        await orders_service.visible_order(uow, caller, order_id)
        return await payment_view(uow, order_id, locale)


@router.post("/orders/{order_id}/refunds", response_model=RefundOut, status_code=201)
async def create_refund(
    request: Request, caller: Caller, order_id: IdPath, body: RefundIn, idempotency_key: IdempotencyKey = None,
    locale: LocaleQuery = "zh_CN",
) -> Any:
    """A shopper asks for money back (the merchant decides; automatic confirmation of receipt waits meanwhile); the
    merchant or an operator refunds at once. Partial refunds are fine; never more than captured and not refunded.
    Send an `Idempotency-Key`: a retry returns the same refund, never a second one."""
    locale = check_locale(locale)
    async with new_uow(request) as uow:
        order = await orders_service.visible_order(uow, caller, order_id)
        claim, replay = await claim_or_replay(uow, caller, idempotency_key, request, body.model_dump(mode="json"))
        if replay is not None:
            return replay
        if caller.role is Role.SHOPPER:
            refund_id = await service.request_refund(uow, caller, order, body.amount_minor, body.reason)
        else:
            caller.require(Role.MERCHANT, Role.OPERATOR)
            refund_id = await service.refund(uow, order, body.amount_minor, reason=body.reason, actor=caller.key)
        view = refund_view(await repository.get_refund(uow.conn, refund_id), locale)
        if claim is not None:
            await idempotency.record(uow, claim, f"refund:{refund_id}", 201, view.model_dump(mode="json"))
    await _pay_back(request)
    return view


async def _decide(request: Request, caller: Principal, order_id: int, refund_id: int, approve: bool, locale: str,
                  idempotency_key: str | None) -> Any:
    locale = check_locale(locale)
    async with new_uow(request) as uow:
        order = await orders_service.visible_order(uow, caller, order_id)
        claim, replay = await claim_or_replay(uow, caller, idempotency_key, request, None)
        if replay is not None:
            return replay
        await service.decide_refund(uow, caller, order, refund_id, approve=approve)
        view = refund_view(await repository.get_refund(uow.conn, refund_id), locale)
        if claim is not None:
            await idempotency.record(uow, claim, f"decision:{refund_id}", 200, view.model_dump(mode="json"))
    await _pay_back(request)
    return view


@router.post("/orders/{order_id}/refunds/{refund_id}/approve", response_model=RefundOut)
async def approve_refund(request: Request, caller: Caller, order_id: IdPath, refund_id: IdPath,
                         idempotency_key: IdempotencyKey = None, locale: LocaleQuery = "zh_CN") -> Any:
    """The merchant (or an operator) approves a requested refund: the money moves and the gateway pays it back.
    With an `Idempotency-Key`, a retry returns the same answer."""
    return await _decide(request, caller, order_id, refund_id, True, locale, idempotency_key)


@router.post("/orders/{order_id}/refunds/{refund_id}/reject", response_model=RefundOut)
async def reject_refund(request: Request, caller: Caller, order_id: IdPath, refund_id: IdPath,
                        idempotency_key: IdempotencyKey = None, locale: LocaleQuery = "zh_CN") -> Any:
    """The merchant (or an operator) turns a refund request down; automatic confirmation resumes."""
    return await _decide(request, caller, order_id, refund_id, False, locale, idempotency_key)


@router.post("/orders/{order_id}/refunds/{refund_id}/paid-back-in-cash", response_model=RefundOut)
async def paid_back_in_cash(request: Request, caller: Caller, order_id: IdPath, refund_id: IdPath,
                            locale: LocaleQuery = "zh_CN") -> Any:
    """The clerk of the order's store has handed a cash refund's notes back to the member: the refund is
    `succeeded`. Only for a refund of a cash payment waiting to be paid back (a second time is a 409)."""
    locale = check_locale(locale)
    async with new_uow(request) as uow:
        order = await orders_service.visible_order(uow, caller, order_id)
        await service.paid_back_in_cash(uow, caller, order, refund_id)
        return refund_view(await repository.get_refund(uow.conn, refund_id), locale)


async def _pay_back(request: Request) -> None:
    """Has the gateway pay back what was just approved. The refund is booked already, so a failure here is not the
    client's: it is logged and the sweeper pays it back later."""
    state = request.app.state
    try:
        await service.pay_back_processing_refunds(state.uow_factory, state.gateway)
    except Exception:
        log.exception("paying back refunds failed; the sweeper retries")


@router.get("/ledger/accounts", response_model=list[AccountOut])
async def list_accounts(
    request: Request, caller: Caller, kind: str | None = Query(default=None, max_length=32),
    owner_id: OptionalIdQuery = None, locale: LocaleQuery = "zh_CN",
) -> list[AccountOut]:
    """Ledger accounts with balances derived from their entries (credits minus debits). An operator sees all; a
    merchant its payable and settled accounts; a shopper their own funding and instalment accounts."""
    locale = check_locale(locale)
    wanted = parse_choice(AccountKind, kind, "kind") if kind is not None else None
    allowed: tuple[AccountKind, ...] | None = None
    if caller.role is Role.MERCHANT:
        allowed, owner_id = MERCHANT_ACCOUNTS, caller.merchant_id
    elif caller.role is Role.SHOPPER:
        allowed, owner_id = CUSTOMER_ACCOUNTS, caller.customer_id
    elif caller.role is not Role.OPERATOR:
        raise Forbidden("a clerk has no ledger accounts", field="role")
    async with new_uow(request, read_only=True) as uow:
        rows = await repository.balances(uow.conn, kind=wanted, owner_id=owner_id)
    if allowed is not None:
        rows = [r for r in rows if AccountKind(r["kind"]) in allowed]
    return [AccountOut(**{k: r[k] for k in ("id", "kind", "owner_type", "owner_id")},
                       balance=AmountOut.of(r["balance_minor"], r["currency"], locale)) for r in rows]


@router.post("/payments/webhooks/{gateway}", response_model=WebhookOut)
async def receive_webhook(request: Request, gateway: Annotated[str, Path(max_length=32)]) -> WebhookOut:
    """Where the payment gateway reports what happened (captured, voided, refund paid). Authenticated by the
    gateway's signature, not a token. Each event is applied once however often it is delivered, and a late or
    out-of-order event never undoes a final state (a voided payment is never captured). An event about a payment
    not recorded yet is refused with 409 `unknown_payment`, so the gateway delivers it again later."""
    state = request.app.state
    if gateway != state.gateway.name:
        raise NotFound(f"this platform takes payments through {state.gateway.name!r}", field="gateway")
    event = state.gateway.parse_webhook(await request.body(), request.headers, state.clock.now().timestamp())
    async with new_uow(request) as uow:
        row_id = await repository.record_event(uow.conn, {
            "gateway": gateway, "event_id": event.event_id, "kind": event.kind[:40],
            "gateway_reference": event.gateway_reference, "outcome": "received", "received_at": uow.now()})
        if row_id is None:
            return WebhookOut(event_id=event.event_id, outcome="duplicate")
        outcome = await _apply_event(uow, event)
        await repository.set_event_outcome(uow.conn, row_id, outcome)
    if outcome == "refunded":
        await _pay_back(request)
    return WebhookOut(event_id=event.event_id, outcome=outcome)


async def _apply_event(uow: UnitOfWork, event: WebhookEvent) -> str:
    if event.kind == EventKind.CAPTURED:
        if await repository.is_repayment(uow.conn, event.gateway_reference):
            return "duplicate"  # an instalment repayment, booked when the shopper paid
        return await orders_service.apply_capture(uow, event.gateway_reference, actor="gateway:webhook")
    if event.kind == EventKind.VOIDED:
        return await service.void_payment(uow, event.gateway_reference)
    if event.kind == EventKind.REFUNDED:
        return await service.refund_paid_back(uow, event.refund_key)
    return "ignored"  # an event kind this platform does not act on


def plan_view(plan: dict[str, Any], rows: list[dict[str, Any]], today: date, locale: str) -> PlanOut:
    currency = plan["currency"]
    return PlanOut(
        id=plan["id"], order_id=plan["order_id"], status=plan["status"], months=plan["months"],
        total=AmountOut.of(plan["total_minor"], currency, locale), fee=AmountOut.of(plan["fee_minor"], currency, locale),
        owed=AmountOut.of(instalments.owed(rows), currency, locale),
        instalments=[InstalmentOut(
            number=r["number"], due_on=r["due_on"], amount=AmountOut.of(r["amount_minor"], currency, locale),
            paid=AmountOut.of(r["paid_minor"], currency, locale), paid_at=r["paid_at"],
            is_late=r["due_on"] < today and r["paid_minor"] < r["amount_minor"]) for r in rows],
    )


async def _plan_views(uow: UnitOfWork, plans: list[dict[str, Any]], locale: str) -> list[PlanOut]:
    rows = await repository.instalments_of(uow.conn, [p["id"] for p in plans])
    today = instalments.local_today(uow)
    return [plan_view(p, [r for r in rows if r["plan_id"] == p["id"]], today, locale) for p in plans]


@router.get("/instalment-plans", response_model=list[PlanOut])
async def list_plans(request: Request, caller: Caller, locale: LocaleQuery = "zh_CN") -> list[PlanOut]:
    """A shopper's instalment plans (an operator sees everyone's), newest first, with each instalment."""
    caller.require(Role.SHOPPER, Role.OPERATOR)
    locale = check_locale(locale)
    async with new_uow(request, read_only=True) as uow:
        plans = await repository.plans_of_customer(uow.conn, caller.customer_id)
        return await _plan_views(uow, plans, locale)


@router.get("/instalment-plans/{plan_id}", response_model=PlanOut)
async def get_plan(request: Request, caller: Caller, plan_id: IdPath, locale: LocaleQuery = "zh_CN") -> PlanOut:
    locale = check_locale(locale)
    async with new_uow(request, read_only=True) as uow:
        [view] = await _plan_views(uow, [await instalments.visible_plan(uow, caller, plan_id)], locale)
        return view


@router.post("/instalment-plans/{plan_id}/payments", response_model=PlanOut, status_code=201,
             responses={402: {"model": ErrorOut, "description": "the gateway declined the payment"}})
async def repay(request: Request, caller: Caller, plan_id: IdPath, body: RepayIn,
                idempotency_key: IdempotencyKey = None, locale: LocaleQuery = "zh_CN") -> PlanOut:
    """The shopper pays the oldest instalment still owed, or everything at once (`early`: early repayment, no
    penalty). Send an `Idempotency-Key`: a retry never pays twice."""
    locale = check_locale(locale)
    request_key = f"{caller.key}:{idempotency.check_key(idempotency_key)}" if idempotency_key is not None else None
    state = request.app.state
    await instalments.repay(state.uow_factory, state.gateway, caller, plan_id, early=body.early, method=body.method,
                            token=body.token, request_key=request_key)
    async with new_uow(request, read_only=True) as uow:
        [view] = await _plan_views(uow, [await instalments.visible_plan(uow, caller, plan_id)], locale)
        return view


def settlement_view(row: dict[str, Any], locale: str) -> SettlementOut:
    currency = row["currency"]
    return SettlementOut(
        merchant_id=row["merchant_id"], business_date=row["business_date"], cutoff_at=row["cutoff_at"],
        **{name: AmountOut.of(row[f"{name}_minor"], currency, locale)
           for name in ("carried_over", "released", "fee", "refunded", "payout")},
    )


@router.post("/settlements/{business_date}", response_model=list[SettlementOut])
async def run_settlement(request: Request, caller: Caller, business_date: date, locale: LocaleQuery = "zh_CN"
                         ) -> list[SettlementOut]:
    """Settles a finished day (operators): each merchant's payable accrued by midnight goes to settled. Running it
    again for the same day changes nothing and returns the same payout lines."""
    caller.require(Role.OPERATOR)
    locale = check_locale(locale)
    async with new_uow(request) as uow:
        rows = await service.settle(uow, business_date)
    return [settlement_view(r, locale) for r in rows]


PAYOUT_COLUMNS = ("business_date", "merchant_id", "currency", "carried_over", "released", "fee", "refunded", "payout")


def payout_csv(rows: list[dict[str, Any]]) -> str:
    """The payout report: one line per merchant and currency, amounts in major units with the currency's digits."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(PAYOUT_COLUMNS)
    for row in rows:
        amounts = [Money(row[f"{n}_minor"], row["currency"]).amount_text() for n in PAYOUT_COLUMNS[3:]]
        writer.writerow([row["business_date"].isoformat(), row["merchant_id"], row["currency"], *amounts])
    return out.getvalue()


@router.get("/settlements/{business_date}", response_model=list[SettlementOut],
            responses={200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with format=csv"}})
async def payout_report(
    request: Request, caller: Caller, business_date: date,
    output: str = Query(default="json", alias="format", pattern="^(json|csv)$"),
    locale: LocaleQuery = "zh_CN",
) -> Any:
    """The payout report of a settled day: every merchant's (operators) or the caller's own (merchants)."""
    caller.require(Role.OPERATOR, Role.MERCHANT)
    locale = check_locale(locale)
    merchant_id = caller.merchant_id if caller.role is Role.MERCHANT else None
    async with new_uow(request, read_only=True) as uow:
        rows = await repository.settlements_on(uow.conn, business_date, merchant_id)
    if output == "csv":
        return Response(payout_csv(rows), media_type="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="payouts-{business_date}.csv"'})
    return [settlement_view(r, locale) for r in rows]
