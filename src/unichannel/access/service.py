"""Issuing and checking API tokens and passwords."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy.ext.asyncio import AsyncEngine

from unichannel.access import repository
from unichannel.access.model import TOKEN_PREFIX, Principal, Role, split_token, token_binding_errors
from unichannel.clock import Clock
from unichannel.db import READ_ONLY_OPTION
from unichannel.errors import Unauthenticated
from unichannel.uow import UnitOfWork

# Passwords are chosen by people, so they get argon2id at its recommended (slow) cost. API token secrets are 256 random
# bits, which no amount of guessing finds; they get argon2id at OWASP's minimum cost (19 MiB, 2 passes), so checking
# a new token costs milliseconds, not a tenth of a second.
password_hasher = PasswordHash.recommended()
token_hasher = PasswordHash((Argon2Hasher(time_cost=2, memory_cost=19_456, parallelism=1),))


def hash_secret(secret: str) -> str:
    """An argon2id hash of a person's password."""
    return password_hasher.hash(secret)


def verify_secret(secret: str, hashed: str) -> bool:
    return password_hasher.verify(secret, hashed)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    id: int
    token: str  # shown once; only its hash is stored
    role: Role


async def issue_token(
    uow: UnitOfWork,
    role: Role,
    *,
    name: str,
    customer_id: int | None = None,
    merchant_id: int | None = None,
    location_id: int | None = None,
    expires_at: datetime | None = None,
) -> IssuedToken:
    """Creates a token bound to what its role needs; the plain token is returned once and never stored."""
    token_binding_errors(role, customer_id, merchant_id, location_id)
    public_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    token_id = await repository.insert_token(
        uow.conn,
        {
            "public_id": public_id,
            "secret_hash": await asyncio.to_thread(token_hasher.hash, secret),
            "role": role.value,
            "name": name,
            "customer_id": customer_id,
            "merchant_id": merchant_id,
            "location_id": location_id,
            "created_at": uow.now(),
            "expires_at": expires_at,
        },
    )
    return IssuedToken(token_id, f"{TOKEN_PREFIX}_{public_id}_{secret}", role)


class TokenAuthenticator:
    """Checks bearer tokens against their argon2 hashes, remembering a verified token for a short while.

    argon2 is deliberately slow (tens of milliseconds); without the cache every API call would pay it. A revoked
    token stops working within `cache_seconds`.
    """

    def __init__(self, engine: AsyncEngine, clock: Clock, cache_seconds: float) -> None:
        self._engine = engine
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._cache: dict[bytes, tuple[Principal, float]] = {}
        self._verifying: dict[bytes, asyncio.Future[Principal]] = {}

    async def authenticate(self, token: str) -> Principal:
        digest = hashlib.sha256(token.encode()).digest()
        cached = self._cache.get(digest)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        # One verification per token at a time: when a shopper's many requests arrive together (a sale opening),
        # they wait for the one argon2 check instead of each burning CPU on its own.
        pending = self._verifying.get(digest)
        if pending is None:
            pending = self._verifying[digest] = asyncio.ensure_future(self._verify(token))
            pending.add_done_callback(lambda _: self._verifying.pop(digest, None))
        principal = await asyncio.shield(pending)
        if len(self._cache) > 50_000:
            self._cache.clear()
        self._cache[digest] = (principal, time.monotonic() + self._cache_seconds)
        return principal

    def forget(self) -> None:
        self._cache.clear()

    async def _verify(self, token: str) -> Principal:
        try:
            public_id, secret = split_token(token)
        except ValueError:
            raise Unauthenticated("the API token is malformed") from None
        async with self._engine.connect() as conn:
            await conn.execution_options(**{READ_ONLY_OPTION: True})
            row = await repository.get_token_by_public_id(conn, public_id)
        now = self._clock.now()
        # argon2 burns CPU for tens of milliseconds: keep it off the event loop.
        if row is None or not await asyncio.to_thread(token_hasher.verify, secret, row["secret_hash"]):
            raise Unauthenticated("the API token is not valid")
        if row["revoked_at"] is not None:
            raise Unauthenticated("the API token was revoked")
        if row["expires_at"] is not None and row["expires_at"] <= now:
            raise Unauthenticated("the API token has expired")
        return Principal(
            token_id=row["id"],
            role=Role(row["role"]),
            customer_id=row["customer_id"],
            merchant_id=row["merchant_id"],
            location_id=row["location_id"],
            location_kind=row["location_kind"],
        )
