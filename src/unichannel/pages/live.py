"""Live updates for the pages: every event the outbox relay publishes is fanned out to the browsers listening.

Each listener has a small queue of its own; a listener that falls behind loses its oldest events (the pages redraw
from the database on each event, so a lost event only means one redraw fewer). On several server processes each
process's relay publishes the events it claims, so a page sees the events its own process relays (one process in
the demo).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from unichannel.events import Event, EventBus

QUEUE_SIZE = 256


class LiveHub:
    def __init__(self, bus: EventBus) -> None:
        self._listeners: set[tuple[asyncio.Queue[Event], Callable[[Event], bool]]] = set()
        bus.subscribe("", self._fan_out)

    @property
    def listeners(self) -> int:
        return len(self._listeners)

    async def _fan_out(self, event: Event) -> None:
        for queue, wanted in list(self._listeners):
            if not wanted(event):
                continue
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(event)

    async def listen(self, wanted: Callable[[Event], bool], *, heartbeat_seconds: float = 15.0
                     ) -> AsyncIterator[Event | None]:
        """The events `wanted` accepts, as they come; None every `heartbeat_seconds` without one (keeps proxies from
        closing an idle stream). Stops when the consumer stops iterating."""
        queue: asyncio.Queue[Event] = asyncio.Queue(QUEUE_SIZE)
        entry = (queue, wanted)
        self._listeners.add(entry)
        try:
            while True:
                try:
                    yield await asyncio.wait_for(queue.get(), heartbeat_seconds)
                except TimeoutError:
                    yield None
        finally:
            self._listeners.discard(entry)
