"""Test fixtures: every storage and API test runs on SQLite and on PostgreSQL.

PostgreSQL: a fresh database per test session, migrated with the real migrations, its tables truncated before each
test. Outside CI an unreachable server skips those tests with a visible notice; under CI=true it fails them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest
import pytest_asyncio
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from unichannel import migrate
from unichannel.access import service as access_service
from unichannel.app import create_app
from unichannel.clock import FixedClock
from unichannel.payments.gateway import SimulatedGateway
from unichannel.settings import Settings
from unichannel.tables import metadata

PG_DSN = os.environ.get("UNICHANNEL_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
OPENING = datetime(2026, 11, 10, 16, 0, tzinfo=UTC)  # 11.11 00:00 in China


def _pg_reachable() -> str | None:
    async def probe() -> None:
        conn = await asyncpg.connect(PG_DSN, timeout=3)
        await conn.close()

    try:
        asyncio.run(probe())
        return None
    except Exception as error:  # any failure to connect means "not reachable here"
        return f"{type(error).__name__}: {error}"


_PG_PROBLEM = _pg_reachable()


def pytest_report_header(config: pytest.Config) -> str:
    if _PG_PROBLEM is None:
        return f"PostgreSQL: reachable at {PG_DSN}; PostgreSQL tests run"
    verdict = "FAILING them (CI=true)" if IN_CI else "SKIPPING PostgreSQL tests"
    return f"PostgreSQL: NOT reachable at {PG_DSN} ({_PG_PROBLEM}); {verdict}"


def require_postgres() -> None:
    if _PG_PROBLEM is None:
        return
    if IN_CI:
        pytest.fail(f"PostgreSQL must be reachable under CI=true: {_PG_PROBLEM}")
    pytest.skip(f"PostgreSQL not reachable ({_PG_PROBLEM}); start it to run these tests")


@pytest.fixture(scope="session", autouse=True)
def cheap_argon2() -> Iterator[None]:
    """argon2id at its lowest cost in tests only: the same algorithm and code path, milliseconds instead of 130 ms."""
    cheap = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))
    saved = access_service.password_hasher, access_service.token_hasher
    access_service.password_hasher = access_service.token_hasher = cheap
    yield
    access_service.password_hasher, access_service.token_hasher = saved


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    migrate.upgrade(Settings(database_url=f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    require_postgres()
    name = f"unichannel_test_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_DSN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    base = PG_DSN.rsplit("/", 1)[0]
    url = f"{base.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{name}"
    migrate.upgrade(Settings(database_url=url))
    yield url
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def truncate_postgres(url: str) -> None:
    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)

    async def run() -> None:
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
        try:
            await conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        finally:
            await conn.close()

    asyncio.run(run())


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database: a copy of the SQLite template, or the session's PostgreSQL database truncated."""
    if request.param == "sqlite":
        path = tmp_path / "unichannel.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite+aiosqlite:///{path}"
    url = request.getfixturevalue("postgres_url")
    truncate_postgres(url)
    return url


@pytest.fixture
def postgres_only_url(postgres_url: str) -> str:
    truncate_postgres(postgres_url)
    return postgres_url


@dataclass
class Env:
    app: object
    client: httpx.AsyncClient
    clock: FixedClock
    gateway: SimulatedGateway
    settings: Settings

    @property
    def uow(self):  # noqa: ANN201 - the app's unit-of-work factory
        return self.app.state.uow_factory


@pytest_asyncio.fixture
async def env(database_url: str) -> AsyncIterator[Env]:
    """The whole application on the test database, called in-process over HTTP (no background tasks: tests drive
    the sweeper and relay themselves)."""
    async with open_env(database_url) as opened:
        yield opened


@asynccontextmanager
async def open_env(database_url: str) -> AsyncIterator[Env]:
    settings = Settings(database_url=database_url, public_base_url="https://shop.example")
    clock = FixedClock(OPENING)
    gateway = SimulatedGateway(clock=clock)
    app = create_app(settings, clock=clock, gateway=gateway, run_background_tasks=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield Env(app, client, clock, gateway, settings)
