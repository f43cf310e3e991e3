"""The `unichannel` command."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from unichannel.demo import places as demo_places
from unichannel.settings import Settings, get_settings

app = typer.Typer(help="unichannel: one channel, one cart, one inventory.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks (they start their own servers on 127.0.0.1).", no_args_is_help=True)
simulate_app = typer.Typer(help="Simulations (they start their own servers on 127.0.0.1).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(token_app, name="token")
app.add_typer(bench_app, name="bench")
app.add_typer(simulate_app, name="simulate")
ledger_app = typer.Typer(help="Money: balances, daily settlement, the payment sweeper.", no_args_is_help=True)
app.add_typer(ledger_app, name="ledger")
console = Console()


def _factory(settings: Settings):  # noqa: ANN202
    from unichannel.clock import SystemClock
    from unichannel.db import create_engine
    from unichannel.uow import UnitOfWorkFactory

    return UnitOfWorkFactory(create_engine(settings), SystemClock(), settings)


async def _location_id(uow, code: str | None) -> int | None:  # noqa: ANN001
    """The id of the location with this code (None for no code); a bad code is a usage error."""
    from unichannel.inventory import repository as inventory_repository

    if not code:
        return None
    row = await inventory_repository.get_location_by_code(uow.conn, code)
    if row is None:
        raise typer.BadParameter(f"no location {code!r}")
    return row["id"]


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply the migrations (the same ones on SQLite and PostgreSQL)."""
    from unichannel import migrate

    settings = get_settings()
    migrate.upgrade(settings, revision)
    console.print(f"[green]database at {revision}[/green]: {_safe_url(settings.database_url)}")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="server processes")] = 1,
) -> None:
    """Serve the HTTP API (and pages) with uvicorn."""
    import uvicorn

    if get_settings().is_sqlite and workers > 1:
        console.print("[yellow]SQLite serialises writes: several workers add little; PostgreSQL scales out.[/yellow]")
    uvicorn.run(
        "unichannel.asgi:app", host=host, port=port, workers=workers, log_level="info", access_log=False,
        loop="uvloop", http="unichannel.serving:Protocol",
    )


@app.command()
def demo(
    host: str = "127.0.0.1",
    port: int = 8000,
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve", help="start the server after seeding")] = True,
) -> None:
    """Create the database, seed the demo world (once) and serve it."""
    from unichannel import migrate
    from unichannel.demo.seed import DEMO_PASSWORD, issue_demo_tokens, seed

    settings = get_settings()
    migrate.upgrade(settings)
    factory = _factory(settings)

    async def run():  # noqa: ANN202
        from unichannel.demo.delivery import delivery_tour
        from unichannel.demo.money import seed_purchases
        from unichannel.payments.gateway import SimulatedGateway

        try:
            summary = await seed(factory)
            tour = None
            if summary.seeded:
                summary.orders = await seed_purchases(factory, SimulatedGateway(clock=factory.clock))
                tour = await delivery_tour(factory)
            tokens = await issue_demo_tokens(factory)
            return summary, tour, tokens
        finally:
            await factory.engine.dispose()

    summary, tour, tokens = asyncio.run(run())
    if summary.seeded:
        console.print(f"[green]Seeded[/green] {summary.merchants} merchants, {summary.locations} locations, "
                      f"{summary.products} products, {summary.orders} paid orders. {summary.fx_note}.")
        for issue in summary.issues:
            console.print(f"  [dim]not imported: {issue}[/dim]")
        _print_tour(tour, settings)
    else:
        console.print("[green]Demo data already there[/green]; reusing it.")
    base = f"http://{host}:{port}"
    lines = [
        ("storefront", f"{base}/"),
        ("11.11 big screen (sign in with the operator token)", f"{base}/screen"),
        ("store till (sign in with the clerk token)", f"{base}/pos"),
        ("merchant console (sign in with the merchant token)", f"{base}/console"),
        ("API docs (OpenAPI)", f"{base}/api/v1/docs"),
        ("products", f"{base}/api/v1/products?q=hoodie"),
        ("stores, warehouses, village stations", f"{base}/api/v1/locations"),
        ("the ledger (operator token)", f"{base}/api/v1/ledger/accounts"),
        ("operator token", tokens.operator),
        ("merchant token (woo-apparel)", tokens.merchant),
        ("clerk token (store HZ-WESTLAKE)", tokens.clerk),
        (f"shopper token (member {tokens.shopper_phone})", tokens.shopper),
        ("members sign in with", f"their phone or email and the password '{DEMO_PASSWORD}'"),
        ("try", f"curl -H 'Authorization: Bearer {tokens.shopper}' {base}/api/v1/cart"),
    ]
    console.rule("Open unichannel")
    for label, value in lines:
        console.print(f"[bold]{label}[/bold]: {value}", soft_wrap=True, highlight=False)
    if serve_after:
        serve(host=host, port=port, workers=1)


# --- delivery options ----------------------------------------------------------------------------------------------

PROMISE_LABELS = {"home_delivery": "home delivery", "express_30_min": "30-minute delivery",
                  "store_pickup": "store pickup", "station_pickup": "village station pickup"}


def _local_time_text(moment, zone) -> str:  # noqa: ANN001
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M}"


def _window_text(option, zone, *, compact: bool = False) -> str:  # noqa: ANN001
    """The promised window in local time: one instant, a span within a day, or a span over days (compact: no year,
    and a span over days as dates only)."""
    earliest, latest = option.earliest.astimezone(zone), option.latest.astimezone(zone)
    day = "%m-%d" if compact else "%Y-%m-%d"
    if earliest == latest:
        return f"{earliest:{day} %H:%M}"
    if earliest.date() == latest.date():
        return f"{earliest:{day} %H:%M}–{latest:%H:%M}"
    if compact:
        return f"{earliest:{day}} – {latest:{day}}"
    return f"{earliest:{day} %H:%M} – {latest:{day} %H:%M}"


def _place_text(row: dict, address: tuple[float, float] | None, *, with_name: bool = True) -> str:
    """A location's code (and name), with its distance from the address."""
    from unichannel.orders.model import distance_km

    text = f"{row['code']} {row['name']}" if with_name else row["code"]
    if address is not None:
        text += f" ({distance_km(row['latitude'], row['longitude'], *address):.1f} km)"
    return text


def _where_text(option, locations: dict[int, dict], address: tuple[float, float] | None) -> str:  # noqa: ANN001
    if option.location_id is None:  # home delivery: to the address, from the locations that ship
        return "the address, from " + ", ".join(_place_text(locations[i], None) for i in option.plan.shipments)
    return _place_text(locations[option.location_id], address)


def _fee_text(option) -> str:  # noqa: ANN001
    from unichannel.money import Money

    return Money(option.fee_minor, option.currency).display()


def _demo_place(name: str):  # noqa: ANN202
    from unichannel.demo import world

    places = {place.name: place for place in world.named_places()}
    if name not in places:
        console.print(f"[red]no demo place {name!r}[/red]; the places are: {', '.join(places)}", highlight=False)
        raise typer.Exit(1)
    return places[name]


def _address_of(place: str | None, latitude: float | None, longitude: float | None
                ) -> tuple[tuple[float, float], str]:
    """The address's coordinates and how to call it, from --place or --lat/--lon; a clear exit 1 otherwise."""
    if place is not None and (latitude is not None or longitude is not None):
        console.print("[red]give --place or --lat/--lon, not both[/red]")
        raise typer.Exit(1)
    if place is not None:
        named = _demo_place(place)
        return (named.latitude, named.longitude), f"{named.name}: {named.description}"
    if latitude is None or longitude is None:
        console.print("[red]say where: --place NAME (a demo place) or both --lat and --lon[/red]")
        raise typer.Exit(1)
    return (latitude, longitude), f"{latitude:.5f}, {longitude:.5f}"


def _asked_at(at: str | None, zone):  # noqa: ANN001, ANN202
    from datetime import datetime

    if at is None:
        return None
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        raise typer.BadParameter(f"{at!r} is not a time like 2026-11-12T10:00", param_hint="--at") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


@app.command("delivery-options")
def delivery_options(
    member: Annotated[str | None, typer.Option(help="the member's phone (or email); default: the demo's first "
                                                    "member")] = None,
    place: Annotated[str | None, typer.Option(help="a named demo address: " + ", ".join(
        p.name for p in demo_places.NAMED_PLACES))] = None,
    latitude: Annotated[float | None, typer.Option("--lat", min=-90, max=90, help="the address")] = None,
    longitude: Annotated[float | None, typer.Option("--lon", min=-180, max=180)] = None,
    sku: Annotated[str | None, typer.Option(help="first put this SKU in the member's cart (it stays there)")] = None,
    merchant: Annotated[str | None, typer.Option(help="the merchant slug of --sku")] = None,
    quantity: Annotated[int, typer.Option(min=1, help="units of --sku")] = 1,
    at: Annotated[str | None, typer.Option(help="ask as of this time (local unless it has an offset), e.g. "
                                                "2026-11-12T10:00; default: now")] = None,
) -> None:
    """The delivery options of a member's cart at an address (as GET /api/v1/cart/delivery-options gives them): each
    promise with where, fee, promised window in local time and parcels."""
    from zoneinfo import ZoneInfo

    from unichannel.checkout import service as cart_service
    from unichannel.customers import service as customers
    from unichannel.demo import world
    from unichannel.demo.delivery import cart_summary, locations_by_id
    from unichannel.errors import DomainError, EmptyCart, NotFound
    from unichannel.fulfillment.service import options_for_cart

    settings = get_settings()
    zone = ZoneInfo(settings.local_timezone)
    address, address_text = _address_of(place, latitude, longitude)
    asked_at = _asked_at(at, zone)
    if merchant is not None and sku is None:
        console.print("[red]--merchant says whose --sku; give --sku too[/red]")
        raise typer.Exit(1)
    identifier = member or world.members()[0].phone or ""
    factory = _factory(settings)

    async def find(uow) -> dict:  # noqa: ANN001
        try:
            if "@" in identifier:
                return await customers.lookup(uow, email=identifier)
            return await customers.lookup(uow, phone=identifier)
        except NotFound:
            raise NotFound(f"no member with the phone or email {identifier!r}", field="member") from None

    async def run():  # noqa: ANN202
        from unichannel.catalog import repository as catalog_repository
        from unichannel.catalog.model import Channel
        from unichannel.clock import FixedClock
        from unichannel.uow import UnitOfWorkFactory

        try:
            if sku is not None:
                async with factory() as uow:
                    customer = await find(uow)
                    variant = await cart_service.resolve_variant(uow, sku=sku, merchant_slug=merchant, code=None)
                    await cart_service.add_item(uow, customer["id"], variant, quantity, added_via=Channel.ONLINE,
                                                channel=Channel.ONLINE)
            asking = factory if asked_at is None else UnitOfWorkFactory(factory.engine, FixedClock(asked_at), settings)
            async with asking(read_only=True) as uow:
                customer = await find(uow)
                view = await cart_service.view(uow, customer["id"], Channel.ONLINE)
                parts = await options_for_cart(uow, customer["id"], address)
                merchants = {p.merchant_id: (await catalog_repository.get_merchant(uow.conn, p.merchant_id))["name"]
                             for p in parts}
                return customer, view, parts, merchants, await locations_by_id(uow), uow.now()
        finally:
            await factory.engine.dispose()

    try:
        customer, view, parts, merchants, locations, now = asyncio.run(run())
    except EmptyCart:
        console.print(f"[red]the cart of member {identifier} is empty[/red]; put something in it with --sku SKU "
                      "--merchant SLUG", highlight=False)
        raise typer.Exit(1) from None
    except DomainError as error:
        console.print(f"[red]{error.code}[/red]: {error.message}", highlight=False)
        raise typer.Exit(1) from None
    console.print(f"[bold]{customer['name']}[/bold] ({identifier}), cart: {cart_summary(view)}", highlight=False)
    console.print(f"at {address_text}; asked at {_local_time_text(now, zone)} {settings.local_timezone}",
                  highlight=False)
    for part in parts:
        _print_options(part, merchants[part.merchant_id], locations, address, zone)


def _print_options(part, merchant_name: str, locations: dict[int, dict], address, zone) -> None:  # noqa: ANN001
    from rich.table import Table

    from unichannel.money import Money

    subtotal = Money(part.subtotal_minor, part.currency).display()
    if not part.options:
        console.print(f"[yellow]{merchant_name} ({subtotal}): no delivery option can be kept here now[/yellow]")
        return
    table = Table(title=f"{merchant_name}: {subtotal}, one order")
    for column in ("promise", "where", "fee", f"window ({zone.key})", "parcels"):
        table.add_column(column, justify="right" if column in ("fee", "parcels") else "left")
    for option in part.options:
        table.add_row(option.promise.value, _where_text(option, locations, address), _fee_text(option),
                      _window_text(option, zone), str(len(option.plan.shipments)))
    console.print(table)


def _print_tour(tour, settings: Settings) -> None:  # noqa: ANN001
    """The demo's delivery options on its named places: one row per place, one column per kind of promise."""
    from zoneinfo import ZoneInfo

    from rich.table import Table

    from unichannel.demo.delivery import DEMO_CART_MERCHANT, DEMO_CART_SKU
    from unichannel.fulfillment.model import Promise

    zone = ZoneInfo(settings.local_timezone)
    table = Table(title="Delivery options on the demo's places", show_lines=True, caption=(
        f"A cart of {tour.cart}, asked at {_local_time_text(tour.asked_at, zone)} ({settings.local_timezone}). "
        "30-minute delivery comes only from an open store within 3 km, so it depends on the time of day."))
    table.add_column("place", no_wrap=True)
    for promise in Promise:
        table.add_column(PROMISE_LABELS[promise.value], overflow="fold")
    for found in tour.places:
        address = (found.place.latitude, found.place.longitude)
        options = [option for part in found.parts for option in part.options]
        cells = [found.place.name]
        for promise in Promise:
            offered = [option for option in options if option.promise is promise]
            cells.append(_tour_cell(promise, offered, tour, address, zone))
        table.add_row(*cells)
    console.print(table)
    for found in tour.places:
        console.print(f"  [bold]{found.place.name}[/bold]: {found.place.description}", highlight=False)
    console.print(f"Try: unichannel delivery-options --place home-near-store --sku {DEMO_CART_SKU} "
                  f"--merchant {DEMO_CART_MERCHANT}", highlight=False, soft_wrap=True)


def _tour_cell(promise, offered: list, tour, address: tuple[float, float], zone) -> str:  # noqa: ANN001
    """The first (nearest, cheapest) option of a kind, or why there is none."""
    if not offered:
        return "[dim]" + _why_none(promise, tour, address, zone) + "[/dim]"
    first = offered[0]
    if first.location_id is None:  # home delivery: say where it ships from
        where = "from " + ", ".join(tour.locations[i]["code"] for i in first.plan.shipments)
    else:
        where = _place_text(tour.locations[first.location_id], address, with_name=False)
    more = f"\n(+{len(offered) - 1} more)" if len(offered) > 1 else ""
    return f"{where}, {_fee_text(first)}, {_window_text(first, zone, compact=True)}{more}"


def _why_none(promise, tour, address: tuple[float, float], zone) -> str:  # noqa: ANN001
    from unichannel.fulfillment.model import Promise
    from unichannel.fulfillment.promises import location_terms
    from unichannel.orders.model import distance_km

    kind = {Promise.EXPRESS: "store", Promise.STATION_PICKUP: "village_station"}.get(promise)
    if kind is None:
        return "none (no stock)"
    near = []
    for row in tour.locations.values():
        if row["kind"] == kind and row["is_active"]:
            terms = location_terms(kind, row["details"] or {})
            reach = terms.delivery_radius_km if kind == "store" else terms.service_radius_km
            if distance_km(row["latitude"], row["longitude"], *address) <= reach:
                near.append((row, terms))
    if promise is Promise.STATION_PICKUP:
        return "none: outside every station's area" if not near else "none now (no stock)"
    if not near:
        return "none: no store within 3 km"
    local = tour.asked_at.astimezone(zone)
    closed = [(row, terms) for row, terms in near if terms.hours and not terms.hours.is_open(local)]
    if closed:
        row, terms = closed[0]
        return f"none now: {row['code']} is closed (open {terms.hours.opens:%H:%M}–{terms.hours.closes:%H:%M})"
    return "none now (no stock or couriers free)"


@app.command("import")
def import_file(
    source: Annotated[str, typer.Argument(help="woocommerce or shopify")],
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    merchant: Annotated[str, typer.Option("--merchant", help="merchant slug")],
    location: Annotated[str | None, typer.Option(help="location code that receives the file's stock")] = None,
) -> None:
    """Import a WooCommerce or Shopify product CSV; each product all or nothing; re-importing updates."""
    from unichannel.catalog import service as catalog
    from unichannel.catalog.imports import parse_shopify, parse_woocommerce

    parsers = {"woocommerce": parse_woocommerce, "shopify": parse_shopify}
    if source not in parsers:
        console.print(f"[red]unknown source {source!r}; use woocommerce or shopify[/red]")
        raise typer.Exit(2)
    factory = _factory(get_settings())

    async def run():  # noqa: ANN202
        try:
            async with factory() as uow:
                merchant_row = await catalog.merchant_by_slug(uow, merchant)
                location_id = await _location_id(uow, location)
                parsed = parsers[source](file.read_text("utf-8-sig"), merchant_row["currency"])
                return await catalog.import_parsed(uow, merchant_row["id"], parsed, stock_location_id=location_id)
        finally:
            await factory.engine.dispose()

    from unichannel.errors import DomainError

    try:
        report = asyncio.run(run())
    except DomainError as error:
        console.print(f"[red]{error.code}[/red]: {error.message}")
        raise typer.Exit(2) from None
    console.print(f"rows read {report.rows_read}; products created {report.products_created}, updated "
                  f"{report.products_updated}; variants created {report.variants_created}, updated "
                  f"{report.variants_updated}")
    for issue in report.issues:
        console.print(f"[yellow]line {issue.line}[/yellow] {issue.handle or ''}: {issue.reason}")
    if report.issues:
        raise typer.Exit(1)


@ledger_app.command("settle")
def settle(
    day: Annotated[str | None, typer.Option("--date", help="the business day, YYYY-MM-DD (default: yesterday in the "
                                                           "settlement time zone)")] = None,
    csv_file: Annotated[Path | None, typer.Option("--csv", dir_okay=False, help="also write the payout report here")]
    = None,
) -> None:
    """Settle a finished day: move each merchant's payable to settled and print the payout report. Running it twice
    for one day pays nothing twice."""
    from datetime import date, datetime, timedelta
    from zoneinfo import ZoneInfo

    from unichannel.errors import DomainError
    from unichannel.money import Money
    from unichannel.payments import service as payments
    from unichannel.payments.api import payout_csv

    settings = get_settings()
    if day is None:
        business_date = datetime.now(ZoneInfo(settings.local_timezone)).date() - timedelta(days=1)
    else:
        try:
            business_date = date.fromisoformat(day)
        except ValueError:
            raise typer.BadParameter(f"{day!r} is not a date like 2026-11-11", param_hint="--date") from None
    factory = _factory(settings)

    async def run():  # noqa: ANN202
        try:
            async with factory() as uow:
                return await payments.settle(uow, business_date)
        finally:
            await factory.engine.dispose()

    try:
        rows = asyncio.run(run())
    except DomainError as error:
        console.print(f"[red]{error.message}[/red]")
        raise typer.Exit(2) from None
    from rich.table import Table

    table = Table(title=f"payouts for {business_date.isoformat()}")
    for column in ("merchant", "currency", "carried over", "released", "fee", "refunded", "payout"):
        table.add_column(column, justify="right")
    for row in rows:
        amounts = [Money(row[f"{n}_minor"], row["currency"]).amount_text()
                   for n in ("carried_over", "released", "fee", "refunded", "payout")]
        table.add_row(str(row["merchant_id"]), row["currency"], *amounts)
    console.print(table)
    if csv_file is not None:
        csv_file.write_text(payout_csv(rows), encoding="utf-8")
        console.print(f"payout report written to {csv_file}")


@ledger_app.command("balances")
def ledger_balances(
    kind: Annotated[str | None, typer.Option(help="only accounts of this kind (escrow, merchant_payable, ...)")] = None,
) -> None:
    """Every ledger account with its balance, derived from the entries (credits minus debits)."""
    from unichannel.errors import parse_choice
    from unichannel.money import Money
    from unichannel.payments import repository
    from unichannel.payments.model import AccountKind

    wanted = parse_choice(AccountKind, kind, "kind") if kind else None
    factory = _factory(get_settings())

    async def run():  # noqa: ANN202
        try:
            async with factory(read_only=True) as uow:
                return await repository.balances(uow.conn, kind=wanted)
        finally:
            await factory.engine.dispose()

    from rich.table import Table

    table = Table(title="ledger balances")
    for column in ("account", "kind", "owner", "balance"):
        table.add_column(column, justify="right" if column != "kind" else "left")
    for row in asyncio.run(run()):
        owner = "platform" if row["owner_type"] == "platform" else f"{row['owner_type']} {row['owner_id']}"
        table.add_row(str(row["id"]), row["kind"], owner, Money(row["balance_minor"], row["currency"]).display())
    console.print(table)


@ledger_app.command("sweep")
def ledger_sweep() -> None:
    """Run the payment sweeper once (the server runs it every few seconds): confirm receipt of orders delivered long
    enough ago (releasing escrow), mark missed instalments overdue, pay back approved refunds, void stale holds."""
    from datetime import timedelta

    from unichannel.orders import service as orders_service
    from unichannel.payments import instalments
    from unichannel.payments import service as payments
    from unichannel.payments.gateway import build_gateway

    settings = get_settings()
    factory = _factory(settings)
    gateway = build_gateway(settings, factory.clock)

    async def run():  # noqa: ANN202
        try:
            async with factory() as uow:
                confirmed = await orders_service.confirm_delivered_orders(uow)
            async with factory() as uow:
                overdue = await instalments.mark_overdue(uow)
            paid_back = await payments.pay_back_processing_refunds(factory, gateway)
            stale = timedelta(minutes=settings.reservation_hold_minutes + 15)
            voided = await payments.void_stale_authorizations(factory, gateway, stale)
            return confirmed, overdue, paid_back, voided
        finally:
            await factory.engine.dispose()

    confirmed, overdue, paid_back, voided = asyncio.run(run())
    console.print(f"receipt confirmed: {len(confirmed)} orders; overdue plans: {len(overdue)}; refunds paid back: "
                  f"{len(paid_back)}; stale authorizations voided: {len(voided)}")


@app.command()
def check() -> None:
    """Verify the invariants on the live database; exits 1 on any violation."""
    from unichannel.check import run_checks
    from unichannel.db import create_engine

    engine = create_engine(get_settings())

    async def run():  # noqa: ANN202
        try:
            return await run_checks(engine)
        finally:
            await engine.dispose()

    report = asyncio.run(run())
    for name, count in report.counts.items():
        console.print(f"{name}: {count}")
    if report.ok:
        console.print("[green]all invariants hold[/green]")
        return
    for violation in report.violations:
        console.print(f"[red]invariant {violation.invariant}[/red]: {violation.message}")
    raise typer.Exit(1)


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="shopper, clerk, merchant or operator")],
    name: Annotated[str, typer.Option(help="what the token is for")] = "cli",
    merchant: Annotated[str | None, typer.Option(help="merchant slug (merchant staff)")] = None,
    location: Annotated[str | None, typer.Option(help="store code (clerk)")] = None,
    phone: Annotated[str | None, typer.Option(help="member phone (shopper)")] = None,
) -> None:
    """Issue an API token; it is printed once and only its hash is kept."""
    from unichannel.access.model import Role
    from unichannel.access.service import issue_token
    from unichannel.catalog import service as catalog
    from unichannel.customers import service as customers
    from unichannel.errors import DomainError, parse_choice

    factory = _factory(get_settings())

    async def run() -> str:
        try:
            async with factory() as uow:
                merchant_id = (await catalog.merchant_by_slug(uow, merchant))["id"] if merchant else None
                location_id = await _location_id(uow, location)
                customer_id = (await customers.lookup(uow, phone=phone))["id"] if phone else None
                issued = await issue_token(
                    uow, parse_choice(Role, role, "role"), name=name, customer_id=customer_id,
                    merchant_id=merchant_id, location_id=location_id,
                )
                return issued.token
        finally:
            await factory.engine.dispose()

    try:
        print(asyncio.run(run()))
    except DomainError as error:
        console.print(f"[red]{error.code}[/red]: {error.message}", style=None)
        raise typer.Exit(2) from None


def _write_report(path: Path, report: dict) -> None:
    """A benchmark's report as JSON, for comparing runs."""
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    console.print(f"wrote {path}")


@bench_app.command("flash-sale")
def bench_flash_sale(
    workers: Annotated[int, typer.Option(
        min=1, max=16, help="server processes (on 2 cores shared with PostgreSQL and wrk, one serves a sale best)",
    )] = 1,
    connections: Annotated[int, typer.Option(min=1, max=10_000)] = 256,
    duration: Annotated[int, typer.Option(min=1, max=600, help="seconds per measured run")] = 15,
    shoppers: Annotated[int, typer.Option(min=1, max=100_000, help="distinct shoppers (tokens) in the load")] = 400,
    json_file: Annotated[Path | None, typer.Option("--json", help="write the report here")] = None,
    postgres: Annotated[str, typer.Option(help="admin DSN of the PostgreSQL server to use")] = (
        "postgresql://postgres@127.0.0.1:5432/postgres"
    ),
) -> None:
    """Coalesced flash-sale orders vs one transaction per order vs a trivial endpoint, on PostgreSQL, with wrk."""
    from rich.table import Table

    from unichannel.bench.flash_sale import run

    report = run(workers, connections, duration, shoppers, postgres)
    table = Table(title=f"flash sale: {workers} workers, {connections} connections, {duration}s each, "
                        f"{report['cpu_count']} CPUs")
    for column in ("endpoint", "orders/s", "requests/s", "p50 ms", "p99 ms", "acknowledged", "in database",
                   "oversold", "lost", "CPU µs per request: workers / PostgreSQL / wrk", "statuses"):
        table.add_column(column)

    def shown(value: object) -> str:
        return "-" if value is None else str(value)

    for scenario in report["scenarios"].values():
        cpu = scenario["cpu_us_per_request"]
        table.add_row(scenario["name"], f"{scenario['orders_per_s']:,.0f}", f"{scenario['requests_per_s']:,.0f}",
                      f"{scenario['p50_ms']:.1f}", f"{scenario['p99_ms']:.1f}", str(scenario["acknowledged"]),
                      shown(scenario["in_database"]), shown(scenario["oversold"]), shown(scenario["lost"]),
                      " / ".join(shown(cpu[k]) for k in ("workers", "postgresql", "load_generator")),
                      " ".join(f"{k}:{v}" for k, v in sorted(scenario["statuses"].items())))
    console.print(table)
    console.print(f"unichannel / naive: {report['ratio_unichannel_to_naive']}x   unichannel / trivial: "
                  f"{report['ratio_unichannel_to_trivial']}x   oversold: {report['oversold']}   lost: {report['lost']}   "
                  f"memory per worker: {report['memory_per_worker_mib']} MiB")
    if json_file is not None:
        _write_report(json_file, report)
    if report["oversold"] or report["lost"]:
        raise typer.Exit(1)


@bench_app.command("live-pages")
def bench_live_pages(
    workers: Annotated[int, typer.Option(min=2, max=16, help="server processes of the broadcast run")] = 2,
    viewers: Annotated[int, typer.Option(min=1, max=2000, help="open product pages")] = 200,
    screens: Annotated[int, typer.Option(min=1, max=100, help="open big screens")] = 4,
    changes: Annotated[int, typer.Option(min=1, max=10_000, help="stock changes sent")] = 100,
    orders: Annotated[int, typer.Option(min=1, max=10_000, help="orders placed and paid")] = 40,
    rate: Annotated[float, typer.Option(min=0.1, max=1000, help="changes (and orders) per second")] = 10,
    json_file: Annotated[Path | None, typer.Option("--json", help="write the report here")] = None,
    postgres: Annotated[str, typer.Option(help="admin DSN of the PostgreSQL server to use")] = (
        "postgresql://postgres@127.0.0.1:5432/postgres"
    ),
) -> None:
    """How long after a stock change or a paid order the open product pages and big screens show it, with one
    server process and with several (events broadcast between them), on PostgreSQL."""
    from rich.table import Table

    from unichannel.bench.live_pages import run

    report = run(workers, viewers, screens, changes, orders, rate, postgres)
    table = Table(title=f"live pages: {viewers} product pages, {screens} big screens, {changes} stock changes and "
                        f"{orders} paid orders at {rate:g}/s, {report['cpu_count']} CPUs")
    for column in ("server", "pages", "redraws seen", "missed", "p50 ms", "p95 ms", "p99 ms", "max ms",
                   f"≤ {report['target_ms']:.0f} ms", "change reply p50 ms"):
        table.add_column(column)
    for scenario in report["scenarios"].values():
        for key, label, reply in (("product_pages", "product pages", "change_reply_p50_ms"),
                                  ("big_screens", "big screens", "payment_reply_p50_ms")):
            figures = scenario[key]
            table.add_row(scenario["name"], label, str(figures["samples"]), str(figures["missed"]),
                          *(str(figures.get(k, "-")) for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms")),
                          f"{figures.get('within_target', 0):.2%}", str(scenario[reply]))
    console.print(table)
    ratios = report["ratio_p99_broadcast_to_own"]
    console.print(f"p99 with {workers} workers / with 1: product pages {ratios['product_pages']}x, "
                  f"big screens {ratios['big_screens']}x   missed: {report['missed']}")
    if json_file is not None:
        _write_report(json_file, report)
    if report["missed"]:
        raise typer.Exit(1)


@simulate_app.command("singles-day")
def simulate_singles_day(
    skus: Annotated[int, typer.Option(min=1, max=5, help="hot SKUs on sale")] = 3,
    units: Annotated[int, typer.Option(min=10, max=100_000, help="units of each SKU")] = 300,
    shoppers: Annotated[int, typer.Option(min=1, max=20_000)] = 600,
    workers: Annotated[int, typer.Option(min=1, max=16, help="server processes (PostgreSQL only)")] = 2,
    max_seconds: Annotated[float, typer.Option(min=1, max=600, help="stop after this long in any case")] = 60,
    concurrency: Annotated[int, typer.Option(min=1, max=2000, help="requests in flight at once")] = 200,
    postgres: Annotated[str | None, typer.Option(help="admin DSN of a PostgreSQL server; default: SQLite")] = None,
) -> None:
    """Singles' Day: shoppers and store tills race for hot SKUs from a precise opening; exits 1 if anything is
    oversold or `unichannel check` finds a violation."""
    from unichannel.bench.singles_day import run

    result = run(postgres=postgres, skus=skus, units=units, shoppers=shoppers, workers=workers,
                 max_seconds=max_seconds, concurrency=concurrency, console=console)
    if result["oversold"] or result["violations"]:
        raise typer.Exit(1)


def main() -> None:  # pragma: no cover - `python -m unichannel`
    app(prog_name="unichannel")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
