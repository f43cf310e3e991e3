"""Idempotency keys: the same key with the same request returns the first result; with another request, 409.

The key is claimed with an INSERT that conflicts on (caller, key) in the same transaction as the work. On PostgreSQL
a second request with the key waits on the first one's uncommitted row: if the first commits, the second replays its
stored response; if it rolls back (an error), the second does the work. Only successful results are stored, so a
request that failed may be retried with the same key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Column, Integer, String, Table, UniqueConstraint, bindparam, select, update

from unichannel.db import Id, Json, UTCDateTime, metadata, upsert_insert
from unichannel.errors import IdempotencyKeyReused, InvalidInput
from unichannel.uow import UnitOfWork

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("caller", String(64), nullable=False),
    Column("key", String(200), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("resource", String(64), nullable=True),  # e.g. "checkout:12", what the first request created
    Column("status_code", Integer, nullable=True),
    Column("response", Json, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("caller", "key", name="uq_idempotency_keys_caller_key"),
)


@dataclass(frozen=True, slots=True)
class Replay:
    status_code: int
    response: Any


def request_hash(method: str, path: str, body: Any) -> str:
    """A fingerprint of what was asked: method, path and the body with keys sorted."""
    canonical = orjson.dumps([method.upper(), path, body], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def check_key(key: str) -> str:
    if not key or len(key) > 200 or not key.isprintable():
        raise InvalidInput("an Idempotency-Key is 1-200 printable characters", field="Idempotency-Key")
    return key


async def claim(uow: UnitOfWork, caller: str, key: str, fingerprint: str) -> int | Replay:
    """Claims the key for this request (returns the claim id) or returns the earlier result to replay."""
    check_key(key)
    conn = uow.conn
    statement = (
        upsert_insert(conn, idempotency_keys)
        .values(caller=caller, key=key, request_hash=fingerprint, created_at=uow.now())
        .on_conflict_do_nothing(index_elements=["caller", "key"])
        .returning(idempotency_keys.c.id)
    )
    claimed = (await conn.execute(statement)).scalar_one_or_none()
    if claimed is not None:
        return claimed
    query = select(idempotency_keys).where(idempotency_keys.c.caller == caller, idempotency_keys.c.key == key)
    earlier = (await conn.execute(query)).mappings().one()
    if earlier["request_hash"] != fingerprint:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was used for a different request", field="Idempotency-Key"
        )
    return Replay(earlier["status_code"], earlier["response"])


async def record(uow: UnitOfWork, claim_id: int, resource: str, status_code: int, response: Any) -> None:
    """Stores the result under the claimed key, in the same transaction as the work it describes."""
    await uow.conn.execute(
        update(idempotency_keys)
        .where(idempotency_keys.c.id == claim_id)
        .values(resource=resource, status_code=status_code, response=response)
    )


async def claim_many(conn: Any, rows: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """Claims many keys in one statement; returns the (caller, key) pairs this transaction now owns, with claim ids.
    A key another transaction holds is not returned (on PostgreSQL, after waiting for that transaction to end).
    (A flash-sale batch on PostgreSQL claims its keys the same way inside `flash_batch_apply`, each with the answer
    it will give if it wins already in it, migrations 0008 and 0011.)"""
    for row in rows:
        check_key(row["key"])
    statement = (
        upsert_insert(conn, idempotency_keys)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["caller", "key"])
        .returning(idempotency_keys.c.caller, idempotency_keys.c.key, idempotency_keys.c.id)
    )
    return {(row.caller, row.key): row.id for row in await conn.execute(statement)}


async def record_rows(conn: Any, results: list[tuple[int, str, int, Any]]) -> None:
    """Stores many results, each (claim id, resource, status, response), in one statement."""
    if not results:
        return
    await conn.execute(
        update(idempotency_keys).where(idempotency_keys.c.id == bindparam("b_id")).values(
            resource=bindparam("b_resource"), status_code=bindparam("b_status"), response=bindparam("b_response")),
        [{"b_id": r[0], "b_resource": r[1], "b_status": r[2], "b_response": r[3]} for r in results],
    )


async def earlier(uow: UnitOfWork, caller: str, key: str) -> dict[str, Any]:
    """The committed record of a key claimed before."""
    query = select(idempotency_keys).where(idempotency_keys.c.caller == caller, idempotency_keys.c.key == key)
    return dict((await uow.conn.execute(query)).mappings().one())
