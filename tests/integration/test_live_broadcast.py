"""Live pages across server processes, on PostgreSQL: the relay that publishes an event (in whichever process claimed
it) broadcasts it with NOTIFY, and every process's feed hands it to its pages; a lost feed connection listens again.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import text

from tests.integration.server import running_server
from tests.integration.world import build_world
from unichannel.clock import FixedClock
from unichannel.db import create_engine
from unichannel import events as events_module
from unichannel.app import create_app
from unichannel.bench.live_pages import sse_events
from unichannel.events import BROADCAST_CHANNEL, BroadcastFeed, Event, EventBus, OutboxRelay, write_events
from unichannel.pages.live import LIVE_TOPICS
from unichannel.settings import Settings
from unichannel.uow import UnitOfWorkFactory

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 11, 11, 0, 0, 1, tzinfo=UTC)


class Received:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self._arrived = asyncio.Condition()

    async def deliver(self, event: Event) -> None:
        async with self._arrived:
            self.events.append(event)
            self._arrived.notify_all()

    async def until(self, count: int, seconds: float = 15.0) -> list[Event]:
        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: len(self.events) >= count), seconds)
        return self.events


async def _write(engine, events: list[Event]) -> None:  # noqa: ANN001
    async with engine.begin() as conn:
        await write_events(conn, events, NOW)


async def test_every_process_feed_receives_what_one_relay_publishes(postgres_only_url: str) -> None:
    settings = Settings(database_url=postgres_only_url)
    relay_engine, engine_a, engine_b = (create_engine(settings) for _ in range(3))
    received_a, received_b, on_relay_bus = Received(), Received(), Received()
    bus = EventBus()
    bus.subscribe("", on_relay_bus.deliver)
    relay = OutboxRelay(relay_engine, bus, FixedClock(NOW))
    feeds = [BroadcastFeed(engine_a, received_a.deliver), BroadcastFeed(engine_b, received_b.deliver)]
    try:
        for feed in feeds:
            feed.start()
        await asyncio.wait_for(asyncio.gather(*(f.listening.wait() for f in feeds)), 15)
        big = {"lines": [{"sku": f"SKU-{n}", "note": "x" * 100} for n in range(120)]}  # > 8,000 bytes
        await _write(relay_engine, [Event("stock.changed", "stock", "1", {"variant_id": 1, "available": 3}),
                                    Event("order.placed", "order", "7", big),
                                    Event("order.paid", "order", "7", {"total_minor": 9900})])
        assert await relay.publish_pending() == 3
        for received in (received_a, received_b):
            events = await received.until(3)
            assert [(e.topic, e.aggregate_id) for e in events] == [
                ("stock.changed", "1"), ("order.placed", "7"), ("order.paid", "7")]
            assert events[0].payload == {"variant_id": 1, "available": 3} and events[0].created_at == NOW
            assert events[1].payload == big  # too big for NOTIFY: read back from the outbox by its id
            assert [e.id for e in events] == [e.id for e in on_relay_bus.events]
        assert await relay.publish_pending() == 0
        await asyncio.sleep(0.2)
        assert len(received_a.events) == 3 and len(received_b.events) == 3  # published once, received once

        # A write whose transaction rolls back is never published, so never broadcast.
        async with relay_engine.connect() as conn:
            async with conn.begin() as tx:
                await write_events(conn, [Event("order.paid", "order", "8", {})], NOW)
                await tx.rollback()
        assert await relay.publish_pending() == 0
    finally:
        for feed in feeds:
            await feed.stop()
        for engine in (relay_engine, engine_a, engine_b):
            await engine.dispose()


async def test_only_the_topics_live_pages_follow_are_broadcast(postgres_only_url: str) -> None:
    settings = Settings(database_url=postgres_only_url)
    engine = create_engine(settings)
    received, on_bus = Received(), Received()
    bus = EventBus()
    bus.subscribe("", on_bus.deliver)
    relay = OutboxRelay(engine, bus, FixedClock(NOW), broadcast=LIVE_TOPICS)
    feed = BroadcastFeed(engine, received.deliver)
    try:
        feed.start()
        await asyncio.wait_for(feed.listening.wait(), 15)
        await _write(engine, [Event("flash_sale.orders_placed", "flash_sale", "1", {"orders": []}),
                              Event("order.placed", "order", "5", {}),
                              Event("order.paid", "order", "5", {"total_minor": 100}),
                              Event("stock.changed", "stock", "1", {"variant_id": 1})])
        assert await relay.publish_pending() == 4
        assert [e.topic for e in await received.until(2)] == ["order.paid", "stock.changed"]
        await asyncio.sleep(0.2)
        assert len(received.events) == 2 and len(on_bus.events) == 4  # this process's own bus still gets all
    finally:
        await feed.stop()
        await engine.dispose()


async def test_a_stranger_on_the_channel_is_ignored_and_a_failed_broadcast_never_stops_publishing(
        postgres_only_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(database_url=postgres_only_url)
    engine = create_engine(settings)
    received, on_bus = Received(), Received()
    bus = EventBus()
    bus.subscribe("", on_bus.deliver)
    relay = OutboxRelay(engine, bus, FixedClock(NOW))
    feed = BroadcastFeed(engine, received.deliver)
    try:
        feed.start()
        await asyncio.wait_for(feed.listening.wait(), 15)
        async with engine.begin() as conn:
            for stranger in ("hello", "[1, 2]", '{"id": 1}'):
                await conn.execute(text("SELECT pg_notify(:c, :p)"), {"c": BROADCAST_CHANNEL, "p": stranger})
        await _write(engine, [Event("stock.changed", "stock", "3", {"variant_id": 3})])
        assert await relay.publish_pending() == 1
        [event] = await received.until(1)  # still listening, on the same connection
        assert event.payload == {"variant_id": 3} and feed.listening.is_set()

        def broken(events, limit=0):  # noqa: ANN001, ANN202
            raise RuntimeError("the broadcast could not be encoded")

        monkeypatch.setattr(events_module, "broadcast_payloads", broken)
        await _write(engine, [Event("stock.changed", "stock", "4", {"variant_id": 4})])
        assert await relay.publish_pending() == 1  # published (and marked so) all the same
        assert await relay.publish_pending() == 0
        assert [e.payload["variant_id"] for e in on_bus.events] == [3, 4]
        await asyncio.sleep(0.2)
        assert len(received.events) == 1  # the broken broadcast never went out
    finally:
        await feed.stop()
        await engine.dispose()


async def test_with_broadcast_off_a_single_process_pages_follow_its_own_relay(postgres_only_url: str) -> None:
    settings = Settings(database_url=postgres_only_url, live_broadcast=False)
    app = create_app(settings, clock=FixedClock(NOW), run_background_tasks=False)
    async with app.router.lifespan_context(app):
        assert app.state.broadcast is None
        stream = app.state.live.listen(lambda e: True, heartbeat_seconds=5)
        first = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0)
        await _write(app.state.engine, [Event("stock.changed", "stock", "5", {"variant_id": 5})])
        assert await app.state.relay.publish_pending() == 1
        event = await asyncio.wait_for(first, 5)
        assert event.payload == {"variant_id": 5}
        await stream.aclose()


async def test_a_feed_whose_connection_is_killed_listens_again(postgres_only_url: str) -> None:
    settings = Settings(database_url=postgres_only_url)
    engine = create_engine(settings)
    received = Received()
    relay = OutboxRelay(engine, EventBus(), FixedClock(NOW))
    feed = BroadcastFeed(engine, received.deliver, retry_seconds=0.1)
    try:
        feed.start()
        await asyncio.wait_for(feed.listening.wait(), 15)
        async with engine.begin() as conn:  # what a database restart does to the feed's connection
            killed = (await conn.execute(text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND query LIKE 'LISTEN%'"))).scalar_one()
        assert killed == 1
        await asyncio.sleep(0.3)
        await asyncio.wait_for(feed.listening.wait(), 15)
        await _write(engine, [Event("stock.changed", "stock", "2", {"variant_id": 2})])
        assert await relay.publish_pending() == 1
        [event] = await received.until(1)
        assert event.payload == {"variant_id": 2}
    finally:
        await feed.stop()
        await engine.dispose()


def test_a_product_page_on_one_server_sees_stock_sold_through_another(postgres_only_url: str) -> None:
    settings = Settings(database_url=postgres_only_url)

    async def seed():  # noqa: ANN202
        factory = UnitOfWorkFactory(create_engine(settings), FixedClock(datetime.now(UTC)), settings)
        try:
            return await build_world(type("Env", (), {"uow": factory})(), warehouse_units=10, store_units=2)
        finally:
            await factory.engine.dispose()

    world = asyncio.run(seed())
    with running_server(postgres_only_url, workers=1) as page_server, \
            running_server(postgres_only_url, workers=1) as api_server:

        async def scenario() -> str:
            async with httpx.AsyncClient(timeout=20) as client:
                async with client.stream(
                        "GET", f"{page_server}/live/products/{world.ids['tee_product']}?lang=en") as stream:
                    assert stream.status_code == 200
                    await asyncio.sleep(0.5)  # the stream's listener is in place once its headers are out
                    adjusted = await client.post(
                        f"{api_server}/api/v1/stock/adjust", headers=world.auth("operator"),
                        json={"variant_id": world.ids["tee"], "location_id": world.ids["WH"], "delta": -7,
                              "reason": "counted"})
                    assert adjusted.status_code == 200, adjusted.text
                    return await asyncio.wait_for(anext(sse_events(stream, "availability")), 20)

        html = asyncio.run(scenario())
    assert "3 left at Wh" in html and "2 left at Store-1" in html
    assert "10 left at" not in html
