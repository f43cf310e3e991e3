"""Inventory HTTP routes under /api/v1."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from unichannel.access.model import Principal, Role
from unichannel.api_types import OptionalIdQuery
from unichannel.catalog import service as catalog_service
from unichannel.errors import NotFound
from unichannel.inventory import repository, service
from unichannel.inventory.model import LocationKind, StockLevel
from unichannel.inventory.schemas import (
    AdjustIn,
    LocationIn,
    LocationOut,
    LotOut,
    MovementOut,
    ReceiveIn,
    SafetyStockIn,
    StockLevelOut,
    TransferIn,
    TransferOut,
)
from unichannel.web import Caller, new_uow

router = APIRouter(tags=["inventory"])


def _level_out(variant_id: int, location_id: int, level: StockLevel) -> StockLevelOut:
    return StockLevelOut(
        variant_id=variant_id, location_id=location_id, on_hand=level.on_hand, reserved=level.reserved,
        safety_stock=level.safety_stock, available=level.available,
    )


@router.get("/locations", response_model=list[LocationOut])
async def list_locations(request: Request, kind: LocationKind | None = None) -> list[dict[str, Any]]:
    async with new_uow(request, read_only=True) as uow:
        rows = await repository.list_locations(uow.conn, kind=kind.value if kind else None)
        return [r for r in rows if r["is_active"]]


@router.post("/locations", response_model=LocationOut, status_code=201)
async def create_location(request: Request, caller: Caller, body: LocationIn) -> dict[str, Any]:
    """Operators add any location; merchant staff add locations their merchant runs."""
    caller.require(Role.OPERATOR, Role.MERCHANT)
    async with new_uow(request) as uow:
        values = body.model_dump(mode="json", exclude={"merchant"})
        values["merchant_id"] = None
        if body.merchant is not None:
            values["merchant_id"] = (await catalog_service.merchant_by_slug(uow, body.merchant))["id"]
        if caller.role is Role.MERCHANT:
            if values["merchant_id"] not in (None, caller.merchant_id):
                raise NotFound(f"no merchant {body.merchant!r}", field="merchant")
            values["merchant_id"] = caller.merchant_id
        return await service.create_location(uow, values)


def _stock_scope(caller: Principal, location_id: int | None) -> tuple[int | None, int | None]:
    """(merchant filter, location filter) for stock queries: staff see their merchant's, clerks their store's."""
    if caller.role is Role.MERCHANT:
        return caller.merchant_id, location_id
    if caller.role is Role.CLERK:
        if location_id not in (None, caller.location_id):
            raise NotFound("no such location", field="location_id")
        return None, caller.location_id
    caller.require(Role.OPERATOR)
    return None, location_id


@router.get("/stock", response_model=list[StockLevelOut])
async def list_stock(
    request: Request,
    caller: Caller,
    variant_id: OptionalIdQuery = None,
    location_id: OptionalIdQuery = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[StockLevelOut]:
    merchant_id, location_id = _stock_scope(caller, location_id)
    async with new_uow(request, read_only=True) as uow:
        rows = await repository.stock_rows(
            uow.conn, variant_ids=[variant_id] if variant_id else None, location_id=location_id,
            merchant_id=merchant_id, limit=limit, offset=offset,
        )
        return [
            _level_out(r["variant_id"], r["location_id"], StockLevel(r["on_hand"], r["reserved"], r["safety_stock"]))
            for r in rows
        ]


@router.post("/stock/receive", response_model=StockLevelOut)
async def receive(request: Request, caller: Caller, body: ReceiveIn) -> StockLevelOut:
    caller.require(Role.OPERATOR, Role.MERCHANT, Role.CLERK)
    async with new_uow(request) as uow:
        lot = (body.lot.code, body.lot.best_before) if body.lot else None
        level = await service.receive(uow, caller, body.variant_id, body.location_id, body.quantity, body.reference,
                                      lot)
        return _level_out(body.variant_id, body.location_id, level)


@router.post("/stock/adjust", response_model=StockLevelOut)
async def adjust(request: Request, caller: Caller, body: AdjustIn) -> StockLevelOut:
    caller.require(Role.OPERATOR, Role.MERCHANT, Role.CLERK)
    async with new_uow(request) as uow:
        level = await service.adjust(uow, caller, body.variant_id, body.location_id, body.delta, body.reason,
                                     body.lot_code)
        return _level_out(body.variant_id, body.location_id, level)


@router.post("/stock/transfer", response_model=TransferOut)
async def transfer(request: Request, caller: Caller, body: TransferIn) -> TransferOut:
    caller.require(Role.OPERATOR, Role.MERCHANT, Role.CLERK)
    async with new_uow(request) as uow:
        source, destination = await service.transfer(
            uow, caller, body.variant_id, body.from_location_id, body.to_location_id, body.quantity, body.lot_code
        )
        return TransferOut(
            source=_level_out(body.variant_id, body.from_location_id, source),
            destination=_level_out(body.variant_id, body.to_location_id, destination),
        )


@router.put("/stock/safety", response_model=StockLevelOut)
async def set_safety_stock(request: Request, caller: Caller, body: SafetyStockIn) -> StockLevelOut:
    caller.require(Role.OPERATOR, Role.MERCHANT)
    async with new_uow(request) as uow:
        level = await service.set_safety_stock(uow, caller, body.variant_id, body.location_id, body.safety_stock)
        return _level_out(body.variant_id, body.location_id, level)


@router.get("/stock/movements", response_model=list[MovementOut])
async def list_movements(
    request: Request,
    caller: Caller,
    variant_id: OptionalIdQuery = None,
    location_id: OptionalIdQuery = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    merchant_id, location_id = _stock_scope(caller, location_id)
    async with new_uow(request, read_only=True) as uow:
        return await repository.list_movements(
            uow.conn, variant_id=variant_id, location_id=location_id, merchant_id=merchant_id, limit=limit
        )


@router.get("/stock/lots", response_model=list[LotOut])
async def list_lots(
    request: Request,
    caller: Caller,
    variant_id: OptionalIdQuery = None,
    location_id: OptionalIdQuery = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Lots with units left, earliest best-before date first (the order they are picked in)."""
    merchant_id, location_id = _stock_scope(caller, location_id)
    async with new_uow(request, read_only=True) as uow:
        return await repository.list_lots(
            uow.conn, variant_id=variant_id, location_id=location_id, merchant_id=merchant_id, limit=limit
        )
