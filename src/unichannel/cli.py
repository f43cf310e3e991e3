"""The `unichannel` command."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

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
        loop="uvloop", http="httptools",
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
        from unichannel.demo.money import seed_purchases
        from unichannel.payments.gateway import SimulatedGateway

        try:
            summary = await seed(factory)
            if summary.seeded:
                summary.orders = await seed_purchases(factory, SimulatedGateway(clock=factory.clock))
            tokens = await issue_demo_tokens(factory)
            return summary, tokens
        finally:
            await factory.engine.dispose()

    summary, tokens = asyncio.run(run())
    if summary.seeded:
        console.print(f"[green]Seeded[/green] {summary.merchants} merchants, {summary.locations} locations, "
                      f"{summary.products} products, {summary.orders} paid orders. {summary.fx_note}.")
        for issue in summary.issues:
            console.print(f"  [dim]not imported: {issue}[/dim]")
    else:
        console.print("[green]Demo data already there[/green]; reusing it.")
    base = f"http://{host}:{port}"
    lines = [
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


@bench_app.command("flash-sale")
def bench_flash_sale(
    workers: Annotated[int, typer.Option(min=1, max=16)] = 2,
    connections: Annotated[int, typer.Option(min=1, max=10_000)] = 256,
    duration: Annotated[int, typer.Option(min=1, max=600, help="seconds per measured run")] = 15,
    shoppers: Annotated[int, typer.Option(min=1, max=100_000, help="distinct shoppers (tokens) in the load")] = 400,
    json_file: Annotated[Path | None, typer.Option("--json", help="write the report here")] = None,
    postgres: Annotated[str, typer.Option(help="admin DSN of the PostgreSQL server to use")] = (
        "postgresql://postgres@127.0.0.1:5432/postgres"
    ),
) -> None:
    """Coalesced flash-sale orders vs one transaction per order vs a trivial endpoint, on PostgreSQL, with wrk."""
    import json

    from rich.table import Table

    from unichannel.bench.flash_sale import run

    report = run(workers, connections, duration, shoppers, postgres)
    table = Table(title=f"flash sale: {workers} workers, {connections} connections, {duration}s each, "
                        f"{report['cpu_count']} CPUs")
    for column in ("endpoint", "orders/s", "requests/s", "p50 ms", "p99 ms", "acknowledged", "in database",
                   "oversold", "lost", "statuses"):
        table.add_column(column)
    for scenario in report["scenarios"].values():
        table.add_row(scenario["name"], f"{scenario['orders_per_s']:,.0f}", f"{scenario['requests_per_s']:,.0f}",
                      f"{scenario['p50_ms']:.1f}", f"{scenario['p99_ms']:.1f}", str(scenario["acknowledged"]),
                      str(scenario["in_database"] if scenario["in_database"] is not None else "-"),
                      str(scenario["oversold"] if scenario["oversold"] is not None else "-"),
                      str(scenario["lost"] if scenario["lost"] is not None else "-"),
                      " ".join(f"{k}:{v}" for k, v in sorted(scenario["statuses"].items())))
    console.print(table)
    console.print(f"unichannel / naive: {report['ratio_unichannel_to_naive']}x   unichannel / trivial: "
                  f"{report['ratio_unichannel_to_trivial']}x   oversold: {report['oversold']}   lost: {report['lost']}   "
                  f"memory per worker: {report['memory_per_worker_mib']} MiB")
    if json_file is not None:
        json_file.parent.mkdir(parents=True, exist_ok=True)
        json_file.write_text(json.dumps(report, indent=2) + "\n")
        console.print(f"wrote {json_file}")
    if report["oversold"] or report["lost"]:
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
