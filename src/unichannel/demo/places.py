"""Where the demo world's locations are: plain tables, no logic.

No coordinate is typed here. Each location names a real GeoNames place (by id) and a cpca county-level area (by adcode);
`world.py` reads the coordinates and Chinese names from the subsets in `demo/data` and moves a store or warehouse by the
fixed offset given here (at most 2 km) so that it looks like a street address rather than a city's centroid.
Village service stations sit exactly on their town's GeoNames point.
"""

from __future__ import annotations

from typing import NamedTuple

GEONAMES_FILE = "geonames_cities500_demo.csv"
CPCA_FILE = "cpca_adcodes_demo.csv"

MAX_OFFSET_M = 2_000

# Village service stations hang off one county-level city around the hub: 建德市 (Jiande), Hangzhou.
# GeoNames 1789243 is Xin'anjiang (新安江街道), Jiande's seat.
STATION_HUB_GEONAME_ID = 1789243
STATION_HUB_CITY = "Jiande"
STATION_HUB_ADCODE = "330182000000"  # 建德市
STATION_RADIUS_KM = 40


class LocationPlan(NamedTuple):
    """A store, pop-up or warehouse: a GeoNames place, moved `north_m` / `east_m` metres, in a cpca area."""

    code: str
    name: str
    kind: str
    merchant_slug: str | None
    geoname_id: int
    adcode: str  # the cpca county-level area (district, county or county-level city)
    city: str  # English city name, as members' `city`
    street: str  # the street part of the address, after province, city and district
    north_m: int
    east_m: int


STORE_OPERATOR = "lakeside-retail"
BRAND = "woo-apparel"
COOPERATIVE = "xinanjiang-tea-fruit"

# fmt: off
LOCATION_PLANS: tuple[LocationPlan, ...] = (
    # Hangzhou, the hub: two stores 3.3 km apart, so a 3 km delivery radius covers one and not the other.
    LocationPlan("HZ-GONGSHU", "湖畔优选 杭州拱墅店", "store", STORE_OPERATOR,
                 1808926, "330105000000", "Hangzhou", "莫干山路288号", -300, -450),
    LocationPlan("HZ-WESTLAKE", "湖畔优选 杭州西湖文三路店", "store", STORE_OPERATOR,
                 7735129, "330106000000", "Hangzhou", "文三路478号", 150, 600),
    LocationPlan("SH-JINGAN", "湖畔优选 上海静安店", "store", STORE_OPERATOR,
                 1796236, "310106000000", "Shanghai", "南京西路1018号", 650, -150),
    LocationPlan("CD-CHUNXI", "湖畔优选 成都春熙路店", "store", STORE_OPERATOR,
                 1815286, "510104000000", "Chengdu", "春熙路北段58号", -1250, 1100),
    LocationPlan("PU-XINTIANDI", "Woo Apparel 新天地双11快闪店", "popup", BRAND,
                 1801696, "310101000000", "Shanghai", "马当路245号", 1100, 1000),
    # Regional warehouses run by the platform; the bonded one holds the overseas brand's cross-border stock.
    LocationPlan("WH-EAST", "华东中心仓（杭州仓前）", "warehouse", None,
                 1816093, "330110000000", "Hangzhou", "仓前街道龙潭路18号", -400, 500),
    LocationPlan("WH-BONDED", "杭州萧山保税仓", "warehouse", None,
                 1789998, "330109000000", "Hangzhou", "建设二路9号保税物流中心3号库", 1200, 1500),
    LocationPlan("WH-NORTH", "华北中心仓（北京大兴）", "warehouse", None,
                 1807544, "110115000000", "Beijing", "黄村镇物流园路6号", -500, 800),
    LocationPlan("WH-WEST", "西南中心仓（成都双流）", "warehouse", None,
                 1794653, "510116000000", "Chengdu", "东升街道物流园路2号", 300, 700),
    # The cooperative's packing house and cold store, outside the village of 三都镇 (Sandu), known for its mandarins.
    LocationPlan("WH-COOP-SANDU", "新安江茶果合作社 三都冷库", "warehouse", COOPERATIVE,
                 1796920, STATION_HUB_ADCODE, STATION_HUB_CITY, "三都镇柑橘园路1号", 400, -700),
)
# fmt: on

# Village service stations (code, GeoNames id of the town), all towns of 建德市 within 30 km of its seat.
VILLAGE_STATIONS: tuple[tuple[str, int], ...] = (
    ("VS-SHOUCHANG", 1794800),  # 寿昌镇
    ("VS-DATONG", 1813455),  # 大同镇
    ("VS-DAYANG", 1813236),  # 大洋镇
    ("VS-MEICHENG", 1800884),  # 梅城镇
    ("VS-SANDU", 1796920),  # 三都镇
    ("VS-QIANTAN", 1916445),  # 乾潭镇
)


class NamedPlace(NamedTuple):
    """An address to ask for delivery options at (`unichannel delivery-options --place NAME`): a GeoNames place, moved
    `north_m` / `east_m` metres like a store (a village is its town's own point)."""

    name: str
    description: str
    geoname_id: int
    north_m: int
    east_m: int


# One address for each way the delivery options differ: inside or beyond a store's 30-minute radius (3 km), inside
# or beyond a village station's service area. tests/unit/test_demo_world.py checks each name says the truth.
# fmt: off
NAMED_PLACES: tuple[NamedPlace, ...] = (
    NamedPlace("home-near-store", "a flat in 古荡, Hangzhou, within 3 km of HZ-WESTLAKE only",
               7735129, -350, -200),
    NamedPlace("home-far-from-stores", "a flat in 仓前, Hangzhou, beyond 3 km of every store",
               1816093, 600, -900),
    NamedPlace("village-in-station-area", "下包乡, a village in the area of the 乾潭镇 station",
               1790804, 0, 0),
    NamedPlace("village-beyond-stations", "诸葛镇, a village beyond every station's area",
               1783963, 0, 0),
)
# fmt: on
