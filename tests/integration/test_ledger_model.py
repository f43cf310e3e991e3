"""A model-based test of the money: hypothesis drives random sequences of pay, pay again, deliver, confirm receipt,
automatic confirmation, refund requests and their decisions, refunds (partial or whole, before and after release),
cancellations and settlement runs through the real application (HTTP in-process, SQLite), against a reference
model that says what each step must do. After every step:

- `unichannel check` is clean (every transfer sums to zero per currency, escrow equals paid-and-not-released,
  refunds within captured, one capture transfer per payment);
- escrow and each shopper's funding account hold exactly what the reference model says;
- an operation the reference refuses was refused with the documented error and moved no money.

Orders may be paid by card or in instalments (then repaid monthly or early, missed, and refunded).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule
from sqlalchemy import func, select, text

from tests.conftest import OPENING, Env
from tests.integration.world import HOME, build_world
from unichannel.app import create_app
from unichannel.check import run_checks
from unichannel.clock import FixedClock
from unichannel.inventory import service as inventory
from unichannel.orders import service as orders_service
from unichannel.payments import instalments
from unichannel.payments.gateway import SimulatedGateway
from unichannel.payments.repository import ledger_transfers
from unichannel.settings import Settings

PRICES = {"brand-a": 9900, "brand-b": 8000}
SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass
class Order:
    id: int
    buyer: str
    merchant: str
    captured: int
    status: str = "paid"
    refunded: int = 0
    released: bool = False
    delivered_at: datetime | None = None
    asked: dict[int, int] = field(default_factory=dict)  # open refund requests: id -> amount
    fee: int = 0  # an instalment plan's fee (0 for a card payment)
    plan_id: int | None = None
    owed: int = 0  # what the plan still asks of the shopper

    @property
    def cost_to_shopper(self) -> int:
        """What the order costs its buyer now: paid minus refunded, plus the plan's fee minus its refunded share."""
        fee_kept = self.fee - self.fee * self.refunded // self.captured
        return self.captured - self.refunded + fee_kept

    @property
    def held(self) -> int:
        return 0 if self.released else self.captured - self.refunded

    @property
    def refundable(self) -> int:
        return self.captured - self.refunded


class LedgerMachine(RuleBasedStateMachine):
    orders = Bundle("orders")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.folder = Path(tempfile.mkdtemp(prefix="unichannel-ledger-"))
        self.context = None
        self.model: dict[int, Order] = {}
        self.settled_days: set = set()

    def run(self, coroutine):  # noqa: ANN001, ANN201
        return self.loop.run_until_complete(coroutine)

    @initialize()
    def open_the_shop(self) -> None:
        path = self.folder / "unichannel.db"
        shutil.copy(TEMPLATE["path"], path)
        settings_ = Settings(database_url=f"sqlite+aiosqlite:///{path}", public_base_url="https://shop.example")
        clock = FixedClock(OPENING)
        gateway = SimulatedGateway(clock=clock)
        app = create_app(settings_, clock=clock, gateway=gateway, run_background_tasks=False)
        self.context = app.router.lifespan_context(app)
        self.run(self.context.__aenter__())
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
        self.env = Env(app, client, clock, gateway, settings_)
        self.world = self.run(build_world(self.env, warehouse_units=500))
        # brand-b is an overseas brand paid out in US dollars: its releases and refunds convert.
        self.run(self._sql("UPDATE merchants SET currency = 'USD', kind = 'overseas_brand' WHERE id = :id",
                           id=self.world.ids["brand_b"]))
        self.run(self._receive(self.world.ids["tee_b"], self.world.ids["WH"], 500))

    def teardown(self) -> None:
        if self.context is not None:
            self.run(self.env.client.aclose())
            self.run(self.context.__aexit__(None, None, None))
        self.loop.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    async def _receive(self, variant_id: int, location_id: int, units: int) -> None:
        async with self.env.uow() as uow:
            await inventory.receive(uow, None, variant_id, location_id, units, "PO-MODEL")

    async def _sql(self, statement: str, **params) -> None:
        async with self.env.uow() as uow:
            await uow.conn.execute(text(statement), params)

    def call(self, method: str, path: str, who: str, **kwargs) -> httpx.Response:
        return self.run(self.env.client.request(method, f"/api/v1{path}", headers=self.world.auth(who), **kwargs))

    def transfers(self) -> int:
        async def count() -> int:
            async with self.env.uow(read_only=True) as uow:
                return (await uow.conn.execute(select(func.count()).select_from(ledger_transfers))).scalar_one()
        return self.run(count())

    def total_of(self, subtotal: int) -> int:
        """Goods delivered home: the delivery fee is paid too, unless the subtotal reaches the free threshold."""
        terms = self.env.settings
        return subtotal + (0 if subtotal >= terms.home_delivery_free_over_minor else terms.home_delivery_fee_minor)

    # --- rules ---------------------------------------------------------------------------------------------

    @rule(target=orders, buyer=st.sampled_from(["alice", "bob"]), merchant=st.sampled_from(["brand-a", "brand-b"]),
          quantity=st.integers(1, 3))
    def pay(self, buyer: str, merchant: str, quantity: int) -> int:
        added = self.call("POST", "/cart/lines", buyer, json={"sku": "TEE-M", "merchant": merchant,
                                                              "quantity": quantity})
        assert added.status_code == 201, added.text
        placed = self.call("POST", "/orders", buyer, json={"delivery": HOME})
        assert placed.status_code == 201, placed.text
        order_id = placed.json()["orders"][0]["id"]
        paid = self.call("POST", f"/orders/{order_id}/pay", buyer, json={})
        assert paid.status_code == 200, paid.text
        self.model[order_id] = Order(order_id, buyer, merchant, self.total_of(PRICES[merchant] * quantity))
        return order_id

    @rule(target=orders, buyer=st.sampled_from(["alice", "bob"]), merchant=st.sampled_from(["brand-a", "brand-b"]),
          months=st.sampled_from([3, 6, 12]))
    def pay_in_instalments(self, buyer: str, merchant: str, months: int) -> int:
        added = self.call("POST", "/cart/lines", buyer, json={"sku": "TEE-M", "merchant": merchant, "quantity": 1})
        assert added.status_code == 201, added.text
        placed = self.call("POST", "/orders", buyer, json={"delivery": HOME})
        order_id = placed.json()["orders"][0]["id"]
        paid = self.call("POST", f"/orders/{order_id}/pay", buyer, json={"method": "instalments", "months": months})
        assert paid.status_code == 200, paid.text
        plan = next(p for p in self.call("GET", "/instalment-plans", buyer).json() if p["order_id"] == order_id)
        total = self.total_of(PRICES[merchant])
        fee = total * int(self.env.settings.instalment_fee_basis_points[str(months)]) // 10_000
        assert plan["fee"]["amount_minor"] == fee and plan["owed"]["amount_minor"] == total + fee
        self.model[order_id] = Order(order_id, buyer, merchant, total, fee=fee, plan_id=plan["id"],
                                     owed=total + fee)
        return order_id

    @rule(order=orders, early=st.booleans())
    def repay_instalments(self, order: int, early: bool) -> None:
        expected = self.model[order]
        if expected.plan_id is None:
            return
        repaid = self.call("POST", f"/instalment-plans/{expected.plan_id}/payments", expected.buyer,
                           json={"early": early})
        if expected.owed == 0:
            assert repaid.status_code == 409 and repaid.json()["code"] == "illegal_transition"
            return
        assert repaid.status_code == 201, repaid.text
        owed = repaid.json()["owed"]["amount_minor"]
        assert (owed == 0) if early else (0 <= owed < expected.owed)
        expected.owed = owed

    def _refunded(self, expected: Order, amount: int) -> None:
        """The reference's view of a refund: an instalment order's refund (and its fee share) pays the debt first."""
        if expected.plan_id is not None:
            fee_back = (expected.fee * (expected.refunded + amount) // expected.captured
                        - expected.fee * expected.refunded // expected.captured)
            expected.owed -= min(expected.owed, amount + fee_back)
        expected.refunded += amount

    @rule(order=orders)
    def pay_again(self, order: int) -> None:
        before = self.transfers()
        again = self.call("POST", f"/orders/{order}/pay", self.model[order].buyer, json={})
        assert again.status_code == 409 and again.json()["code"] == "illegal_transition"
        assert self.transfers() == before  # never a second capture

    @rule(order=orders)
    def deliver(self, order: int) -> None:
        expected = self.model[order]
        staff = "staff_a" if expected.merchant == "brand-a" else "staff_b"
        for step in ("allocated", "shipped", "delivered"):
            moved = self.call("POST", f"/orders/{order}/transitions", staff, json={"to": step})
            if expected.status != "paid":
                assert moved.status_code == 409
                return
            assert moved.status_code == 200, moved.text
        expected.status, expected.delivered_at = "delivered", self.env.clock.now()

    @rule(order=orders)
    def confirm_receipt(self, order: int) -> None:
        expected = self.model[order]
        confirmed = self.call("POST", f"/orders/{order}/transitions", expected.buyer, json={"to": "completed"})
        if expected.status != "delivered":
            assert confirmed.status_code == 409
            return
        assert confirmed.status_code == 200, confirmed.text
        expected.status, expected.released = "completed", True

    @rule(days=st.integers(1, 12))
    def time_passes_and_receipt_is_confirmed_automatically(self, days: int) -> None:
        self.env.clock.advance(days=days)
        due = self.env.clock.now() - timedelta(days=self.env.settings.auto_confirm_days)
        expected = sorted(o.id for o in self.model.values()
                          if o.status == "delivered" and o.delivered_at <= due and not o.asked)

        async def sweep() -> list[int]:
            async with self.env.uow() as uow:
                return await orders_service.confirm_delivered_orders(uow)
        assert self.run(sweep()) == expected
        for order_id in expected:
            self.model[order_id].status, self.model[order_id].released = "completed", True

        async def mark() -> list[int]:
            async with self.env.uow() as uow:
                return await instalments.mark_overdue(uow)
        self.run(mark())
        for plan in self.call("GET", "/instalment-plans", "operator").json():
            late = any(i["is_late"] for i in plan["instalments"])
            assert plan["status"] == ("overdue" if late else "paid_off" if plan["owed"]["amount_minor"] == 0
                                      else "active"), plan

    @rule(order=orders, share=st.integers(1, 100))
    def shopper_asks_for_a_refund(self, order: int, share: int) -> None:
        expected = self.model[order]
        amount = max(1, expected.captured * share // 100)
        asked = self.call("POST", f"/orders/{order}/refunds", expected.buyer, json={"amount_minor": amount})
        if amount > expected.refundable - sum(expected.asked.values()):
            assert asked.status_code == 409 and asked.json()["code"] == "refund_exceeds_captured"
            return
        assert asked.status_code == 201, asked.text
        expected.asked[asked.json()["id"]] = amount

    @rule(order=orders, approve=st.booleans())
    def merchant_decides_the_oldest_request(self, order: int, approve: bool) -> None:
        expected = self.model[order]
        if not expected.asked:
            return
        refund_id = min(expected.asked)
        amount = expected.asked.pop(refund_id)
        staff = "staff_a" if expected.merchant == "brand-a" else "staff_b"
        decided = self.call("POST", f"/orders/{order}/refunds/{refund_id}/{'approve' if approve else 'reject'}", staff)
        if approve and amount > expected.refundable:  # a later refund took the money first
            assert decided.status_code == 409 and decided.json()["code"] == "refund_exceeds_captured"
            expected.asked[refund_id] = amount  # still open
            return
        assert decided.status_code == 200, decided.text
        if approve:
            self._refunded(expected, amount)

    @rule(order=orders, share=st.integers(1, 120), who=st.sampled_from(["operator", "merchant"]))
    def refund_at_once(self, order: int, share: int, who: str) -> None:
        expected = self.model[order]
        amount = max(1, expected.captured * share // 100)
        staff = who if who == "operator" else ("staff_a" if expected.merchant == "brand-a" else "staff_b")
        before = self.transfers()
        refunded = self.call("POST", f"/orders/{order}/refunds", staff, json={"amount_minor": amount})
        if amount > expected.refundable:
            assert refunded.status_code == 409 and refunded.json()["code"] == "refund_exceeds_captured"
            assert self.transfers() == before
            return
        assert refunded.status_code == 201, refunded.text
        self._refunded(expected, amount)

    @rule(order=orders)
    def shopper_cancels(self, order: int) -> None:
        expected = self.model[order]
        cancelled = self.call("POST", f"/orders/{order}/cancel", expected.buyer, json={})
        if expected.status != "paid":
            assert cancelled.status_code == 409
            return
        assert cancelled.status_code == 200, cancelled.text
        expected.status = "cancelled"
        self._refunded(expected, expected.refundable)

    @rule()
    def settle_yesterday_twice(self) -> None:
        self.env.clock.advance(days=1)
        day = (self.env.clock.now().astimezone(SHANGHAI) - timedelta(days=1)).date()
        first = self.call("POST", f"/settlements/{day}", "operator")
        assert first.status_code == 200, first.text
        transfers = self.transfers()
        second = self.call("POST", f"/settlements/{day}", "operator")
        assert second.json() == first.json() and self.transfers() == transfers  # idempotent
        assert all(line["payout"]["amount_minor"] >= 0 for line in first.json())

    # --- invariants ----------------------------------------------------------------------------------------

    @invariant()
    def the_ledger_checks_clean_and_matches_the_reference(self) -> None:
        if self.context is None:
            return
        assert self.run(run_checks(self.env.app.state.engine)).violations == []
        accounts = self.call("GET", "/ledger/accounts", "operator").json()
        balance = {(a["kind"], a["owner_id"], a["balance"]["currency"]): a["balance"]["amount_minor"] for a in accounts}
        assert balance.get(("escrow", 0, "CNY"), 0) == sum(o.held for o in self.model.values())
        for buyer in ("alice", "bob"):
            cost = sum(o.cost_to_shopper for o in self.model.values() if o.buyer == buyer)
            customer = self.world.ids[buyer]
            position = (balance.get(("shopper_funding", customer, "CNY"), 0)
                        + balance.get(("instalment_receivable", customer, "CNY"), 0))
            assert position == -cost  # what they paid in plus what they owe is exactly what their orders cost
            owed = sum(o.owed for o in self.model.values() if o.buyer == buyer)
            assert balance.get(("instalment_receivable", customer, "CNY"), 0) == -owed
        for currency in {a["balance"]["currency"] for a in accounts}:
            assert sum(v for (_, _, c), v in balance.items() if c == currency) == 0


TEMPLATE: dict[str, Path] = {}


@pytest.fixture
def template(sqlite_template: Path) -> Path:
    TEMPLATE["path"] = sqlite_template
    return sqlite_template


def test_money_is_never_created_lost_or_counted_twice(template):
    LedgerMachine.TestCase.settings = settings(
        max_examples=20, stateful_step_count=25, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    LedgerMachine.TestCase().runTest()
