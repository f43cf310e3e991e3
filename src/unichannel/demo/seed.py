"""Seeds the demo world into a database: merchants of every kind, real places, catalogs, stock and members.

Seeding is idempotent: a database that already has merchants is left as it is. Demo tokens are issued fresh on
every start (only their hashes are stored).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from currency_converter import CurrencyConverter

from unichannel.access.model import Role
from unichannel.access.service import issue_token
from unichannel.catalog import repository as catalog_repository
from unichannel.catalog import service as catalog
from unichannel.catalog.imports import parse_woocommerce
from unichannel.catalog.model import Channel, ParsedFile, PriceDraft, ProductDraft, VariantDraft
from unichannel.customers import service as customers
from unichannel.demo import world
from unichannel.inventory import repository as inventory_repository
from unichannel.inventory import service as inventory
from unichannel.uow import UnitOfWorkFactory

DEMO_PASSWORD = "unichannel-demo"  # demo members only; printed by `unichannel demo`
BRAND_WAREHOUSE, BONDED_WAREHOUSE, COOP_WAREHOUSE = "WH-EAST", "WH-BONDED", "WH-COOP-SANDU"
STORE_SHELF = {"HZ-WESTLAKE": 3, "HZ-GONGSHU": 5, "SH-JINGAN": 4, "CD-CHUNXI": 2}  # units of each SKU per store
UNTRACKED_START = 60  # units received for SKUs whose source file gives no stock figure


@dataclass(slots=True)
class DemoSummary:
    seeded: bool
    merchants: int = 0
    locations: int = 0
    products: int = 0
    issues: list[str] = field(default_factory=list)
    fx_note: str = ""
    orders: int = 0


def with_cny_prices(parsed: ParsedFile, converter: CurrencyConverter, on: date) -> ParsedFile:
    """Adds a CNY online price to every USD-priced variant at the ECB reference rate of `on`, to the whole yuan:
    the overseas brand's price list for shoppers in China."""
    for product in parsed.products:
        for variant in product.variants:
            usd = next((p for p in variant.prices if p.currency == "USD"), None)
            if usd is None or any(p.currency == "CNY" for p in variant.prices):
                continue
            yuan = Decimal(str(converter.convert(usd.amount_minor / 100, "USD", "CNY", date=on)))
            variant.prices.append(
                PriceDraft(Channel.ONLINE, "CNY", int(yuan.quantize(Decimal(1), ROUND_HALF_UP)) * 100)
            )
    return parsed


def produce_drafts() -> ParsedFile:
    drafts = [
        ProductDraft(
            handle=item.sku.lower(),
            name=f"{item.name} {item.unit}",
            description=f"{item.name_en}, {item.unit}. Best within {item.shelf_life_days} days of packing.",
            category_path=["Fresh produce", item.category],
            tags=["fresh", "farm-direct"],
            variants=[
                VariantDraft(
                    sku=item.sku, name=item.unit, barcode=item.barcode,
                    prices=[PriceDraft(Channel.ONLINE, "CNY", item.price_minor)],
                )
            ],
        )
        for item in world.farm_produce()
    ]
    return ParsedFile(products=drafts, issues=[], rows_read=len(drafts))


async def seed(uow_factory: UnitOfWorkFactory) -> DemoSummary:
    """Creates the demo world in one transaction, unless the database already has merchants."""
    async with uow_factory() as uow:
        if await catalog_repository.list_merchants(uow.conn):
            return DemoSummary(seeded=False)
        summary = DemoSummary(seeded=True)
        merchant_ids = {}
        for m in world.merchants():
            merchant_ids[m.slug] = (await catalog.create_merchant(
                uow, slug=m.slug, name=m.name, kind=m.kind, country=m.country, currency=m.currency
            ))["id"]
        location_ids = {}
        for loc in world.locations():
            row = await inventory.create_location(uow, {
                "code": loc.code, "name": loc.name, "kind": loc.kind,
                "merchant_id": merchant_ids.get(loc.merchant_slug) if loc.merchant_slug else None,
                "address": loc.address, "city": loc.city, "region": loc.region,
                "latitude": loc.latitude, "longitude": loc.longitude, "details": {},
            })
            location_ids[loc.code] = row["id"]
        converter = CurrencyConverter(fallback_on_missing_rate=True, fallback_on_wrong_date=True)
        rate_date = converter.bounds["CNY"].last_date
        summary.fx_note = f"Saleor Goods' CNY prices: USD at the ECB reference rate of {rate_date.isoformat()}"
        catalogs = [
            ("woo-apparel", parse_woocommerce(world.data_path("woocommerce_sample_products.csv").read_text("utf-8-sig"),
                                              "CNY"), BRAND_WAREHOUSE),
            ("saleor-goods", with_cny_prices(world.saleor_catalog(), converter, rate_date), BONDED_WAREHOUSE),
            (world.merchants()[2].slug, produce_drafts(), COOP_WAREHOUSE),
        ]
        for slug, parsed, warehouse in catalogs:
            report = await catalog.import_parsed(
                uow, merchant_ids[slug], parsed, stock_location_id=location_ids[warehouse]
            )
            summary.products += report.products_created
            summary.issues += [f"{slug} line {i.line}: {i.reason}" for i in report.issues]
            await _stock_untracked_and_shelves(uow, merchant_ids[slug], location_ids, warehouse)
        for member in world.members():
            await customers.register(
                uow, phone=member.phone, email=member.email, name=member.name, password=DEMO_PASSWORD
            )
        summary.merchants, summary.locations = len(merchant_ids), len(location_ids)
        return summary


async def _stock_untracked_and_shelves(uow, merchant_id: int, location_ids: dict[str, int], warehouse: str) -> None:
    """Receives stock for SKUs the file gave no figure for, then stocks each store's shelf from the warehouse."""
    warehouse_id = location_ids[warehouse]
    products = await catalog_repository.search_products(
        uow.conn, text=None, category_ids=None, merchant_id=merchant_id, only_active=True, limit=10_000, offset=0
    )
    for variant in await catalog_repository.variants_of(uow.conn, [p["id"] for p in products]):
        level = await inventory_repository.get_level(uow.conn, variant["id"], warehouse_id)
        if level is None or level.on_hand == 0:
            await inventory.receive(uow, None, variant["id"], warehouse_id, UNTRACKED_START, "demo opening stock")
            level = await inventory_repository.get_level(uow.conn, variant["id"], warehouse_id)
        for code, units in STORE_SHELF.items():
            if level.available >= units * 4:
                await inventory.transfer(uow, None, variant["id"], warehouse_id, location_ids[code], units)
                level = await inventory_repository.get_level(uow.conn, variant["id"], warehouse_id)


@dataclass(frozen=True, slots=True)
class DemoTokens:
    operator: str
    merchant: str
    clerk: str
    shopper: str
    shopper_phone: str


async def issue_demo_tokens(uow_factory: UnitOfWorkFactory) -> DemoTokens:
    """Fresh tokens for each role, to try the API with."""
    async with uow_factory() as uow:
        merchant = await catalog_repository.get_merchant_by_slug(uow.conn, "woo-apparel")
        store = await inventory_repository.get_location_by_code(uow.conn, "HZ-WESTLAKE")
        shopper = world.members()[0]
        customer = await customers.lookup(uow, phone=shopper.phone)
        operator = await issue_token(uow, Role.OPERATOR, name="demo operator")
        staff = await issue_token(uow, Role.MERCHANT, name="demo merchant staff", merchant_id=merchant["id"])
        clerk = await issue_token(uow, Role.CLERK, name="demo clerk", location_id=store["id"])
        member = await issue_token(uow, Role.SHOPPER, name="demo shopper", customer_id=customer["id"])
        return DemoTokens(operator.token, staff.token, clerk.token, member.token, shopper.phone or "")
