"""The demo world: real places, believable members, valid barcodes and the Saleor sample catalog as import drafts."""

from __future__ import annotations

import csv
import hashlib
import math
import re

import pytest

from unichannel.catalog.model import Channel, MerchantKind, check_sku, check_slug, validate_draft
from unichannel.customers.model import check_identity
from unichannel.demo import places, world
from unichannel.fulfillment.promises import location_terms
from unichannel.inventory.model import LocationKind
from unichannel.money import check_currency
from unichannel.orders import model as orders_model

# GeoNames 1789243, Xin'anjiang (新安江街道): the seat of 建德市 (Jiande), the county-level city the stations hang off.
JIANDE = (29.47478, 119.27148)
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


def distance_km(latitude_a: float, longitude_a: float, latitude_b: float, longitude_b: float) -> float:
    """Great-circle distance (haversine) on a sphere of mean Earth radius."""
    phi_a, phi_b = math.radians(latitude_a), math.radians(latitude_b)
    half_chord = (
        math.sin((phi_b - phi_a) / 2) ** 2
        + math.cos(phi_a) * math.cos(phi_b) * math.sin(math.radians(longitude_b - longitude_a) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(math.sqrt(half_chord))


def by_code() -> dict[str, world.LocationSeed]:
    return {location.code: location for location in world.locations()}


def geonames_rows() -> dict[int, dict[str, str]]:
    with world.data_path(places.GEONAMES_FILE).open(newline="", encoding="utf-8") as file:
        return {int(row["geonameid"]): row for row in csv.DictReader(file)}


def saleor_variant(sku: str):
    for product in world.saleor_catalog().products:
        for variant in product.variants:
            if variant.sku == sku:
                return product, variant
    raise AssertionError(f"no variant {sku}")


# --- EAN-13 ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first_twelve", "check_digit"),
    [
        ("400638133393", 1),  # the classic EAN-13 example, 4006381333931
        ("978030640615", 7),  # ISBN-13 978-0-306-40615-7
        ("590123412345", 7),  # GS1's example 5901234123457
        ("003600029145", 2),  # UPC-A 036000291452 written as EAN-13
    ],
    ids=["ean13-example", "isbn13", "gs1-example", "upc-a"],
)
def test_ean13_check_digit_matches_known_barcodes(first_twelve: str, check_digit: int) -> None:
    assert world.ean13_check_digit(first_twelve) == check_digit


@pytest.mark.parametrize("text", ["40063813339", "4006381333931", "40063813339a", "４００６３８１３３３９３"])
def test_ean13_check_digit_refuses_anything_but_twelve_ascii_digits(text: str) -> None:
    with pytest.raises(ValueError):
        world.ean13_check_digit(text)


# --- merchants ------------------------------------------------------------------------------------------------------


def test_merchants_are_one_of_each_kind_with_unique_slugs() -> None:
    merchants = world.merchants()
    assert sorted(merchant.kind for merchant in merchants) == sorted(kind.value for kind in MerchantKind)
    assert len({merchant.slug for merchant in merchants}) == 4
    for merchant in merchants:
        assert check_slug(merchant.slug) == merchant.slug
        assert check_currency(merchant.currency) == merchant.currency
        assert re.fullmatch(r"[A-Z]{2}", merchant.country)


def test_the_overseas_brand_is_saleor_in_usd_and_the_brand_is_woocommerce_in_cny() -> None:
    merchants = {merchant.slug: merchant for merchant in world.merchants()}
    assert (merchants["saleor-goods"].kind, merchants["saleor-goods"].country, merchants["saleor-goods"].currency) == (
        "overseas_brand",
        "US",
        "USD",
    )
    assert (merchants["woo-apparel"].kind, merchants["woo-apparel"].country, merchants["woo-apparel"].currency) == (
        "brand",
        "CN",
        "CNY",
    )


# --- locations ------------------------------------------------------------------------------------------------------


def test_every_location_has_a_unique_code_and_coordinates_in_china() -> None:
    locations = world.locations()
    assert len(locations) == 16
    assert len({location.code for location in locations}) == 16
    for location in locations:
        assert 18.0 <= location.latitude <= 54.0, location.code
        assert 73.0 <= location.longitude <= 135.0, location.code


def test_every_location_kind_is_an_inventory_location_kind_and_every_runner_a_demo_merchant() -> None:
    slugs = {merchant.slug for merchant in world.merchants()}
    for location in world.locations():
        assert LocationKind(location.kind)
        assert location.merchant_slug is None or location.merchant_slug in slugs


def test_stores_are_in_at_least_three_cities() -> None:
    store_cities = {location.city for location in world.locations() if location.kind == "store"}
    assert store_cities == {"Hangzhou", "Shanghai", "Chengdu"}


def test_the_two_hangzhou_stores_are_between_2_and_6_km_apart_so_a_3_km_radius_reaches_only_one() -> None:
    locations = by_code()
    gongshu, westlake = locations["HZ-GONGSHU"], locations["HZ-WESTLAKE"]
    apart_km = distance_km(gongshu.latitude, gongshu.longitude, westlake.latitude, westlake.longitude)
    assert 3.0 < apart_km < 6.0
    assert round(apart_km, 1) == 3.3


def test_stores_and_warehouses_are_within_2_km_of_their_geonames_place() -> None:
    rows = geonames_rows()
    locations = by_code()
    for plan in places.LOCATION_PLANS:
        place = rows[plan.geoname_id]
        location = locations[plan.code]
        moved_km = distance_km(
            float(place["latitude"]), float(place["longitude"]), location.latitude, location.longitude
        )
        assert moved_km <= 2.0, plan.code
        assert moved_km == pytest.approx(math.hypot(plan.north_m, plan.east_m) / 1000, abs=0.005), plan.code


def test_hangzhou_hub_has_two_stores_and_two_warehouses() -> None:
    in_hangzhou = [location for location in world.locations() if location.city == "Hangzhou"]
    assert sorted(location.code for location in in_hangzhou if location.kind == "store") == [
        "HZ-GONGSHU",
        "HZ-WESTLAKE",
    ]
    assert sorted(location.code for location in in_hangzhou if location.kind == "warehouse") == ["WH-BONDED", "WH-EAST"]


def test_every_village_station_is_within_40_km_of_jiande_on_a_real_town() -> None:
    rows = geonames_rows()
    stations = [location for location in world.locations() if location.kind == "village_station"]
    assert [station.code for station in stations] == [
        "VS-SHOUCHANG",
        "VS-DATONG",
        "VS-DAYANG",
        "VS-MEICHENG",
        "VS-SANDU",
        "VS-QIANTAN",
    ]
    for (code, geoname_id), station in zip(places.VILLAGE_STATIONS, stations, strict=True):
        town = rows[geoname_id]
        assert (station.latitude, station.longitude) == (float(town["latitude"]), float(town["longitude"]))
        assert town["population"] == "0"
        assert distance_km(*JIANDE, station.latitude, station.longitude) <= 40.0, code
        assert station.merchant_slug is None
        assert station.city == "Jiande"


def test_village_stations_are_named_after_their_town_in_chinese() -> None:
    names = {location.code: location.name for location in world.locations() if location.kind == "village_station"}
    assert names["VS-SHOUCHANG"] == "寿昌镇乡村服务站"
    assert names["VS-QIANTAN"] == "乾潭镇乡村服务站"
    assert by_code()["VS-SHOUCHANG"].address == "浙江省杭州市建德市寿昌镇便民服务中心"


def test_the_cooperative_runs_a_warehouse_within_2_km_of_its_village() -> None:
    locations = by_code()
    cold_store, sandu = locations["WH-COOP-SANDU"], locations["VS-SANDU"]
    assert (cold_store.kind, cold_store.merchant_slug) == ("warehouse", "xinanjiang-tea-fruit")
    assert distance_km(cold_store.latitude, cold_store.longitude, sandu.latitude, sandu.longitude) < 2.0


def test_regions_and_addresses_use_cpca_names_and_a_municipality_is_its_own_region() -> None:
    locations = by_code()
    assert locations["HZ-WESTLAKE"].region == "浙江省 杭州市"
    assert locations["HZ-WESTLAKE"].address == "浙江省杭州市西湖区文三路478号"
    assert locations["SH-JINGAN"].region == "上海市"
    assert locations["SH-JINGAN"].address == "上海市静安区南京西路1018号"
    assert locations["CD-CHUNXI"].region == "四川省 成都市"
    assert locations["WH-NORTH"].region == "北京市"


# The seed gives locations no delivery details, so each store and station has the defaults of `location_terms`.
STORE_RADIUS_KM = location_terms("store", {}).delivery_radius_km
STATION_AREA_KM = location_terms("village_station", {}).service_radius_km


def named_place(name: str) -> tuple[float, float]:
    [place] = [place for place in world.named_places() if place.name == name]
    return place.latitude, place.longitude


def km_to(code: str, position: tuple[float, float]) -> float:
    location = by_code()[code]
    return orders_model.distance_km(location.latitude, location.longitude, *position)


def codes_of(kind: str) -> list[str]:
    return [location.code for location in world.locations() if location.kind == kind]


def test_the_seeded_delivery_reaches_are_a_3_km_store_radius_and_a_10_km_station_area() -> None:
    assert (STORE_RADIUS_KM, STATION_AREA_KM) == (3.0, 10.0)


def test_the_home_near_a_store_is_within_3_km_of_hz_westlake_and_of_no_other_store() -> None:
    home = named_place("home-near-store")
    assert km_to("HZ-WESTLAKE", home) <= STORE_RADIUS_KM
    assert [code for code in codes_of("store") if km_to(code, home) <= STORE_RADIUS_KM] == ["HZ-WESTLAKE"]


def test_the_home_far_from_stores_is_in_hangzhou_beyond_3_km_of_every_store() -> None:
    home = named_place("home-far-from-stores")
    assert all(km_to(code, home) > STORE_RADIUS_KM for code in codes_of("store"))
    assert km_to("HZ-WESTLAKE", home) < 20.0  # still Hangzhou: home delivery from the city's warehouses


def test_the_village_in_a_station_area_is_inside_exactly_the_qiantan_station_area() -> None:
    village = named_place("village-in-station-area")
    assert [code for code in codes_of("village_station") if km_to(code, village) <= STATION_AREA_KM] == ["VS-QIANTAN"]


def test_the_village_beyond_stations_is_outside_every_station_area() -> None:
    village = named_place("village-beyond-stations")
    assert all(km_to(code, village) > STATION_AREA_KM for code in codes_of("village_station"))


@pytest.mark.parametrize("name", ["village-in-station-area", "village-beyond-stations"])
def test_neither_village_is_within_3_km_of_a_store(name: str) -> None:
    assert all(km_to(code, named_place(name)) > STORE_RADIUS_KM for code in codes_of("store"))


def test_named_places_have_unique_names_and_sit_within_2_km_of_their_geonames_place() -> None:
    rows = geonames_rows()
    seeds = world.named_places()
    assert [seed.name for seed in seeds] == [
        "home-near-store",
        "home-far-from-stores",
        "village-in-station-area",
        "village-beyond-stations",
    ]
    for plan, seed in zip(places.NAMED_PLACES, seeds, strict=True):
        place = rows[plan.geoname_id]
        moved_km = orders_model.distance_km(float(place["latitude"]), float(place["longitude"]), seed.latitude,
                                            seed.longitude)
        assert moved_km == pytest.approx(math.hypot(plan.north_m, plan.east_m) / 1000, abs=0.005), plan.name


def test_a_brand_runs_one_popup() -> None:
    popups = [location for location in world.locations() if location.kind == "popup"]
    assert [(popup.code, popup.merchant_slug, popup.city) for popup in popups] == [
        ("PU-XINTIANDI", "woo-apparel", "Shanghai")
    ]


# --- members --------------------------------------------------------------------------------------------------------


def test_member_phones_are_e164_and_unique_and_every_member_is_reachable() -> None:
    members = world.members()
    assert len(members) == 8
    phones = [member.phone for member in members if member.phone]
    emails = [member.email for member in members if member.email]
    assert all(E164.match(phone) and phone.startswith("+861") for phone in phones)
    assert len(set(phones)) == len(phones) == 6
    assert len(set(emails)) == len(emails) == 5
    for member in members:
        assert check_identity(member.phone, member.email) == (member.phone, member.email)


def test_members_include_email_only_and_phone_and_email_and_english_names() -> None:
    members = world.members()
    assert sum(1 for member in members if member.email and not member.phone) == 2
    assert sum(1 for member in members if member.email and member.phone) == 3
    assert sum(1 for member in members if member.name.isascii()) == 2


# --- farm produce ---------------------------------------------------------------------------------------------------


def test_every_produce_barcode_is_a_valid_ean13() -> None:
    produce = world.farm_produce()
    assert len(produce) == 8
    assert len({item.barcode for item in produce}) == 8
    for item in produce:
        assert re.fullmatch(r"[0-9]{13}", item.barcode)
        assert int(item.barcode[-1]) == world.ean13_check_digit(item.barcode[:12])


def test_produce_is_priced_in_cny_minor_units_with_a_shelf_life_and_a_valid_sku() -> None:
    produce = {item.sku: item for item in world.farm_produce()}
    assert produce["XAJ-TEA-BAOCHA-250"].price_minor == 26800
    assert produce["XAJ-MANDARIN-2500"].price_minor == 4980
    assert produce["XAJ-BAYBERRY-1KG"].shelf_life_days == 3
    assert produce["XAJ-EGG-12"].unit == "box of 12"
    assert produce["XAJ-TEA-BAOCHA-250"].barcode == "2001820000018"
    for item in produce.values():
        assert check_sku(item.sku) == item.sku
        assert item.price_minor > 0 and item.shelf_life_days > 0


# --- the Saleor sample catalog --------------------------------------------------------------------------------------


def test_saleor_catalog_has_29_sellable_products_and_70_variants() -> None:
    parsed = world.saleor_catalog()
    assert parsed.rows_read == 721
    assert len(parsed.products) == 29
    assert sum(len(product.variants) for product in parsed.products) == 70


def test_saleor_gift_cards_are_refused_as_stored_value_with_one_issue_each() -> None:
    parsed = world.saleor_catalog()
    assert [(issue.line, issue.handle) for issue in parsed.issues] == [
        (56, "gift-card"),
        (59, "gift-card-500"),
        (60, "gift-card-50"),
    ]
    assert not any(product.category_path[-1:] == ["Gift cards"] for product in world.saleor_catalog().products)


def test_saleor_variant_has_one_online_price_per_currency_in_minor_units() -> None:
    _, plimsoll = saleor_variant("918223582")
    assert [(price.channel, price.currency, price.amount_minor) for price in plimsoll.prices] == [
        (Channel.ONLINE, "PLN", 24000),
        (Channel.ONLINE, "USD", 8000),
    ]
    _, trail = saleor_variant("118223581")  # Saleor: PLN '209.960', USD '50.000'
    assert {price.currency: price.amount_minor for price in trail.prices} == {"PLN": 20996, "USD": 5000}
    _, audiobook = saleor_variant("113223582")  # Saleor: PLN '29.990', USD '8.990'
    assert {price.currency: price.amount_minor for price in audiobook.prices} == {"PLN": 2999, "USD": 899}


def test_saleor_stock_on_hand_is_the_sum_of_warehouse_stock_and_none_when_untracked() -> None:
    variants = [variant for product in world.saleor_catalog().products for variant in product.variants]
    assert sum(variant.stock_on_hand or 0 for variant in variants) == 38233
    assert sum(1 for variant in variants if variant.stock_on_hand is None) == 14
    assert saleor_variant("headless-omnichannel-mp3")[1].stock_on_hand == 4560
    assert saleor_variant("918223582")[1].stock_on_hand == 500
    assert saleor_variant("124223581")[1].stock_on_hand == 0
    assert saleor_variant("apple-juice-384")[1].stock_on_hand is None


def test_saleor_category_path_runs_from_the_root_to_the_product_category() -> None:
    products = {product.handle: product for product in world.saleor_catalog().products}
    assert products["ascii-tee"].category_path == ["Apparel", "Shirts", "T-shirts"]
    assert products["apple-juice"].category_path == ["Groceries", "Juices"]
    assert products["dry-sunglasses"].category_path == ["Apparel", "Headware", "Sunglasses"]


def test_saleor_variant_options_come_from_variant_attributes() -> None:
    assert saleor_variant("918223582")[1].options == {"Shoe size": "39"}
    assert saleor_variant("328223580")[1].options == {"Size": "S"}
    assert saleor_variant("headless-omnichannel-mp3")[1].options == {"Medium": "MP3"}


def test_saleor_single_variant_product_gets_a_derived_sku_and_the_product_name() -> None:
    product, variant = saleor_variant("grey-hoodie-345")
    assert (product.handle, variant.name, variant.options, variant.grams) == ("grey-hoodie", "Grey Hoodie", {}, 1000)


def test_saleor_product_handle_is_the_slug_and_description_is_plain_text() -> None:
    products = {product.handle: product for product in world.saleor_catalog().products}
    dash_force = products["dash-force"]
    assert dash_force.name == "Dash Force"
    assert dash_force.description.startswith("Step into summer with the right balance. Every time you")
    assert "&nbsp;" not in dash_force.description and "\xa0" not in dash_force.description
    assert products["white-plimsolls"].tags == ["Featured Products"]


def test_every_saleor_draft_is_importable_and_skus_are_unique_across_the_catalog() -> None:
    products = world.saleor_catalog().products
    assert all(validate_draft(product) == [] for product in products)
    skus = [variant.sku for product in products for variant in product.variants]
    assert len(set(skus)) == len(skus) == 70


def saleor_fixture(pln_amount: str) -> list[dict]:
    """A one-product Saleor fixture whose PLN listing has the given amount."""
    return [
        {
            "model": "product.producttype",
            "pk": 1,
            "fields": {"kind": "normal", "has_variants": True, "weight": "0.0:g"},
        },
        {
            "model": "product.product",
            "pk": 10,
            "fields": {
                "name": "Mug",
                "slug": "mug",
                "product_type": 1,
                "category": None,
                "description_plaintext": "A mug",
                "weight": None,
            },
        },
        {
            "model": "product.productvariant",
            "pk": 100,
            "fields": {"product": 10, "sku": "MUG-1", "name": "Blue", "sort_order": 0, "weight": "350.0:g"},
        },
        {
            "model": "product.productvariantchannellisting",
            "pk": 1000,
            "fields": {"variant": 100, "currency": "USD", "price_amount": "12.500"},
        },
        {
            "model": "product.productvariantchannellisting",
            "pk": 1001,
            "fields": {"variant": 100, "currency": "PLN", "price_amount": pln_amount},
        },
    ]


def test_saleor_price_with_non_zero_digits_beyond_the_minor_unit_is_left_out_with_an_issue() -> None:
    parsed = world.parse_saleor_fixture(saleor_fixture("49.995"))
    (variant,) = parsed.products[0].variants
    assert [(price.currency, price.amount_minor) for price in variant.prices] == [("USD", 1250)]
    assert [(issue.line, issue.handle) for issue in parsed.issues] == [(5, "mug")]
    assert "49.995" in parsed.issues[0].reason


def test_saleor_price_with_zero_extra_digits_is_kept() -> None:
    parsed = world.parse_saleor_fixture(saleor_fixture("49.990"))
    (variant,) = parsed.products[0].variants
    assert [(price.currency, price.amount_minor) for price in variant.prices] == [("PLN", 4999), ("USD", 1250)]
    assert (variant.grams, variant.stock_on_hand, parsed.issues) == (350, None, [])


# --- data files -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "sha256"),
    [
        ("woocommerce_sample_products.csv", "a801e97cf69213c71e9db1216115de1889fd43e399b7884c2508f671ef8858cc"),
        ("saleor_populatedb_data.json", "9049f68b6c0d6dfd8d03f5643ddfa566f23a67014e35520c1a62c60abe7e2eb8"),
    ],
)
def test_copied_data_files_are_byte_for_byte_the_published_ones(name: str, sha256: str) -> None:
    assert hashlib.sha256(world.data_path(name).read_bytes()).hexdigest() == sha256


def test_every_data_file_is_named_in_the_notice() -> None:
    notice = world.data_path("NOTICE.md").read_text(encoding="utf-8")
    data_files = [path.name for path in world.DATA_DIR.iterdir() if path.name != "NOTICE.md"]
    assert len(data_files) == 4
    assert all(f"`{name}`" in notice for name in data_files)


@pytest.mark.parametrize("name", ["../world.py", "/etc/passwd", "no_such_file.csv"])
def test_data_path_gives_only_existing_files_inside_demo_data(name: str) -> None:
    with pytest.raises((ValueError, FileNotFoundError)):
        world.data_path(name)
