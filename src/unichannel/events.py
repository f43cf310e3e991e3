"""The transactional outbox: events are written in the same transaction as the change, published after commit.

A relay task reads unpublished rows in id order, hands them to in-process subscribers and marks them published.
Delivery is at-least-once: a subscriber may see an event twice after a crash, never an event of a rolled-back change.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, String, Table, select, update
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


class OutboxRelay:
    """Publishes committed outbox rows to the bus; woken after each commit, and polling as a safety net."""

    def __init__(self, engine: AsyncEngine, bus: EventBus, clock: Clock, *, poll_seconds: float = 1.0) -> None:
        self._engine = engine
        self._bus = bus
        self._clock = clock
        self._poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    async def publish_pending(self, batch_size: int = 500) -> int:
        """Publish one batch of unpublished events; returns how many."""
        async with self._engine.begin() as conn:
            query = (
                select(outbox_events)
                .where(outbox_events.c.published_at.is_(None))
                .order_by(outbox_events.c.id)
                .limit(batch_size)
            )
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = (await conn.execute(query)).mappings().all()
            for row in rows:
                await self._bus.publish(
                    Event(
                        topic=row["topic"],
                        aggregate_type=row["aggregate_type"],
                        aggregate_id=row["aggregate_id"],
                        payload=row["payload"],
                        id=row["id"],
                        created_at=row["created_at"],
                    )
                )
            if rows:
                await conn.execute(
                    update(outbox_events)
                    .where(outbox_events.c.id.in_([r["id"] for r in rows]))
                    .values(published_at=self._clock.now())
                )
            return len(rows)

    async def run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll_seconds)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                while await self.publish_pending() > 0:
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
