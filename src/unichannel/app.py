"""The application: wires adapters (database, clock, gateway, event bus) once and mounts every context's routes."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import timedelta
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from unichannel import __version__, pages
from unichannel.access.service import TokenAuthenticator
from unichannel.catalog.api import router as catalog_router
from unichannel.checkout.api import router as cart_router
from unichannel.clock import Clock, SystemClock
from unichannel.customers.api import router as customers_router
from unichannel.db import create_engine
from unichannel.events import BroadcastFeed, EventBus, OutboxRelay
from unichannel.fulfillment.api import router as fulfillment_router
from unichannel.inventory import service as inventory_service
from unichannel.inventory.api import router as inventory_router
from unichannel.orders import service as orders_service
from unichannel.pages.live import LIVE_TOPICS, LiveHub
from unichannel.pages.routes import router as pages_router
from unichannel.pages.console import router as console_router
from unichannel.pages.pos import router as pos_router
from unichannel.pages.shop import router as shop_router
from unichannel.orders.api import router as orders_router
from unichannel.payments import instalments
from unichannel.payments import service as payments_service
from unichannel.payments.api import router as payments_router
from unichannel.payments.cash import Gateways
from unichannel.payments.gateway import PaymentGateway, build_gateway
from unichannel.promotions.api import SaleCache, fast_flash_order
from unichannel.promotions.api import router as promotions_router
from unichannel.promotions.coalescer import FlashSaleCoalescer
from unichannel.settings import Settings, get_settings
from unichannel.uow import UnitOfWorkFactory
from unichannel.web import ERROR_RESPONSES, HotPathApp, install_error_handlers, refuse_nul_characters

log = logging.getLogger(__name__)
API_PREFIX = "/api/v1"


async def sweep_forever(uow_factory: UnitOfWorkFactory, gateway: PaymentGateway, interval_seconds: float) -> None:
    """Every few seconds: gives back the stock of unpaid orders whose hold lapsed, writes off expired lots, confirms
    receipt of orders delivered long enough ago (releasing escrow), and has the gateway pay back refunds left
    unpaid by a crash."""
    while True:
        try:
            async with uow_factory() as uow:
                cancelled = await orders_service.cancel_lapsed_orders(uow)
            if cancelled:
                log.info("cancelled %d unpaid orders whose stock hold lapsed", len(cancelled))
            async with uow_factory() as uow:
                written_off = await inventory_service.write_off_expired_lots(uow)
            if written_off:
                log.info("wrote off %d units of lots past their best-before date", written_off)
            async with uow_factory() as uow:
                await instalments.mark_overdue(uow)
            async with uow_factory() as uow:
                confirmed = await orders_service.confirm_delivered_orders(uow)
            if confirmed:
                log.info("confirmed receipt of %d delivered orders automatically", len(confirmed))
            await payments_service.pay_back_processing_refunds(uow_factory, gateway)
            stale_after = timedelta(minutes=uow_factory.settings.reservation_hold_minutes + 15)
            await payments_service.void_stale_authorizations(uow_factory, gateway, stale_after)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("sweeper failed; retrying")
        await asyncio.sleep(interval_seconds)


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    gateway: PaymentGateway | None = None,
    run_background_tasks: bool = True,
) -> FastAPI:
    settings = settings or get_settings()
    clock = clock or SystemClock()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings)
        uow_factory = UnitOfWorkFactory(engine, clock, settings)
        bus = EventBus()
        broadcasting = settings.live_broadcast and engine.dialect.name == "postgresql"
        relay = OutboxRelay(engine, bus, clock, broadcast=LIVE_TOPICS if broadcasting else ())
        uow_factory.after_commit = relay.wake
        app.state.settings = settings
        app.state.engine = engine
        app.state.uow_factory = uow_factory
        app.state.bus = bus
        app.state.live = live = LiveHub()
        # Live pages follow every process's events on PostgreSQL (the relay broadcasts them), this process's on SQLite.
        feed = BroadcastFeed(engine, live.deliver) if broadcasting else None
        if feed is None:
            bus.subscribe("", live.deliver)
        app.state.broadcast = feed
        app.state.relay = relay
        # A card gateway given (tests) gets the till's cash drawer in front of it, as a built one does.
        app.state.gateway = Gateways(gateway) if gateway is not None else build_gateway(settings, clock)
        app.state.authenticator = TokenAuthenticator(engine, clock, settings.token_cache_seconds)
        app.state.clock = clock
        app.state.sale_cache = SaleCache(clock)
        app.state.coalescer = FlashSaleCoalescer(
            uow_factory, max_batch=settings.flash_batch_max, coalesce=settings.flash_coalescing
        )
        tasks = []
        if run_background_tasks:
            relay.start()
            if feed is not None:
                feed.start()
            tasks.append(asyncio.create_task(sweep_forever(uow_factory, app.state.gateway, settings.sweep_interval_seconds)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await app.state.coalescer.close()
            await relay.stop()
            if feed is not None:
                await feed.stop()
            await app.state.gateway.close()  # the card gateway's own HTTP client (Stripe)
            await engine.dispose()

    app = HotPathApp(
        title="unichannel",
        version=__version__,
        description="New Retail commerce: one customer, one cart, one inventory across web, phone and stores.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        lifespan=lifespan,
        dependencies=[Depends(refuse_nul_characters)],
    )
    install_error_handlers(app)
    for router in (pages_router, shop_router, pos_router, console_router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=Path(pages.__file__).parent / "static"), name="static")
    for router in (catalog_router, inventory_router, customers_router, cart_router, orders_router, payments_router,
                   promotions_router, fulfillment_router):
        app.include_router(router, prefix=API_PREFIX, responses=ERROR_RESPONSES)

    # The flash-sale hot path is answered ahead of the middleware stack and the router; its documented twin is
    # promotions.api.place_flash_order.
    app.hot_routes.append((re.compile(f"{API_PREFIX}/flash-sales/(?P<sale_id>[^/]+)/orders"), fast_flash_order))
    if settings.bench_endpoints:

        async def trivial(request: Request) -> Response:
            """The HTTP ceiling the flash-sale benchmark compares against: answered JSON the same way in, no work."""
            return Response(b'{"ok":true}', media_type="application/json")

        app.hot_routes.append((re.compile(f"{API_PREFIX}/bench/trivial"), trivial))

    @app.get(f"{API_PREFIX}/health", tags=["ops"])
    async def health(request: Request) -> dict[str, str]:
        async with request.app.state.engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")
        return {"status": "ok", "database": request.app.state.engine.dialect.name, "version": __version__}

    return app
