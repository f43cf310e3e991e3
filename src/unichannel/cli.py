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
app.add_typer(db_app, name="db")
app.add_typer(token_app, name="token")
console = Console()


def _factory(settings: Settings):  # noqa: ANN202
    from unichannel.clock import SystemClock
    from unichannel.db import create_engine
    from unichannel.uow import UnitOfWorkFactory

    return UnitOfWorkFactory(create_engine(settings), SystemClock(), settings)


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
        try:
            summary = await seed(factory)
            tokens = await issue_demo_tokens(factory)
            return summary, tokens
        finally:
            await factory.engine.dispose()

    summary, tokens = asyncio.run(run())
    if summary.seeded:
        console.print(f"[green]Seeded[/green] {summary.merchants} merchants, {summary.locations} locations, "
                      f"{summary.products} products. {summary.fx_note}.")
        for issue in summary.issues:
            console.print(f"  [dim]not imported: {issue}[/dim]")
    else:
        console.print("[green]Demo data already there[/green]; reusing it.")
    base = f"http://{host}:{port}"
    lines = [
        ("API docs (OpenAPI)", f"{base}/api/v1/docs"),
        ("products", f"{base}/api/v1/products?q=hoodie"),
        ("stores, warehouses, village stations", f"{base}/api/v1/locations"),
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
    from unichannel.inventory import repository as inventory_repository

    parsers = {"woocommerce": parse_woocommerce, "shopify": parse_shopify}
    if source not in parsers:
        console.print(f"[red]unknown source {source!r}; use woocommerce or shopify[/red]")
        raise typer.Exit(2)
    factory = _factory(get_settings())

    async def run():  # noqa: ANN202
        try:
            async with factory() as uow:
                merchant_row = await catalog.merchant_by_slug(uow, merchant)
                location_id = None
                if location:
                    row = await inventory_repository.get_location_by_code(uow.conn, location)
                    if row is None:
                        raise typer.BadParameter(f"no location {location!r}")
                    location_id = row["id"]
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
    from unichannel.inventory import repository as inventory_repository

    factory = _factory(get_settings())

    async def run() -> str:
        try:
            async with factory() as uow:
                merchant_id = (await catalog.merchant_by_slug(uow, merchant))["id"] if merchant else None
                location_id = None
                if location:
                    row = await inventory_repository.get_location_by_code(uow.conn, location)
                    if row is None:
                        raise typer.BadParameter(f"no location {location!r}")
                    location_id = row["id"]
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


def main() -> None:  # pragma: no cover - `python -m unichannel`
    app(prog_name="unichannel")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
