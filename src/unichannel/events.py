"""The transactional outbox: events are written in the same transaction as the change, published after commit.

A relay task reads unpublished rows in id order, hands them to in-process subscribers and marks them published.
Delivery is at-least-once: a subscriber may see an event twice after a crash, never an event of a rolled-back change.

With several server processes on PostgreSQL each relay claims a share of the rows, so each process's bus sees only
the events it claimed. What every process must see (the live pages) is broadcast: the relay's transaction also sends
the events it publishes with NOTIFY, delivered to every process's `BroadcastFeed` only if that transaction commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Column, Index, String, Table, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from unichannel.clock import Clock
from unichannel.db import Id, Json, UTCDateTime, insert_rows, metadata

log = logging.getLogger(__name__)

outbox_events = Table(
    "outbox_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("topic", String(64), nullable=False),
    Column("aggregate_type", String(32), nullable=False),
    Column("aggregate_id", String(64), nullable=False),
    Column("payload", Json, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("published_at", UTCDateTime, nullable=True),
    Index("ix_outbox_events_unpublished", "id", postgresql_where="published_at IS NULL"),
)


@dataclass(frozen=True, slots=True)
class Event:
    topic: str
    aggregate_type: str
    aggregate_id: str
    payload: dict[str, Any]
    id: int | None = None
    created_at: datetime | None = None


Subscriber = Callable[[Event], Awaitable[None]]


class EventBus:
    """In-process subscribers by topic prefix ('' receives everything)."""

    def __init__(self) -> None:
        self._subscribers: list[tuple[str, Subscriber]] = []

    def subscribe(self, prefix: str, subscriber: Subscriber) -> None:
        self._subscribers.append((prefix, subscriber))

    async def publish(self, event: Event) -> None:
        for prefix, subscriber in self._subscribers:
            if event.topic.startswith(prefix):
                try:
                    await subscriber(event)
                except Exception:  # one broken subscriber must not stop the others or the relay
                    log.exception("subscriber failed on %s", event.topic)


async def write_events(conn: AsyncConnection, events: list[Event], now: datetime) -> None:
    """Insert events into the outbox inside the caller's transaction."""
    rows = [
        {"topic": e.topic, "aggregate_type": e.aggregate_type, "aggregate_id": e.aggregate_id, "payload": e.payload,
         "created_at": now}
        for e in events
    ]
    await insert_rows(conn, outbox_events, rows)


BROADCAST_CHANNEL = "unichannel_events"
NOTIFY_LIMIT = 7900  # bytes per NOTIFY payload (PostgreSQL's limit is 8000)


def _broadcast_form(event: Event) -> dict[str, Any]:
    created_at = event.created_at.isoformat() if event.created_at else None
    return {"id": event.id, "topic": event.topic, "aggregate_type": event.aggregate_type,
            "aggregate_id": event.aggregate_id, "payload": event.payload, "created_at": created_at}


def broadcast_payloads(events: list[Event], limit: int = NOTIFY_LIMIT) -> Iterator[bytes]:
    """The events as JSON arrays of at most `limit` bytes each; an event too big for one alone is sent by its id only
    (the receiver reads it from the outbox)."""
    chunk: list[bytes] = []
    size = 2
    for event in events:
        item = orjson.dumps(_broadcast_form(event))
        if len(item) + 2 > limit:
            item = orjson.dumps({"id": event.id})
        if chunk and size + len(item) + 1 > limit:
            yield b"[" + b",".join(chunk) + b"]"
            chunk, size = [], 2
        chunk.append(item)
        size += len(item) + 1
    if chunk:
        yield b"[" + b",".join(chunk) + b"]"


class OutboxRelay:
    """Publishes committed outbox rows to the bus; woken after each commit, and polling as a safety net. On
    PostgreSQL it also broadcasts them to every server process (NOTIFY), in the transaction that marks them
    published."""

    def __init__(self, engine: AsyncEngine, bus: EventBus, clock: Clock, *, poll_seconds: float = 1.0,
                 gather_seconds: float = 0.05, batch_size: int = 500, broadcast: tuple[str, ...] = ("",)) -> None:
        """`gather_seconds`: how long a woken relay lets further commits arrive before it publishes them all in one
        pass (under load, one pass per this interval instead of one per commit).
        `broadcast`: the topic prefixes every process must see ('' for all; none on SQLite, one process)."""
        self._engine = engine
        self._bus = bus
        self._clock = clock
        self._poll_seconds = poll_seconds
        self._gather_seconds = gather_seconds
        self._batch_size = batch_size
        pending = select(outbox_events).where(outbox_events.c.published_at.is_(None)).order_by(outbox_events.c.id)
        if engine.dialect.name == "postgresql":  # relays of several processes share the rows out
            pending = pending.with_for_update(skip_locked=True)
        self._pending = pending
        self._broadcast = broadcast if engine.dialect.name == "postgresql" else ()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    async def publish_pending(self, batch_size: int | None = None) -> int:
        """Publish one batch of unpublished events; returns how many."""
        async with self._engine.begin() as conn:
            query = self._pending.limit(batch_size or self._batch_size)
            events = [_event_of(row) for row in (await conn.execute(query)).mappings().all()]
            for event in events:
                await self._bus.publish(event)
            if events:
                await conn.execute(
                    update(outbox_events)
                    .where(outbox_events.c.id.in_([e.id for e in events]))
                    .values(published_at=self._clock.now())
                )
                broadcast = [e for e in events if e.topic.startswith(self._broadcast)] if self._broadcast else []
                if broadcast:
                    await self._notify(conn, broadcast)
            return len(events)

    async def _notify(self, conn: AsyncConnection, events: list[Event]) -> None:
        """Sends the events to every process when this transaction commits. In a savepoint of its own: a broadcast
        that fails (live pages miss a redraw) must never stop the events being published."""
        try:
            async with conn.begin_nested():
                for payload in broadcast_payloads(events):
                    await conn.execute(text("SELECT pg_notify(:channel, :payload)"),
                                       {"channel": BROADCAST_CHANNEL, "payload": payload.decode()})
        except Exception:
            log.exception("broadcasting %d events failed; they are published in this process only", len(events))

    async def run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll_seconds)
            except TimeoutError:
                pass
            if self._wake.is_set() and self._gather_seconds > 0:
                await asyncio.sleep(self._gather_seconds)
            self._wake.clear()  # a commit from now on wakes the relay again
            try:
                while await self.publish_pending() == self._batch_size:  # a full batch: more may be waiting
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay failed; retrying")

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass


def _event_of(row: Any) -> Event:
    return Event(topic=row["topic"], aggregate_type=row["aggregate_type"], aggregate_id=row["aggregate_id"],
                 payload=row["payload"], id=row["id"], created_at=row["created_at"])


class BroadcastFeed:
    """Receives the events every relay broadcasts (this process's own included) on a connection of its own that
    LISTENs, and hands each to `deliver`. PostgreSQL only.

    A lost connection (a database restart) is opened again after a pause; events broadcast meanwhile are not
    replayed: the feed is for what is happening now (the live pages redraw from the database on the next event).
    """

    PING_SECONDS = 30.0
    BACKLOG = 10_000  # broadcasts received and not yet handed on; past it the oldest are dropped

    def __init__(self, engine: AsyncEngine, deliver: Callable[[Event], Awaitable[None]], *,
                 retry_seconds: float = 1.0) -> None:
        self._engine = engine
        self._deliver = deliver
        self._retry_seconds = retry_seconds
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()  # set while the LISTEN is in place (tests wait on it)

    async def _connect(self) -> Any:
        import asyncpg  # noqa: PLC0415 - only on PostgreSQL

        args, params = self._engine.dialect.create_connect_args(self._engine.url)
        params = {k: v for k, v in params.items() if k in ("host", "port", "user", "password", "database", "ssl")}
        return await asyncpg.connect(*args, **params, timeout=10)

    async def _received(self, payload: str) -> None:
        try:
            items = orjson.loads(payload)
            if not isinstance(items, list) or not all(isinstance(i, dict) and "id" in i for i in items):
                raise ValueError("not a list of events")
        except ValueError:  # (orjson's decode error is one) someone else's NOTIFY on our channel: not ours to read
            log.warning("ignored a broadcast that is not a list of events: %.80s", payload)
            return
        for item in items:
            if "topic" not in item:  # too big to broadcast: read it from the outbox
                async with self._engine.connect() as conn:
                    row = (await conn.execute(select(outbox_events).where(outbox_events.c.id == item["id"]))
                           ).mappings().first()
                if row is None:
                    continue
                event = _event_of(row)
            else:
                created_at = datetime.fromisoformat(item["created_at"]) if item["created_at"] else None
                event = Event(item["topic"], item["aggregate_type"], item["aggregate_id"], item["payload"],
                              id=item["id"], created_at=created_at)
            try:
                await self._deliver(event)
            except Exception:
                log.exception("broadcast receiver failed on %s", event.topic)

    async def run(self) -> None:
        while True:
            connection = None
            try:
                connection = await self._connect()
                received: asyncio.Queue[str | None] = asyncio.Queue()  # None: the connection is gone

                def keep(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
                    if received.qsize() >= self.BACKLOG:  # far behind: the oldest news is the least worth having
                        with contextlib.suppress(asyncio.QueueEmpty):
                            received.get_nowait()
                    received.put_nowait(payload)

                connection.add_termination_listener(lambda _conn: received.put_nowait(None))
                await connection.add_listener(BROADCAST_CHANNEL, keep)
                self.listening.set()
                while True:
                    try:
                        payload = await asyncio.wait_for(received.get(), self.PING_SECONDS)
                    except TimeoutError:  # quiet: make sure the connection is still there
                        await connection.execute("SELECT 1", timeout=10)
                        continue
                    if payload is None:
                        break
                    await self._received(payload)
                log.warning("the event broadcast connection was lost; listening again")
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("the event broadcast connection failed; retrying")
            finally:
                self.listening.clear()
                if connection is not None and not connection.is_closed():
                    with contextlib.suppress(Exception):
                        await connection.close(timeout=2)
            await asyncio.sleep(self._retry_seconds)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="event-broadcast")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
