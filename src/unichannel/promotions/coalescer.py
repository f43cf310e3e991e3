"""Coalesced flash-sale reservations: concurrent requests for the same sale are applied in one transaction.

Each sale has at most one batch in flight per process. While it commits, new requests queue; when it is done, the
whole queue (up to `max_batch`) becomes the next batch. Under load, batches grow by themselves and the hot stock row
is locked once per batch instead of once per buyer; with no load, a lone request is its own batch at once.
No request is answered before its batch has committed; if the batch fails, every request in it gets BatchFailed and
nothing of the batch was written.

On PostgreSQL a batch is one statement sent outside a transaction block (`service.apply_batch_at_once`): it commits
as it returns, so the sale's lock is never held while this process's event loop is busy with other requests. On
SQLite a batch is a unit of work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from unichannel.db import pg_driver_outside_transaction
from unichannel.errors import BatchFailed
from unichannel.promotions import service
from unichannel.promotions.service import FlashRequest, FlashResult
from unichannel.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)


@dataclass(slots=True)
class CoalescerStats:
    batches: int = 0
    requests: int = 0
    failed_batches: int = 0
    largest_batch: int = 0


class FlashSaleCoalescer:
    def __init__(self, uow_factory: UnitOfWorkFactory, *, max_batch: int, coalesce: bool = True) -> None:
        self._uow_factory = uow_factory
        self._max_batch = max_batch
        self._coalesce = coalesce
        self._queues: dict[int, deque[tuple[FlashRequest, asyncio.Future[FlashResult]]]] = {}
        self._drainers: dict[int, asyncio.Task[None]] = {}
        self._at_once = uow_factory.engine.dialect.name == "postgresql"
        self.stats = CoalescerStats()

    async def submit(self, sale_id: int, request: FlashRequest) -> FlashResult:
        """The request's answer, once the batch it joined has committed (or failed)."""
        if not self._coalesce:  # one transaction per order: the baseline coalescing is measured against
            # Shielded, like a batch: a client hanging up must not cancel a transaction half-way through.
            work = asyncio.ensure_future(self._apply(sale_id, [request]))
            try:
                [result] = await asyncio.shield(work)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.error("flash-sale order failed: %r", error)
                raise BatchFailed("the sale could not record this order; nothing was charged or held, retry") from None
            return result
        future: asyncio.Future[FlashResult] = asyncio.get_running_loop().create_future()
        self._queues.setdefault(sale_id, deque()).append((request, future))
        if sale_id not in self._drainers:
            self._drainers[sale_id] = asyncio.create_task(self._drain(sale_id), name=f"flash-sale-{sale_id}")
        return await future

    async def _drain(self, sale_id: int) -> None:
        queue = self._queues[sale_id]
        conn: AsyncConnection | None = None  # held while batches keep coming: no pool checkout (and ping) for each
        try:
            while queue:
                taken = [queue.popleft() for _ in range(min(len(queue), self._max_batch))]
                requests = [request for request, _ in taken]
                try:
                    if conn is None:
                        conn = await self._uow_factory.engine.connect()
                    results = await self._apply(sale_id, requests, conn)
                except Exception as error:  # the transaction rolled back: nothing of this batch exists
                    self.stats.failed_batches += 1
                    log.error("flash-sale batch of %d failed: %r", len(taken), error)
                    failure = BatchFailed("the sale could not record this order; nothing was charged or held, retry")
                    for _, future in taken:
                        if not future.done():
                            future.set_exception(failure)
                    await _release(conn)  # it may be the connection that failed: the next batch takes another
                    conn = None
                    continue
                for (_, future), result in zip(taken, results, strict=True):
                    if not future.done():
                        future.set_result(result)
        finally:
            await _release(conn)
            del self._drainers[sale_id]
            if queue:  # requests that arrived while this drainer was exiting
                self._drainers[sale_id] = asyncio.create_task(self._drain(sale_id), name=f"flash-sale-{sale_id}")

    async def _apply(
        self, sale_id: int, requests: list[FlashRequest], conn: AsyncConnection | None = None
    ) -> list[FlashResult]:
        factory = self._uow_factory
        if self._at_once:
            async with contextlib.AsyncExitStack() as own:
                if conn is None:  # one order at a time (coalescing off): a connection from the pool for each
                    conn = await own.enter_async_context(factory.engine.connect())
                driver = await pg_driver_outside_transaction(conn)
                results, placed = await service.apply_batch_at_once(
                    driver, factory.clock.now(), factory.settings.flash_hold_minutes, sale_id, requests)
            if placed and factory.after_commit is not None:
                factory.after_commit()  # the relay: outbox events were committed
        else:
            async with factory(held=conn) as uow:
                results = await service.apply_batch(uow, sale_id, requests)
        self.stats.batches += 1
        self.stats.requests += len(requests)
        self.stats.largest_batch = max(self.stats.largest_batch, len(requests))
        return results

    async def close(self) -> None:
        for task in list(self._drainers.values()):
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout=10)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()


async def _release(conn: AsyncConnection | None) -> None:
    """Gives a held connection back to the pool (which discards it if it was found broken)."""
    if conn is None:
        return
    try:
        await conn.close()
    except Exception as error:  # a broken connection may fail even to close; the pool has let go of it
        log.warning("closing a flash-sale connection failed: %r", error)
