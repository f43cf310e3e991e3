"""A flash sale for tests: one SKU, a warehouse and a participating store in its pool, buyers with shopper tokens."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from unichannel.access.model import Role
from unichannel.access.service import issue_token
from unichannel.catalog import repository as catalog_repository
from unichannel.catalog import service as catalog
from unichannel.catalog.model import Channel, PriceDraft, ProductDraft, VariantDraft
from unichannel.customers import service as customers
from unichannel.inventory import service as inventory
from unichannel.promotions import service as promotions

PRICE = 9900  # ¥99.00, the flash price


@dataclass
class FlashWorld:
    sale_id: int
    variant_id: int
    warehouse_id: int
    store_id: int
    other_store_id: int
    buyers: list[int] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def _location(code: str, kind: str) -> dict:
    return {"code": code, "name": code, "kind": kind, "merchant_id": None, "address": "1 Road", "city": "Hangzhou",
            "region": "", "latitude": 30.27, "longitude": 120.15, "details": {}}


async def build_flash_world(
    uow_factory, now, *, units: int, warehouse_units: int | None = None, store_units: int = 0, limit: int = 2,
    buyers: int = 3, opens_in: timedelta = timedelta(0), tokens: bool = True,
) -> FlashWorld:
    """A sale of `units` units of SKU FLASH-1 at ¥99, opening `opens_in` from `now` for one hour."""
    async with uow_factory() as uow:
        merchant = await catalog.create_merchant(uow, slug="flash-brand", name="Flash", kind="brand", country="CN",
                                                 currency="CNY")
        warehouse = (await inventory.create_location(uow, _location("WH-F", "warehouse")))["id"]
        store = (await inventory.create_location(uow, _location("STORE-F", "store")))["id"]
        other = (await inventory.create_location(uow, _location("STORE-X", "store")))["id"]
        draft = ProductDraft(handle="flash", name="Flash Kettle", variants=[
            VariantDraft(sku="FLASH-1", name="white", prices=[PriceDraft(Channel.ONLINE, "CNY", 19900)])])
        product_id = (await catalog.apply_draft(uow, merchant["id"], draft)).product_id
        [variant] = await catalog_repository.variants_of(uow.conn, [product_id])
        await inventory.receive(uow, None, variant["id"], warehouse, warehouse_units or units, "PO-F")
        if store_units:
            await inventory.receive(uow, None, variant["id"], store, store_units, "PO-F")
        sale = await promotions.create_sale(
            uow, merchant["id"], variant_id=variant["id"], location_ids=[warehouse, store], name="11.11 kettle",
            currency="CNY", price_minor=PRICE, quantity=units, per_customer_limit=limit,
            starts_at=now + opens_in, ends_at=now + opens_in + timedelta(hours=1),
        )
        world = FlashWorld(sale["id"], variant["id"], warehouse, store, other)
        for n in range(buyers):
            member = await customers.register(uow, phone=f"+86138{n:08d}", email=None, name=f"buyer {n}", password=None)
            world.buyers.append(member["id"])
            if tokens:
                world.tokens[f"buyer{n}"] = (await issue_token(uow, Role.SHOPPER, name=f"buyer{n}",
                                                               customer_id=member["id"])).token
        if tokens:
            world.tokens["clerk"] = (await issue_token(uow, Role.CLERK, name="clerk", location_id=store)).token
            world.tokens["other_clerk"] = (await issue_token(uow, Role.CLERK, name="x", location_id=other)).token
            world.tokens["operator"] = (await issue_token(uow, Role.OPERATOR, name="op")).token
    return world
