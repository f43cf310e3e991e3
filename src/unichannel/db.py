"""Storage plumbing shared by every context: metadata, column types, engines.

Tables live in each context's repository module and register on the one `metadata` here, which Alembic reads.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import JSON, BigInteger, DateTime, Integer, MetaData, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.types import TypeDecorator

from unichannel.settings import Settings

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

READ_ONLY_OPTION = "unichannel_read_only"  # execution option: this transaction will not write

# BIGINT on PostgreSQL; INTEGER on SQLite so the column is the rowid and autoincrements.
Id = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite keeps no zone, so it is re-attached on the way out)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are never stored; pass a timezone-aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def create_engine(settings: Settings) -> AsyncEngine:
    """An async engine for the configured database; SQLite gets WAL, a busy timeout and write-first transactions."""
    if settings.is_sqlite:
        path = settings.sqlite_path()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(settings.database_url, connect_args={"timeout": 30},
                                     json_deserializer=orjson.loads)
        _configure_sqlite(engine)
        return engine
    return create_async_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_size,
        pool_pre_ping=True,
        json_deserializer=orjson.loads,  # the same results as the json module, several times faster (outbox payloads)
        # The statement timeout is enforced by the server (no per-query timer in the client on the hot path).
        connect_args={"timeout": settings.database_connect_timeout_seconds, "server_settings": {
            "statement_timeout": str(int(settings.database_statement_timeout_seconds * 1000))}},
    )


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control from the driver so BEGIN IMMEDIATE can be issued below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A transaction that may write takes the write lock up front: it can then never fail on a lock upgrade, and
        # concurrent writers queue on busy_timeout instead of failing. Read-only work reads a WAL snapshot beside them.
        if connection.get_execution_options().get(READ_ONLY_OPTION):
            connection.exec_driver_sql("BEGIN DEFERRED")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def upsert_insert(conn: Any, table: Any) -> Any:
    """`INSERT` for `table` in the connection's dialect, which offers ON CONFLICT (PostgreSQL and SQLite alike)."""
    from sqlalchemy.dialects.postgresql import insert as pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(table)


def sqlite_file_exists(settings: Settings) -> bool:
    path = settings.sqlite_path()
    return path is not None and Path(path).exists()


# --- bulk inserts ------------------------------------------------------------------------------------------------

_PG_ARRAY_TYPES = {"BIGINT": "int8", "INTEGER": "int4", "VARCHAR": "text", "TEXT": "text", "BOOLEAN": "bool",
                   "FLOAT": "float8", "DATETIME": "timestamptz", "TIMESTAMP": "timestamptz", "JSON": "text",
                   "JSONB": "text"}


_PG_TYPE_CACHE: dict[Any, tuple[str, bool]] = {}
_PG_SQL_CACHE: dict[tuple[str, tuple[str, ...], int], str] = {}


def _pg_type(column: Any) -> tuple[str, bool]:
    """(the array element type a column's values travel as, whether it is JSON cast from text)."""
    cached = _PG_TYPE_CACHE.get(column)
    if cached is None:
        cached = _PG_TYPE_CACHE[column] = _render_pg_type(column)
    return cached


def _render_pg_type(column: Any) -> tuple[str, bool]:
    rendered = column.type.dialect_impl(_PG_DIALECT).compile(dialect=_PG_DIALECT).split("(")[0].upper()
    rendered = "DATETIME" if rendered.startswith("TIMESTAMP") else rendered
    return _PG_ARRAY_TYPES[rendered], rendered in ("JSON", "JSONB")


def _pg_dialect() -> Any:
    from sqlalchemy.dialects.postgresql.asyncpg import dialect

    return dialect()


_PG_DIALECT = _pg_dialect()


async def pg_driver(conn: Any) -> Any:
    """The asyncpg connection under a SQLAlchemy AsyncConnection, inside the same transaction.

    SQLAlchemy's asyncpg adapter opens the driver's transaction lazily at its first statement; one that has not run
    any yet runs a trivial statement first, so raw statements can never slip out of the unit of work's transaction.
    """
    fairy = await conn.get_raw_connection()
    if getattr(fairy.dbapi_connection, "_transaction", True) is None:
        await conn.exec_driver_sql("SELECT 1")
    return fairy.driver_connection


async def pg_driver_outside_transaction(conn: Any) -> Any:
    """The asyncpg connection under a SQLAlchemy AsyncConnection on which no transaction is open: each statement
    sent on it is a transaction of its own, committed before the reply (one round trip for a whole unit of work
    written as one statement)."""
    fairy = await conn.get_raw_connection()
    driver = fairy.driver_connection
    if conn.in_transaction() or getattr(fairy.dbapi_connection, "_transaction", None) is not None \
            or driver.is_in_transaction():
        raise RuntimeError("this connection is inside a transaction")
    return driver


async def insert_rows(conn: Any, table: Any, rows: list[dict[str, Any]], *, return_ids: bool = False) -> list[int]:
    """Inserts many rows in one statement; with `return_ids`, their new ids in the order of `rows`.

    On PostgreSQL the rows travel as one array per column (`INSERT ... SELECT FROM unnest(...)`), ids taken from the
    table's sequence first so their order is certain; this costs one round trip and almost no Python per row. Other
    databases get SQLAlchemy's executemany.
    """
    if not rows:
        return []
    if conn.dialect.name != "postgresql":
        if not return_ids:
            await conn.execute(table.insert(), rows)
            return []
        statement = table.insert().returning(table.c.id, sort_by_parameter_order=True)
        return list((await conn.execute(statement, rows)).scalars())
    ids = await allocate_ids(conn, table, len(rows)) if return_ids else []
    raw = await pg_driver(conn)
    sql, arrays = pg_unnest_insert(table, rows, ids if return_ids else None, first_parameter=1)
    await raw.execute(sql, *arrays)
    return ids


def pg_unnest_insert(
    table: Any, rows: list[dict[str, Any]], ids: list[int] | None, *, first_parameter: int
) -> tuple[str, list[list[Any]]]:
    """`INSERT INTO table (...) SELECT ... FROM unnest($n::type[], ...)` for PostgreSQL, and its arrays (one per
    column, JSON as text), numbering parameters from `first_parameter` so it can sit inside a larger statement."""
    names = (["id"] if ids is not None else []) + [n for n in rows[0] if not (n == "id" and ids is not None)]
    arrays: list[list[Any]] = []
    for name in names:
        if name == "id" and ids is not None:
            arrays.append(ids)
        elif _pg_type(table.c[name])[1]:
            arrays.append([None if r[name] is None else orjson.dumps(r[name]).decode() for r in rows])
        else:
            arrays.append([r[name] for r in rows])
    key = (table.name, tuple(names), first_parameter)
    sql = _PG_SQL_CACHE.get(key)
    if sql is None:
        casts = ", ".join(
            f"${n}::{_pg_type(table.c[name])[0]}[]" for n, name in enumerate(names, start=first_parameter)
        )
        selected = ", ".join(f"u.{n}::jsonb" if _pg_type(table.c[n])[1] else f"u.{n}" for n in names)
        sql = _PG_SQL_CACHE[key] = (
            f"INSERT INTO {table.name} ({', '.join(names)}) SELECT {selected} FROM unnest({casts}) AS u({', '.join(names)})"
        )
    return sql, arrays


async def allocate_ids(conn: Any, table: Any, count: int) -> list[int]:
    """`count` fresh ids for `table`, in order: from its sequence on PostgreSQL; on SQLite, after the largest id
    (safe because every writing SQLite transaction holds the database's write lock from its first statement)."""
    if count == 0:
        return []
    if conn.dialect.name == "postgresql":
        raw = await pg_driver(conn)
        return list(await raw.fetchval(
            "SELECT array_agg(nextval(pg_get_serial_sequence($1, 'id'))) FROM generate_series(1, $2)",
            table.name, count,
        ))
    from sqlalchemy import func, select

    top = (await conn.execute(select(func.coalesce(func.max(table.c.id), 0)))).scalar_one()
    return list(range(top + 1, top + 1 + count))
