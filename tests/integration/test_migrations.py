"""Migrations 0006 (import_jobs), 0007 and 0008 (the flash-batch functions), 0009 (the order path's references to
master data) and 0010 (the flash-batch function's fresh plans) on SQLite and PostgreSQL, each down and up again: what
goes, what stays, and that the result is what the code declares."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text

from tests.conftest import PG_DSN, open_env, require_postgres
from tests.integration.world import HOME, build_world
from unichannel import migrate
from unichannel.catalog.repository import import_jobs, merchants
from unichannel.inventory.repository import reservations
from unichannel.orders.repository import order_history, order_lines, orders
from unichannel.db import create_engine
from unichannel.settings import Settings
from unichannel.tables import metadata

AT = datetime(2026, 11, 11, 2, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all: a new SQLite file, or a new PostgreSQL database dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}"
        return
    require_postgres()
    name = f"unichannel_migrations_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_DSN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{PG_DSN.rsplit('/', 1)[0].replace('postgresql://', 'postgresql+asyncpg://', 1)}/{name}"
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _schema(sync_conn) -> dict:  # noqa: ANN001 - a synchronous SQLAlchemy connection
    found = inspect(sync_conn)
    tables = set(found.get_table_names())
    indexes = {i["name"] for i in found.get_indexes("import_jobs")} if "import_jobs" in tables else set()
    differences = compare_metadata(MigrationContext.configure(sync_conn, opts={"compare_type": True}), metadata)
    return {
        "tables": tables,
        "import_jobs_indexes": indexes,
        # Only this migration's table: other contexts' tables are other migrations' business.
        "import_jobs_differences": [repr(d) for d in differences if "import_jobs" in repr(d)],
    }


async def _read(settings: Settings) -> tuple[dict, str, int]:
    """(the schema as found, the Alembic revision, how many merchants there are)."""
    engine = create_engine(settings)
    try:
        async with engine.connect() as conn:
            schema = await conn.run_sync(_schema)
            revision = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
            merchant_count = len((await conn.execute(select(merchants.c.id))).all())
    finally:
        await engine.dispose()
    return schema, revision, merchant_count


async def _add_a_merchant_with_an_import(settings: Settings) -> None:
    engine = create_engine(settings)
    try:
        async with engine.begin() as conn:
            merchant_id = (await conn.execute(merchants.insert().values(
                slug="m", name="M", kind="brand", country="CN", currency="CNY", created_at=AT,
            ).returning(merchants.c.id))).scalar_one()
            await conn.execute(import_jobs.insert().values(
                merchant_id=merchant_id, started_by="token:1", source="shopify", file_name="a.csv", status="done",
                rows_read=3, products_total=2, products_done=2, products_created=2,
                issues=[{"line": 3, "reason": "no price", "handle": "x"}],
                started_at=AT, updated_at=AT, finished_at=AT))
    finally:
        await engine.dispose()


async def test_0006_downgrades_to_0005_without_import_jobs_and_upgrades_back_as_declared(empty_database_url):
    settings = Settings(database_url=empty_database_url)
    await asyncio.to_thread(migrate.upgrade, settings)
    at_head, head, _ = await _read(settings)
    await _add_a_merchant_with_an_import(settings)

    await asyncio.to_thread(command.downgrade, migrate.alembic_config(settings), "0005")
    down, revision, merchant_count = await _read(settings)

    assert head == "0011" and revision == "0005"
    assert at_head["import_jobs_differences"] == []  # the migration builds what the code declares
    assert at_head["import_jobs_indexes"] == {"ix_import_jobs_merchant"}
    assert down["tables"] == at_head["tables"] - {"import_jobs"}  # only its table went
    assert down["import_jobs_indexes"] == set()
    assert merchant_count == 1  # the merchant its import pointed at stays

    await asyncio.to_thread(migrate.upgrade, settings)
    again, revision, _ = await _read(settings)
    engine = create_engine(settings)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(select(import_jobs.c.id))).all()
    finally:
        await engine.dispose()
    assert revision == head and again == at_head
    assert rows == []  # a downgrade drops the imports' progress and reports; upgrading again starts empty


AT_HEAD = {"flash_batch_apply", "flash_batch_decide", "flash_batch_write"}


async def test_0007_and_0008_flash_batch_functions_exist_on_postgresql_only_and_downgrade_in_turn(empty_database_url):
    settings = Settings(database_url=empty_database_url)

    async def functions() -> set[str]:
        engine = create_engine(settings)
        try:
            async with engine.connect() as conn:
                if conn.dialect.name != "postgresql":
                    return set()
                rows = await conn.execute(text(
                    "SELECT proname FROM pg_proc WHERE proname LIKE 'flash%' AND pronamespace = 'public'::regnamespace"))
                return {row.proname for row in rows}
        finally:
            await engine.dispose()

    config = migrate.alembic_config(settings)
    postgres = settings.database_url.startswith("postgresql")
    await asyncio.to_thread(migrate.upgrade, settings)
    assert await functions() == (AT_HEAD if postgres else set())
    await asyncio.to_thread(command.downgrade, config, "0010")  # 0011 added the two helpers
    assert await functions() == ({"flash_batch_apply"} if postgres else set())  # 0008 replaced 0007's function
    await asyncio.to_thread(command.downgrade, config, "0007")
    assert await functions() == ({"flash_batch_state"} if postgres else set())
    await asyncio.to_thread(command.downgrade, config, "0006")
    assert await functions() == set()
    await asyncio.to_thread(migrate.upgrade, settings)
    assert await functions() == (AT_HEAD if postgres else set())


ORDER_PATH = ("orders", "order_lines", "reservations", "order_history", "flash_sale_purchases")


async def _order_path_schema(settings: Settings) -> dict:
    """Per table of the order path: its foreign keys (column, referred table), and the differences from the code."""
    def read(sync_conn) -> dict:  # noqa: ANN001 - a synchronous SQLAlchemy connection
        found = inspect(sync_conn)
        differences = compare_metadata(MigrationContext.configure(sync_conn, opts={"compare_type": True}), metadata)
        return {
            "keys": {table: sorted((key["constrained_columns"][0], key["referred_table"])
                                   for key in found.get_foreign_keys(table)) for table in ORDER_PATH},
            "differences": [repr(d) for d in differences if any(f"'{table}'" in repr(d) for table in ORDER_PATH)],
        }

    engine = create_engine(settings)
    try:
        async with engine.connect() as conn:
            schema = await conn.run_sync(read)
            schema["rows"] = [len((await conn.execute(select(table.c.id))).all())
                              for table in (orders, order_lines, reservations, order_history)]
            if conn.dialect.name == "postgresql":
                schema["function"] = (await conn.execute(text(
                    "SELECT prosrc FROM pg_proc WHERE proname = 'flash_batch_apply'"))).scalar_one()
    finally:
        await engine.dispose()
    return schema


async def test_0009_drops_the_order_paths_references_to_master_data_and_downgrade_restores_them(empty_database_url):
    settings = Settings(database_url=empty_database_url)
    await asyncio.to_thread(migrate.upgrade, settings)
    async with open_env(empty_database_url) as env:  # an order with its line, hold and history, kept through both
        world = await build_world(env)
        await env.client.post("/api/v1/cart/lines", json={"sku": "MUG-1", "quantity": 2}, headers=world.auth("alice"))
        placed = await env.client.post("/api/v1/orders", json={"delivery": HOME},
                                       headers={**world.auth("alice"), "Idempotency-Key": "k"})
        assert placed.status_code == 201
    at_head = await _order_path_schema(settings)

    await asyncio.to_thread(command.downgrade, migrate.alembic_config(settings), "0008")
    down = await _order_path_schema(settings)
    await asyncio.to_thread(migrate.upgrade, settings)
    again = await _order_path_schema(settings)

    assert at_head["keys"] == {  # only the keys within an order
        "orders": [("checkout_id", "checkouts")],
        "order_lines": [("order_id", "orders"), ("reservation_id", "reservations")],
        "reservations": [],
        "order_history": [("order_id", "orders")],
        "flash_sale_purchases": [],
    }
    assert at_head["differences"] == []  # the migration builds what the code declares
    assert down["keys"] == {
        "orders": [("assisted_by_location_id", "locations"), ("checkout_id", "checkouts"),
                   ("customer_id", "customers"), ("flash_sale_id", "flash_sales"), ("location_id", "locations"),
                   ("merchant_id", "merchants")],
        "order_lines": [("location_id", "locations"), ("merchant_id", "merchants"), ("order_id", "orders"),
                        ("reservation_id", "reservations"), ("variant_id", "variants")],
        "reservations": [("location_id", "locations"), ("merchant_id", "merchants"), ("variant_id", "variants")],
        "order_history": [("order_id", "orders")],
        "flash_sale_purchases": [("customer_id", "customers"), ("flash_sale_id", "flash_sales")],
    }
    assert at_head["rows"] == down["rows"] == again["rows"] == [1, 1, 1, 1]  # the order survives both ways
    assert again == at_head
    if "function" in at_head:  # PostgreSQL: since 0009 the sequences are looked up once per batch (0008: per id)
        assert "nextval(hold_sequence)" in at_head["function"] and "pg_get_serial_sequence('reservations', 'id'))" \
            not in at_head["function"]
        assert "nextval(pg_get_serial_sequence('reservations', 'id'))" in down["function"]
        # 0011: the batch is decided before the lock and again under it, by the helper
        assert at_head["function"].count("FROM flash_batch_decide(") == 2
        assert "flash_batch_decide" not in down["function"]
