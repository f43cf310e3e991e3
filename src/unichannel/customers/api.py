"""Member and sign-in HTTP routes under /api/v1."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from unichannel.access.model import Role
from unichannel.customers import service
from unichannel.customers.schemas import CustomerOut, MeOut, RegisterIn, SignInIn, TokenOut
from unichannel.errors import InvalidInput
from unichannel.web import Caller, MaybeCaller, new_uow

router = APIRouter(tags=["customers"])


@router.post("/customers", response_model=TokenOut, status_code=201)
async def register(request: Request, caller: MaybeCaller, body: RegisterIn) -> TokenOut:
    """A shopper signs up on the web (with a password: the reply carries a shopper token), or a clerk enrols a
    walk-in member at the till by phone (no password, no token)."""
    if caller is not None and caller.role is Role.SHOPPER:
        raise InvalidInput("you are signed in already", field="phone")
    if caller is None and not body.password:
        raise InvalidInput("choose a password to sign up", field="password")
    async with new_uow(request) as uow:
        customer = await service.register(
            uow, phone=body.phone, email=body.email, name=body.name, password=body.password, locale=body.locale
        )
        if caller is not None:
            return TokenOut(token="", role=Role.SHOPPER.value, customer=CustomerOut(**customer))
        _, issued = await service.sign_in_issued(uow, customer)
        return TokenOut(token=issued.token, role=issued.role.value, customer=CustomerOut(**customer))


@router.post("/auth/token", response_model=TokenOut)
async def sign_in(request: Request, body: SignInIn) -> TokenOut:
    async with new_uow(request) as uow:
        customer, issued = await service.sign_in(uow, body.identifier, body.password)
        return TokenOut(token=issued.token, role=issued.role.value, customer=CustomerOut(**customer))


@router.get("/me", response_model=MeOut)
async def me(request: Request, caller: Caller) -> MeOut:
    customer = None
    if caller.customer_id is not None:
        async with new_uow(request, read_only=True) as uow:
            customer = CustomerOut(**await service.get(uow, caller.customer_id))
    return MeOut(
        role=caller.role.value, customer=customer, merchant_id=caller.merchant_id, location_id=caller.location_id
    )


@router.get("/customers/lookup", response_model=CustomerOut)
async def lookup(
    request: Request,
    caller: Caller,
    phone: Annotated[str | None, Query(max_length=32)] = None,
    email: Annotated[str | None, Query(max_length=254)] = None,
) -> dict[str, Any]:
    """A clerk identifies a member at the till by phone (or email)."""
    caller.require(Role.CLERK, Role.OPERATOR)
    if not phone and not email:
        raise InvalidInput("give a phone or an email", field="phone")
    async with new_uow(request, read_only=True) as uow:
        return await service.lookup(uow, phone=phone, email=email)
