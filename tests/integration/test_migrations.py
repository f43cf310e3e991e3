"""Migrations 0006 (import_jobs), 0007 and 0008 (the flash-batch functions) on SQLite and PostgreSQL: down to 0005
drops the table with its index and its rows and leaves every other table as it was; up again rebuilds it exactly as
the code declares it."""

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

from tests.conftest import PG_DSN, require_postgres
from unichannel import migrate
from unichannel.catalog.repository import import_jobs, merchants
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

    assert head == "0008" and revision == "0005"
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
    assert await functions() == ({"flash_batch_apply"} if postgres else set())  # 0008 replaced 0007's function
    await asyncio.to_thread(command.downgrade, config, "0007")
    assert await functions() == ({"flash_batch_state"} if postgres else set())
    await asyncio.to_thread(command.downgrade, config, "0006")
    assert await functions() == set()
    await asyncio.to_thread(migrate.upgrade, settings)
    assert await functions() == ({"flash_batch_apply"} if postgres else set())
