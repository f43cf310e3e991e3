"""A small world for API tests: two brands, a warehouse, two stores, a village station, members and a token per role.

Built through the services (not raw SQL), so it obeys the same rules as anything a user creates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from unichannel.access.model import Role
from unichannel.access.service import issue_token
from unichannel.catalog import service as catalog
from unichannel.catalog.model import Channel, PriceDraft, ProductDraft, VariantDraft
from unichannel.customers import service as customers
from unichannel.inventory import service as inventory

PASSWORD = "correct horse battery"


@dataclass
class World:
    ids: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def _location(code: str, kind: str, lat: float, lon: float, merchant_id: int | None = None) -> dict:
    return {
        "code": code, "name": code.title(), "kind": kind, "merchant_id": merchant_id, "address": f"{code} street 1",
        "city": "Hangzhou", "region": "浙江省 杭州市", "latitude": lat, "longitude": lon, "details": {},
    }


def _product(handle: str, sku: str, price_minor: int, *, barcode: str | None = None, name: str = "") -> ProductDraft:
    return ProductDraft(
        handle=handle,
        name=name or handle.replace("-", " ").title(),
        category_path=["Clothing", "Tshirts"],
        variants=[VariantDraft(sku=sku, name="M", options={"Size": "M"}, barcode=barcode,
                               prices=[PriceDraft(Channel.ONLINE, "CNY", price_minor)])],
    )


async def build_world(env, *, warehouse_units: int = 10, store_units: int = 2) -> World:
    """brand-a sells TEE-M (¥99.00, barcode 6901234567892) and MUG-1 (¥45.50); brand-b sells its own TEE-M (¥80.00).
    Stock of brand-a's TEE-M: `warehouse_units` at WH, `store_units` at STORE-1. Members alice and bob."""
    world = World()
    async with env.uow() as uow:
        a = await catalog.create_merchant(uow, slug="brand-a", name="Brand A", kind="brand", country="CN", currency="CNY")
        b = await catalog.create_merchant(uow, slug="brand-b", name="Brand B", kind="brand", country="CN", currency="CNY")
        op = await catalog.create_merchant(
            uow, slug="stores-co", name="Stores Co", kind="store_operator", country="CN", currency="CNY"
        )
        world.ids.update(brand_a=a["id"], brand_b=b["id"], stores_co=op["id"])
        for code, kind, lat, lon, runner in (
            ("WH", "warehouse", 30.30, 120.00, None),
            ("STORE-1", "store", 30.2797, 120.1247, op["id"]),
            ("STORE-2", "store", 30.2910, 120.1567, op["id"]),
            ("STATION", "village_station", 29.3601, 119.2180, None),
        ):
            world.ids[code] = (await inventory.create_location(uow, _location(code, kind, lat, lon, runner)))["id"]
        for key, merchant, draft in (
            ("tee", a, _product("tee", "TEE-M", 9900, barcode="6901234567892", name="Cotton Tee")),
            ("mug", a, _product("mug", "MUG-1", 4550, name="Celadon Mug")),
            ("tee_b", b, _product("b-tee", "TEE-M", 8000, name="Other Tee")),
        ):
            applied = await catalog.apply_draft(uow, merchant["id"], draft)
            world.ids[f"{key}_product"] = applied.product_id
        from unichannel.catalog import repository as catalog_repository

        world.ids["tee"] = (await catalog_repository.get_variant_by_sku(uow.conn, a["id"], "TEE-M"))["id"]
        world.ids["mug"] = (await catalog_repository.get_variant_by_sku(uow.conn, a["id"], "MUG-1"))["id"]
        world.ids["tee_b"] = (await catalog_repository.get_variant_by_sku(uow.conn, b["id"], "TEE-M"))["id"]
        if warehouse_units:
            await inventory.receive(uow, None, world.ids["tee"], world.ids["WH"], warehouse_units, "PO-1")
            await inventory.receive(uow, None, world.ids["mug"], world.ids["WH"], warehouse_units, "PO-1")
        if store_units:
            await inventory.receive(uow, None, world.ids["tee"], world.ids["STORE-1"], store_units, "PO-2")
        await inventory.receive(uow, None, world.ids["tee_b"], world.ids["WH"], 5, "PO-3")
        alice = await customers.register(uow, phone="+8613900000101", email="alice@example.com", name="Alice",
                                         password=PASSWORD)
        bob = await customers.register(uow, phone="+8613900000202", email=None, name="Bob", password=PASSWORD)
        world.ids.update(alice=alice["id"], bob=bob["id"])
        for who, role, binding in (
            ("operator", Role.OPERATOR, {}),
            ("staff_a", Role.MERCHANT, {"merchant_id": a["id"]}),
            ("staff_b", Role.MERCHANT, {"merchant_id": b["id"]}),
            ("clerk_1", Role.CLERK, {"location_id": world.ids["STORE-1"]}),
            ("clerk_2", Role.CLERK, {"location_id": world.ids["STORE-2"]}),
            ("station_op", Role.CLERK, {"location_id": world.ids["STATION"]}),  # the village station's operator
            ("alice", Role.SHOPPER, {"customer_id": alice["id"]}),
            ("bob", Role.SHOPPER, {"customer_id": bob["id"]}),
        ):
            world.tokens[who] = (await issue_token(uow, role, name=who, **binding)).token
    return world


VILLAGER = {"name": "Wang Fang", "phone": "+8613900000303", "line1": "3 Village Road", "city": "Jiande",
            "latitude": 29.3700, "longitude": 119.2200}  # about 1 km from STATION, within its service area

HOME = {"mode": "home_delivery", "address": {"name": "Alice", "phone": "+8613900000101", "line1": "1 Wensan Rd",
                                             "city": "Hangzhou", "latitude": 30.28, "longitude": 120.13}}


async def stock_of(env, variant_id: int, location_id: int) -> tuple[int, int]:
    """(on_hand, reserved) straight from the database."""
    from unichannel.inventory import repository

    async with env.uow() as uow:
        level = await repository.get_level(uow.conn, variant_id, location_id)
    return (level.on_hand, level.reserved) if level else (0, 0)


async def count(env, table) -> int:
    from sqlalchemy import func, select

    async with env.uow() as uow:
        return (await uow.conn.execute(select(func.count()).select_from(table))).scalar_one()
