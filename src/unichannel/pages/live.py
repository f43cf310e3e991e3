"""Live updates for the pages: every published event is fanned out to the browsers listening.

Each listener has a small queue of its own; a listener that falls behind loses its oldest events (the pages redraw
from the database on each event, so a lost event only means one redraw fewer). Events come from the relay's bus in
one process (SQLite) or from the broadcast every server process receives (PostgreSQL: `events.BroadcastFeed`), so a
page sees an order placed through any process.

Many viewers of one page get the same redraw for an event: `shared` renders it once and hands it to all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable

from unichannel.events import Event

QUEUE_SIZE = 256
# What the live pages follow, so what the relay broadcasts to every process (a flash sale's batch events are not).
LIVE_TOPICS = ("stock.changed", "order.paid", "order.cancelled", "cart.changed")
SHARED_RENDERS = 512  # recent renders kept for viewers still catching up on the same event


class LiveHub:
    def __init__(self) -> None:
        self._listeners: set[tuple[asyncio.Queue[Event], Callable[[Event], bool]]] = set()
        self._renders: OrderedDict[Hashable, asyncio.Future[str]] = OrderedDict()
        self.renders_made = 0  # how many redraws were actually made (the rest were shared)

    @property
    def listeners(self) -> int:
        return len(self._listeners)

    async def deliver(self, event: Event) -> None:
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

    async def shared(self, key: Hashable, render: Callable[[], Awaitable[str]]) -> str:
        """`render()`'s result for `key` (say: this product, this language, this event), made once for every viewer
        asking for the same key. The render runs on its own, so a viewer leaving does not cancel it for the others;
        a render that failed is forgotten, so the next viewer tries again."""
        task = self._renders.get(key)
        if task is None:
            task = asyncio.ensure_future(render())
            self._renders[key] = task
            self.renders_made += 1
            task.add_done_callback(lambda done: self._forget_failed(key, done))
            while len(self._renders) > SHARED_RENDERS:
                self._renders.popitem(last=False)
        return await asyncio.shield(task)

    def _forget_failed(self, key: Hashable, task: asyncio.Future[str]) -> None:
        if (task.cancelled() or task.exception() is not None) and self._renders.get(key) is task:
            del self._renders[key]
