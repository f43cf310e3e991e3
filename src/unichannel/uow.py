"""The unit of work: the one place that commits.

Services receive a UnitOfWork, run their SQL on `uow.conn`, record events with `uow.emit`; they never commit.
On a clean exit the events are written to the outbox and the transaction commits; on an exception it rolls back and
the events vanish with it. The relay is woken only after the commit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from unichannel.clock import Clock
from unichannel.db import READ_ONLY_OPTION
from unichannel.events import Event, write_events
from unichannel.settings import Settings


@dataclass
class UnitOfWork:
    engine: AsyncEngine
    clock: Clock
    settings: Settings
    after_commit: Callable[[], None] | None = None
    read_only: bool = False  # promises no writes: on SQLite it reads a snapshot instead of queueing for the lock
    events: list[Event] = field(default_factory=list)
    held: AsyncConnection | None = None  # a connection the caller holds (and closes) instead of one from the pool
    _conn: AsyncConnection | None = None
    _wrote_outbox_directly: bool = False

    @property
    def conn(self) -> AsyncConnection:
        if self._conn is None:
            raise RuntimeError("the unit of work is not open; use `async with uow:`")
        return self._conn

    def now(self) -> datetime:
        return self.clock.now()

    def emit(self, topic: str, aggregate_type: str, aggregate_id: object, payload: dict[str, Any]) -> None:
        self.events.append(Event(topic, aggregate_type, str(aggregate_id), payload))

    def outbox_written(self) -> None:
        """A bulk writer put events in the outbox itself (in this transaction): wake the relay after commit."""
        self._wrote_outbox_directly = True

    async def __aenter__(self) -> UnitOfWork:
        self.events = []
        self._wrote_outbox_directly = False
        self._conn = self.held if self.held is not None else await self.engine.connect()
        if self.read_only:
            await self._conn.execution_options(**{READ_ONLY_OPTION: True})
        await self._conn.begin()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        conn, self._conn = self._conn, None
        assert conn is not None
        committed = False
        try:
            if exc_type is None:
                if self.read_only and self.events:
                    raise RuntimeError("a read-only unit of work emitted events")
                await write_events(conn, self.events, self.clock.now())
                await conn.commit()
                committed = True
            else:
                await conn.rollback()
        finally:
            if self.held is None:
                await conn.close()
        if committed and (self.events or self._wrote_outbox_directly) and self.after_commit is not None:
            self.after_commit()


class UnitOfWorkFactory:
    """Builds units of work that share an engine, clock and settings; wired once at start-up."""

    def __init__(self, engine: AsyncEngine, clock: Clock, settings: Settings) -> None:
        self.engine = engine
        self.clock = clock
        self.settings = settings
        self.after_commit: Callable[[], None] | None = None

    def __call__(self, *, read_only: bool = False, held: AsyncConnection | None = None) -> UnitOfWork:
        """`held`: work on that connection (its holder closes it), e.g. batch after batch without a pool checkout."""
        return UnitOfWork(self.engine, self.clock, self.settings, after_commit=self.after_commit, read_only=read_only,
                          held=held)
