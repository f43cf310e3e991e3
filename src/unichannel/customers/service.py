"""Member use cases: register on the web or at a till, sign in, look a member up by phone."""

from __future__ import annotations

import asyncio
from typing import Any

from unichannel.access.model import Role
from unichannel.access.service import IssuedToken, hash_secret, issue_token, verify_secret
from unichannel.customers import repository
from unichannel.customers.model import (
    check_identity,
    check_password,
    identifier_kind,
    normalise_email,
    normalise_phone,
)
from unichannel.errors import AlreadyExists, InvalidInput, NotFound, Unauthenticated
from unichannel.uow import UnitOfWork


async def register(
    uow: UnitOfWork, *, phone: str | None, email: str | None, name: str, password: str | None, locale: str = "zh_CN"
) -> dict[str, Any]:
    """Creates a member known by phone and/or email; neither may belong to another member."""
    phone, email = check_identity(phone, email)
    for field, value in (("phone", phone), ("email", email)):
        if value and await repository.find_customer(uow.conn, **{field: value}) is not None:
            raise AlreadyExists(f"a member with this {field} exists", field=field)
    password_hash = await asyncio.to_thread(hash_secret, check_password(password)) if password else None
    customer_id = await repository.insert_customer(
        uow.conn,
        {
            "phone": phone,
            "email": email,
            "name": name.strip(),
            "password_hash": password_hash,
            "locale": locale,
            "created_at": uow.now(),
        },
    )
    uow.emit("customer.registered", "customer", customer_id, {"customer_id": customer_id})
    return await get(uow, customer_id)


async def get(uow: UnitOfWork, customer_id: int) -> dict[str, Any]:
    customer = await repository.get_customer(uow.conn, customer_id)
    if customer is None:
        raise NotFound("no such member", field="customer_id")
    return customer


async def lookup(uow: UnitOfWork, *, phone: str | None = None, email: str | None = None) -> dict[str, Any]:
    """The member with this phone (or email), as a clerk identifies one at the till."""
    if phone:
        customer = await repository.find_customer(uow.conn, phone=normalise_phone(phone))
    else:
        customer = await repository.find_customer(uow.conn, email=normalise_email(email or ""))
    if customer is None:
        raise NotFound("no member with that phone or email")
    return customer


async def sign_in(uow: UnitOfWork, identifier: str, password: str) -> tuple[dict[str, Any], IssuedToken]:
    """A shopper token for a member whose password matches; the same answer for an unknown member and a bad password."""
    try:
        if identifier_kind(identifier) == "email":
            customer = await repository.find_customer(uow.conn, email=normalise_email(identifier))
        else:
            customer = await repository.find_customer(uow.conn, phone=normalise_phone(identifier))
    except InvalidInput:  # a malformed identifier is simply no member
        customer = None
    hashed = customer["password_hash"] if customer else None
    if customer is None or hashed is None or not await asyncio.to_thread(verify_secret, password, hashed):
        raise Unauthenticated("phone/email or password is wrong")
    return await sign_in_issued(uow, customer)


async def sign_in_issued(uow: UnitOfWork, customer: dict[str, Any]) -> tuple[dict[str, Any], IssuedToken]:
    """A new shopper token for a member whose identity was just proven (password, or sign-up)."""
    token = await issue_token(uow, Role.SHOPPER, name="sign-in", customer_id=customer["id"])
    return customer, token
