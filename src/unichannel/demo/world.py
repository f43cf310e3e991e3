"""The demo world as plain data: merchants, locations, named addresses, members, a cooperative's produce and the Saleor
sample catalog.

Pure: reads only the files in `demo/data` (stdlib csv/json); no database, HTTP or clock. Storing the world is someone
else's job (the `unichannel demo` command). Every call returns new objects and the same values every time.
"""

from __future__ import annotations

import csv
import functools
import html
import json
import math
import pathlib
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from unichannel.catalog.model import (
    Channel,
    ImportIssue,
    MerchantKind,
    ParsedFile,
    PriceDraft,
    ProductDraft,
    VariantDraft,
    validate_draft,
)
from unichannel.demo import places
from unichannel.errors import InvalidInput
from unichannel.money import check_currency, minor_digits, parse_amount

DATA_DIR = pathlib.Path(__file__).parent / "data"
SALEOR_FILE = "saleor_populatedb_data.json"
WOOCOMMERCE_FILE = "woocommerce_sample_products.csv"

EARTH_RADIUS_M = 6_371_008.8  # mean radius; the same sphere the distance rules use
METRES_PER_DEGREE = EARTH_RADIUS_M * math.pi / 180


@dataclass(frozen=True, slots=True)
class MerchantSeed:
    slug: str
    name: str
    kind: str  # a catalog MerchantKind value: brand | overseas_brand | farm_cooperative | store_operator
    country: str  # ISO 3166 alpha-2
    currency: str  # ISO 4217, the currency the merchant prices in


@dataclass(frozen=True, slots=True)
class LocationSeed:
    code: str
    name: str
    kind: str  # an inventory LocationKind value: warehouse | store | village_station | popup
    merchant_slug: str | None  # who runs it; None = the platform operator
    city: str  # English city name ("Hangzhou"), the same names members use
    region: str  # province and city in Chinese from cpca: "浙江省 杭州市"; a municipality alone: "上海市"
    address: str
    latitude: float  # WGS 84 degrees, from GeoNames
    longitude: float


@dataclass(frozen=True, slots=True)
class NamedPlaceSeed:
    name: str  # as `unichannel delivery-options --place` takes it
    description: str
    latitude: float  # WGS 84 degrees, from GeoNames
    longitude: float


@dataclass(frozen=True, slots=True)
class MemberSeed:
    name: str
    phone: str | None  # E.164
    email: str | None
    city: str


@dataclass(frozen=True, slots=True)
class ProduceSeed:
    sku: str
    name: str
    name_en: str
    unit: str
    price_minor: int  # CNY fen
    barcode: str  # EAN-13
    shelf_life_days: int
    category: str


def data_path(name: str) -> pathlib.Path:
    """The path of an existing file in demo/data; refuses names that leave the directory."""
    path = (DATA_DIR / name).resolve()
    if DATA_DIR.resolve() not in path.parents:
        raise ValueError(f"{name!r} is not a file name inside demo/data")
    if not path.is_file():
        raise FileNotFoundError(f"no demo data file {name!r}")
    return path


# --- merchants, members, produce ----------------------------------------------------------------------------------

_MERCHANTS = (
    MerchantSeed("woo-apparel", "Woo Apparel", MerchantKind.BRAND.value, "CN", "CNY"),
    MerchantSeed("saleor-goods", "Saleor Goods", MerchantKind.OVERSEAS_BRAND.value, "US", "USD"),
    MerchantSeed(places.COOPERATIVE, "建德新安江茶果专业合作社", MerchantKind.FARM_COOPERATIVE.value, "CN", "CNY"),
    MerchantSeed(places.STORE_OPERATOR, "湖畔优选", MerchantKind.STORE_OPERATOR.value, "CN", "CNY"),
)

# Invented people: the numbers follow Chinese mobile prefixes with a 0000 block, the mail domains are RFC 2606 ones.
_MEMBERS = (
    MemberSeed("王芳", "+8613900000101", "wang.fang@example.com", "Hangzhou"),
    MemberSeed("陈静", "+8618600000202", None, "Hangzhou"),
    MemberSeed("张磊", None, "zhang.lei@example.com", "Shanghai"),
    MemberSeed("刘晓雨", "+8615000000303", None, "Chengdu"),
    MemberSeed("孙建国", "+8613700000404", None, places.STATION_HUB_CITY),
    MemberSeed("周婷", "+8617700000505", "zhou.ting@example.com", "Beijing"),
    MemberSeed("Emily Carter", None, "emily.carter@example.com", "Shanghai"),
    MemberSeed("James Wilson", "+8619900000606", "james.wilson@example.net", "Hangzhou"),
)

# (sku, name, English name, unit, CNY price, first 12 barcode digits, shelf life in days, category).
# Barcodes use GS1 prefix 200 (restricted circulation, in-store numbering), so none can clash with a real product.
# fmt: off
_PRODUCE = (
    ("XAJ-TEA-BAOCHA-250", "建德苞茶（明前特级）", "Jiande Baocha green tea, pre-Qingming", "250 g tin", "268.00",
     "200182000001", 540, "Tea"),
    ("XAJ-TEA-BLACK-200", "新安江红茶", "Xin'anjiang black tea", "200 g box", "128.00", "200182000002", 730, "Tea"),
    ("XAJ-BAYBERRY-1KG", "东魁杨梅", "Dongkui bayberries", "1 kg box", "98.00", "200182000003", 3, "Fruit"),
    ("XAJ-MANDARIN-2500", "三都蜜橘", "Sandu mandarins", "2.5 kg box", "49.80", "200182000004", 20, "Fruit"),
    ("XAJ-STRAWBERRY-500", "建德红颊草莓", "Jiande Benihoppe strawberries", "500 g box", "39.80", "200182000005", 4,
     "Fruit"),
    ("XAJ-EGG-12", "林下散养土鸡蛋", "Free-range eggs", "box of 12", "36.00", "200182000006", 30, "Eggs"),
    ("XAJ-RICE-5KG", "新安江生态大米", "Xin'anjiang rice", "5 kg bag", "69.80", "200182000007", 365, "Rice & grains"),
    ("XAJ-BAMBOO-1KG", "高山鲜笋", "Fresh mountain bamboo shoots", "1 kg", "25.80", "200182000008", 5, "Vegetables"),
)
# fmt: on


def merchants() -> list[MerchantSeed]:
    """The four demo merchants, one of each kind, with unique slugs."""
    return list(_MERCHANTS)


def members() -> list[MemberSeed]:
    """Invented members: each has an E.164 phone, an email or both; phones and emails are unique."""
    return list(_MEMBERS)


def ean13_check_digit(first_twelve: str) -> int:
    """The EAN-13 check digit of 12 digits: weights 1 and 3 alternating from the left, then up to a multiple of 10."""
    if len(first_twelve) != 12 or not first_twelve.isdigit() or not first_twelve.isascii():
        raise ValueError(f"{first_twelve!r} is not 12 digits")
    total = sum(int(digit) * (3 if index % 2 else 1) for index, digit in enumerate(first_twelve))
    return (10 - total % 10) % 10


def farm_produce() -> list[ProduceSeed]:
    """The cooperative's fresh produce, priced in CNY minor units, each with a valid EAN-13 barcode."""
    return [
        ProduceSeed(
            sku=sku,
            name=name,
            name_en=name_en,
            unit=unit,
            price_minor=parse_amount(price, "CNY"),
            barcode=body + str(ean13_check_digit(body)),
            shelf_life_days=shelf_life_days,
            category=category,
        )
        for sku, name, name_en, unit, price, body, shelf_life_days, category in _PRODUCE
    ]


# --- locations ----------------------------------------------------------------------------------------------------


@functools.cache
def _geonames() -> dict[int, dict[str, str]]:
    with data_path(places.GEONAMES_FILE).open(newline="", encoding="utf-8") as file:
        return {int(row["geonameid"]): row for row in csv.DictReader(file)}


@functools.cache
def _cpca() -> dict[str, dict[str, str]]:
    with data_path(places.CPCA_FILE).open(newline="", encoding="utf-8") as file:
        return {row["adcode"]: row for row in csv.DictReader(file)}


def _place(geoname_id: int) -> dict[str, str]:
    try:
        return _geonames()[geoname_id]
    except KeyError:
        raise KeyError(f"GeoNames place {geoname_id} is not in {places.GEONAMES_FILE}") from None


def _areas(adcode: str) -> tuple[str, str | None, str]:
    """Province, city and county names of a county-level adcode; the city is None for a municipality, whose cpca
    city row is 市辖区 ("districts under the city")."""
    areas = _cpca()
    codes = (adcode[:2] + "0" * 10, adcode[:4] + "0" * 8, adcode)
    missing = [code for code in codes if code not in areas]
    if missing:
        raise KeyError(f"cpca areas {missing} are not in {places.CPCA_FILE}")
    province, city, county = (areas[code]["name"] for code in codes)
    return province, (None if city == "市辖区" else city), county


def _region(adcode: str) -> str:
    province, city, _ = _areas(adcode)
    return f"{province} {city}" if city else province


def _address_prefix(adcode: str) -> str:
    return "".join(name for name in _areas(adcode) if name)


def _offset(latitude: float, longitude: float, north_m: int, east_m: int) -> tuple[float, float]:
    """A point moved a few hundred metres on a sphere; refuses moves beyond places.MAX_OFFSET_M."""
    if math.hypot(north_m, east_m) > places.MAX_OFFSET_M:
        raise ValueError(f"an offset of ({north_m}, {east_m}) m is more than {places.MAX_OFFSET_M} m")
    moved_latitude = latitude + north_m / METRES_PER_DEGREE
    moved_longitude = longitude + east_m / (METRES_PER_DEGREE * math.cos(math.radians(latitude)))
    return round(moved_latitude, 6), round(moved_longitude, 6)


def _planned_location(plan: places.LocationPlan) -> LocationSeed:
    place = _place(plan.geoname_id)
    latitude, longitude = _offset(float(place["latitude"]), float(place["longitude"]), plan.north_m, plan.east_m)
    return LocationSeed(
        code=plan.code,
        name=plan.name,
        kind=plan.kind,
        merchant_slug=plan.merchant_slug,
        city=plan.city,
        region=_region(plan.adcode),
        address=_address_prefix(plan.adcode) + plan.street,
        latitude=latitude,
        longitude=longitude,
    )


def _town_name(place: dict[str, str]) -> str:
    """The Chinese name of a town: the GeoNames alternative that says 镇/乡/街道, else the first one."""
    names = [name for name in place["han_names"].split("|") if name]
    if not names:
        raise ValueError(f"GeoNames place {place['geonameid']} has no Chinese name")
    return next((name for name in names if name.endswith(("镇", "乡", "街道"))), names[0])


def _village_station(code: str, geoname_id: int) -> LocationSeed:
    place = _place(geoname_id)
    town = _town_name(place)
    return LocationSeed(
        code=code,
        name=f"{town}乡村服务站",
        kind="village_station",
        merchant_slug=None,
        city=places.STATION_HUB_CITY,
        region=_region(places.STATION_HUB_ADCODE),
        address=_address_prefix(places.STATION_HUB_ADCODE) + town + "便民服务中心",
        latitude=float(place["latitude"]),
        longitude=float(place["longitude"]),
    )


def locations() -> list[LocationSeed]:
    """Stores, a pop-up, warehouses and village stations at real GeoNames points (stores and warehouses moved at most
    2 km), with cpca regions; codes are unique."""
    seeds = [_planned_location(plan) for plan in places.LOCATION_PLANS]
    seeds += [_village_station(code, geoname_id) for code, geoname_id in places.VILLAGE_STATIONS]
    codes = [seed.code for seed in seeds]
    if len(set(codes)) != len(codes):
        raise ValueError(f"location codes repeat: {sorted(code for code in codes if codes.count(code) > 1)}")
    return seeds


def named_places() -> list[NamedPlaceSeed]:
    """The demo's named addresses at real GeoNames points (homes moved at most 2 km), in places.NAMED_PLACES' order;
    names are unique."""
    seeds = []
    for plan in places.NAMED_PLACES:
        place = _place(plan.geoname_id)
        latitude, longitude = _offset(float(place["latitude"]), float(place["longitude"]), plan.north_m, plan.east_m)
        seeds.append(NamedPlaceSeed(plan.name, plan.description, latitude, longitude))
    names = [seed.name for seed in seeds]
    if len(set(names)) != len(names):
        raise ValueError(f"named places repeat: {sorted(name for name in names if names.count(name) > 1)}")
    return seeds


# --- the Saleor sample catalog ------------------------------------------------------------------------------------


def saleor_catalog() -> ParsedFile:
    """The Saleor sample catalog (demo/data/saleor_populatedb_data.json) as import drafts; see parse_saleor_fixture."""
    with data_path(SALEOR_FILE).open(encoding="utf-8") as file:
        return parse_saleor_fixture(json.load(file))


Row = tuple[int, dict[str, Any]]  # (1-based position in the fixture list, the object's fields)


@dataclass(slots=True)
class _SaleorIndex:
    """The fixture's objects by model and pk, plus the lookups the drafts need, each built once."""

    rows: dict[str, dict[Any, Row]] = field(default_factory=lambda: defaultdict(dict))
    variants_by_product: dict[int, list[tuple[int, dict[str, Any]]]] = field(default_factory=lambda: defaultdict(list))
    listings_by_variant: dict[int, list[Row]] = field(default_factory=lambda: defaultdict(list))
    stock_by_variant: dict[int, int] = field(default_factory=dict)
    options_by_variant: dict[int, dict[str, str]] = field(default_factory=dict)

    def of(self, model: str) -> dict[Any, Row]:
        return self.rows.get(model, {})

    def fields(self, model: str, pk: Any) -> dict[str, Any] | None:
        row = self.of(model).get(pk)
        return row[1] if row else None


def _index(objects: list[dict[str, Any]]) -> _SaleorIndex:
    index = _SaleorIndex()
    for position, obj in enumerate(objects, start=1):
        index.rows[obj["model"]][obj["pk"]] = (position, obj["fields"])
    for pk, (_, fields) in index.of("product.productvariant").items():
        index.variants_by_product[fields["product"]].append((pk, fields))
    for row in sorted(index.of("product.productvariantchannellisting").values(), key=lambda item: item[0]):
        index.listings_by_variant[row[1]["variant"]].append(row)
    for _, fields in index.of("warehouse.stock").values():
        variant_pk = fields["product_variant"]
        index.stock_by_variant[variant_pk] = index.stock_by_variant.get(variant_pk, 0) + int(fields["quantity"])
    index.options_by_variant = _variant_options(index)
    return index


def _category_path(index: _SaleorIndex, category_pk: int | None) -> list[str]:
    """Category names from the root down to the product's own category."""
    path: list[str] = []
    seen: set[int] = set()
    while category_pk is not None and category_pk not in seen:
        seen.add(category_pk)
        category = index.fields("product.category", category_pk)
        if category is None:
            break
        path.insert(0, category["name"])
        category_pk = category["parent"]
    return path


def _variant_options(index: _SaleorIndex) -> dict[int, dict[str, str]]:
    """Variant pk -> {attribute name: value name(s)}, from Saleor's variant attribute assignments."""
    values_by_assignment: dict[int, list[str]] = defaultdict(list)
    for _, fields in sorted(index.of("attribute.assignedvariantattributevalue").values(), key=lambda row: row[0]):
        value = index.fields("attribute.attributevalue", fields["value"])
        if value is not None:
            values_by_assignment[fields["assignment"]].append(value["name"])
    options: dict[int, dict[str, str]] = defaultdict(dict)
    for pk, (_, fields) in index.of("attribute.assignedvariantattribute").items():
        attribute_variant = index.fields("attribute.attributevariant", fields["assignment"])
        attribute = index.fields("attribute.attribute", attribute_variant["attribute"]) if attribute_variant else None
        if attribute is not None and values_by_assignment.get(pk):
            options[fields["variant"]][attribute["name"]] = ", ".join(values_by_assignment[pk])
    return dict(options)


def _grams(*weights: str | None) -> int | None:
    """The first Saleor weight given ('1000.0:g'), in whole grams; Saleor falls back variant -> product -> type."""
    grams_per_unit = {"g": Decimal(1), "kg": Decimal(1000), "lb": Decimal("453.59237"), "oz": Decimal("28.349523125")}
    for weight in weights:
        if not weight:
            continue
        amount, _, unit = weight.partition(":")
        if unit in grams_per_unit:
            return int((Decimal(amount) * grams_per_unit[unit]).to_integral_value())
    return None


def _saleor_amount(text: str, currency: str) -> int:
    """Minor units of a Saleor amount ('40.000', three decimals); the digits beyond the currency's must be zeros."""
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        raise InvalidInput(f"{text!r} is not a number", field="price_amount") from None
    if not value.is_finite():
        raise InvalidInput(f"{text!r} is not a number", field="price_amount")
    normalised = value.quantize(Decimal(1).scaleb(-minor_digits(currency)))
    if normalised != value:
        raise InvalidInput(f"{text!r} has more decimals than {currency} allows", field="price_amount")
    return parse_amount(str(normalised), currency, field="price_amount")


def _variant_prices(
    index: _SaleorIndex, variant_pk: int, sku: str, handle: str, issues: list[ImportIssue]
) -> list[PriceDraft]:
    """One online price per currency from the variant's channel listings; a bad amount becomes an issue."""
    prices: dict[str, PriceDraft] = {}
    for position, listing in index.listings_by_variant.get(variant_pk, []):
        if listing["price_amount"] is None:
            continue  # listed in the channel without a price: not for sale there
        try:
            currency = check_currency(listing["currency"])
            amount_minor = _saleor_amount(listing["price_amount"], currency)
        except InvalidInput as error:
            issues.append(ImportIssue(position, f"SKU {sku}: price left out: {error.message}", handle))
            continue
        if currency in prices and prices[currency].amount_minor != amount_minor:
            issues.append(ImportIssue(position, f"SKU {sku}: a second, different {currency} price left out", handle))
            continue
        prices.setdefault(currency, PriceDraft(channel=Channel.ONLINE, currency=currency, amount_minor=amount_minor))
    return [prices[currency] for currency in sorted(prices)]


def _variant_drafts(
    index: _SaleorIndex, product_pk: int, product: dict[str, Any], issues: list[ImportIssue]
) -> list[VariantDraft]:
    product_type = index.fields("product.producttype", product["product_type"]) or {}
    # A product type without variants has one variant whose Saleor "name" is a GraphQL id (base64) and no options:
    # the variant takes the product's name.
    has_options = product_type.get("has_variants", True)
    rows = sorted(
        index.variants_by_product.get(product_pk, []), key=lambda row: (row[1].get("sort_order") or 0, row[0])
    )
    drafts = []
    for position, (pk, fields) in enumerate(rows):
        # Saleor leaves those single variants' SKU empty too: derive a stable one from the product slug and variant pk.
        sku = fields["sku"] or f"{product['slug']}-{pk}"
        drafts.append(
            VariantDraft(
                sku=sku,
                name=fields["name"] if has_options and fields["name"] else product["name"],
                options=index.options_by_variant.get(pk, {}) if has_options else {},
                grams=_grams(fields.get("weight"), product.get("weight"), product_type.get("weight")),
                prices=_variant_prices(index, pk, sku, product["slug"], issues),
                stock_on_hand=index.stock_by_variant.get(pk),
                position=position,
            )
        )
    return drafts


def _product_draft(index: _SaleorIndex, pk: int, row: Row, issues: list[ImportIssue]) -> ProductDraft:
    position, product = row
    collections = [
        index.fields("product.collection", fields["collection"])
        for _, fields in sorted(index.of("product.collectionproduct").values(), key=lambda item: item[0])
        if fields["product"] == pk
    ]
    listings = [fields for _, fields in index.of("product.productchannellisting").values() if fields["product"] == pk]
    return ProductDraft(
        handle=product["slug"],
        name=product["name"],
        description=html.unescape(product.get("description_plaintext") or "").replace("\xa0", " ").strip(),
        category_path=_category_path(index, product.get("category")),
        tags=[collection["name"] for collection in collections if collection],
        is_active=any(listing["is_published"] for listing in listings),
        variants=_variant_drafts(index, pk, product, issues),
        first_line=position,
    )


def parse_saleor_fixture(objects: list[dict[str, Any]]) -> ParsedFile:
    """Saleor's Django fixture as import drafts: one ProductDraft per sellable product (handle = slug), one VariantDraft
    per variant with one online PriceDraft per currency in integer minor units, stock_on_hand = the sum of its
    warehouse stock (None when Saleor keeps no stock for it), and the category path from the root.

    Gift cards are refused (stored value is a liability, not goods); a price with non-zero digits beyond the currency's
    minor unit is left out; a product that fails validate_draft or repeats a SKU is refused. Each refusal is an
    ImportIssue whose `line` is the 1-based position of the offending object in the fixture list; `rows_read` counts
    the fixture's objects.
    """
    index = _index(objects)
    products: list[ProductDraft] = []
    issues: list[ImportIssue] = []
    seen_skus: set[str] = set()
    for pk, (position, product) in sorted(index.of("product.product").items(), key=lambda item: item[1][0]):
        product_type = index.fields("product.producttype", product["product_type"]) or {}
        if product_type.get("kind") == "gift_card":
            issues.append(
                ImportIssue(position, "gift cards are stored value, not goods: not imported", product["slug"])
            )
            continue
        draft = _product_draft(index, pk, (position, product), issues)
        reasons = validate_draft(draft)
        reasons += [f"SKU {v.sku!r} already belongs to another product" for v in draft.variants if v.sku in seen_skus]
        if reasons:
            issues.extend(ImportIssue(position, reason, draft.handle) for reason in reasons)
            continue
        seen_skus.update(variant.sku for variant in draft.variants)
        products.append(draft)
    return ParsedFile(products=products, issues=issues, rows_read=len(objects))
