"""The `unichannel` command as a newcomer and an operator use it, on a fresh SQLite file (and `db upgrade` on PG)."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.integration.server import running_server

DEMO_CSV = Path(__file__).parents[2] / "src/unichannel/demo/data/woocommerce_sample_products.csv"


def unichannel(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "UNICHANNEL_DATABASE_URL": database_url, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "unichannel", *args], env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def demo_database(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, str]:
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    url = f"sqlite+aiosqlite:///{path}"
    result = unichannel(url, "demo", "--no-serve")
    assert result.returncode == 0, result.stderr
    return url, path, result.stdout


def test_demo_seeds_merchants_of_every_kind_and_places_in_three_cities(demo_database):
    _, path, output = demo_database
    assert "Seeded 4 merchants, 16 locations" in output and "4 paid orders" in output
    with sqlite3.connect(path) as db:
        kinds = sorted(k for (k,) in db.execute("SELECT kind FROM merchants"))
        store_cities = {c for (c,) in db.execute("SELECT city FROM locations WHERE kind = 'store'")}
        stations = db.execute("SELECT count(*) FROM locations WHERE kind = 'village_station'").fetchone()[0]
        products = db.execute("SELECT count(*) FROM products").fetchone()[0]
        members = db.execute("SELECT count(*) FROM customers").fetchone()[0]
    assert kinds == ["brand", "farm_cooperative", "overseas_brand", "store_operator"]
    assert store_cities == {"Hangzhou", "Shanghai", "Chengdu"}
    assert stations == 6
    assert products == 16 + 29 + 8  # WooCommerce sample, Saleor sample (no gift cards), cooperative produce
    assert members == 8
    assert re.search(r"shopper token \(member \+86\d+\): uct_[0-9a-f]{16}_\S+", output)


def test_demo_started_again_reuses_its_data_and_check_is_clean(demo_database):
    url, path, _ = demo_database
    again = unichannel(url, "demo", "--no-serve")
    assert again.returncode == 0 and "already there" in again.stdout
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM merchants").fetchone()[0] == 4
    checked = unichannel(url, "check")
    assert checked.returncode == 0, checked.stdout
    assert "all invariants hold" in checked.stdout


def test_reimporting_a_file_updates_and_never_duplicates(demo_database):
    url, path, _ = demo_database
    with sqlite3.connect(path) as db:
        before = [db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("products", "variants", "prices")]
    result = unichannel(url, "import", "woocommerce", str(DEMO_CSV), "--merchant", "woo-apparel")
    assert result.returncode == 1  # the grouped and external products are reported as issues
    assert "products created 0, updated 16; variants created 0" in result.stdout
    assert "line 24" in result.stdout and "line 25" in result.stdout
    with sqlite3.connect(path) as db:
        after = [db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("products", "variants", "prices")]
    assert after == before


def test_import_into_an_unknown_merchant_is_a_clear_error(demo_database):
    url, _, _ = demo_database
    result = unichannel(url, "import", "woocommerce", str(DEMO_CSV), "--merchant", "nobody")
    assert result.returncode == 2
    assert "not_found" in result.stdout and "nobody" in result.stdout


def test_check_exits_non_zero_on_a_violation(tmp_path, demo_database):
    _, path, _ = demo_database
    copy = tmp_path / "tampered.db"
    with sqlite3.connect(path) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    with sqlite3.connect(copy) as db:
        db.execute("UPDATE stock SET on_hand = on_hand + 1 WHERE id = (SELECT min(id) FROM stock)")
    result = unichannel(f"sqlite+aiosqlite:///{copy}", "check")
    assert result.returncode == 1
    assert "invariant 2" in result.stdout


def test_the_demo_server_serves_the_seeded_catalog_and_tokens(demo_database):
    url, _, output = demo_database
    shopper = re.search(r"shopper token \(member \+86\d+\): (uct_\S+)", output).group(1)
    with running_server(url, workers=1) as base:
        products = httpx.get(f"{base}/api/v1/products", params={"q": "hoodie"}).json()["items"]
        me = httpx.get(f"{base}/api/v1/me", headers={"Authorization": f"Bearer {shopper}"}).json()
        stations = httpx.get(f"{base}/api/v1/locations", params={"kind": "village_station"}).json()
    assert {p["handle"] for p in products} >= {"woo-hoodie", "woo-hoodie-with-logo"}
    assert me["role"] == "shopper" and me["customer"]["phone"] == "+8613900000101"
    assert len(stations) == 6


@pytest.mark.postgres
def test_db_upgrade_brings_postgresql_to_the_latest_schema_twice_without_harm(postgres_only_url):
    first = unichannel(postgres_only_url, "db", "upgrade")
    second = unichannel(postgres_only_url, "db", "upgrade")
    assert first.returncode == second.returncode == 0
    assert "database at head" in second.stdout


def test_singles_day_simulation_sells_every_unit_and_oversells_nothing(tmp_path):
    result = unichannel(f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}", "simulate", "singles-day", "--skus", "2",
                        "--units", "30", "--shoppers", "60", "--max-seconds", "60")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {m.group(1): (m.group(2), m.group(3), m.group(4))
            for m in re.finditer(r"│ (SD-\w+)\s+│ (\d+)\s+│ (\d+)\s+│ (\d+)\s+│", result.stdout)}
    assert rows == {"SD-KETTLE": ("30", "30", "30"), "SD-EARBUDS": ("30", "30", "30")}
    assert "oversold = 0; unichannel check: clean" in result.stdout
    assert "not_started" in result.stdout  # shoppers arrived before the opening and were told so


def test_the_demo_ledger_balances_and_settles_each_day_once(demo_database, tmp_path):
    url, _, _ = demo_database
    balances = unichannel(url, "ledger", "balances")
    assert balances.returncode == 0, balances.stderr
    assert "merchant_payable" in balances.stdout and "instalment_receivable" in balances.stdout
    assert re.search(r"merchant_payable .* USD \d+\.\d\d", balances.stdout)  # paid in dollars at the ECB rate
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    not_over = unichannel(url, "ledger", "settle", "--date", today.isoformat())
    assert not_over.returncode == 2 and "not over yet" in not_over.stdout
    bad = unichannel(url, "ledger", "settle", "--date", "11.11")
    assert bad.returncode == 2 and "not a date" in bad.stderr
    yesterday = (today - timedelta(days=1)).isoformat()
    report = tmp_path / "payouts.csv"
    first = unichannel(url, "ledger", "settle", "--date", yesterday, "--csv", str(report))
    assert first.returncode == 0, first.stdout + first.stderr
    assert report.read_text().splitlines()[0] == "business_date,merchant_id,currency,carried_over,released,fee,refunded,payout"
    again = unichannel(url, "ledger", "settle", "--date", yesterday)
    assert again.returncode == 0
    swept = unichannel(url, "ledger", "sweep")
    assert swept.returncode == 0 and "receipt confirmed: 0 orders" in swept.stdout
    assert "all invariants hold" in unichannel(url, "check").stdout


# --- delivery options on the demo's places ------------------------------------------------------------------------

DEMO_CART = ("--sku", "XAJ-MANDARIN-2500", "--merchant", "xinanjiang-tea-fruit")  # on both Hangzhou stores' shelves
PLACES = ("home-near-store", "home-far-from-stores", "village-in-station-area", "village-beyond-stations")
THURSDAY_10_AM = "2026-11-12T10:00"  # local time: the stores are open (09:00-22:00)
THURSDAY_11_PM = "2026-11-12T23:00"  # closed


def table_rows(output: str) -> list[tuple[str, ...]]:
    """The body rows of the Rich tables in the output, each as its stripped cells."""
    return [tuple(cell.strip() for cell in line.strip().strip("│").split("│"))
            for line in output.splitlines() if line.startswith("│")]


def promises(output: str) -> set[str]:
    return {row[0] for row in table_rows(output)}


@pytest.fixture(scope="module")
def demo_cart(demo_database, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A copy of the demo database where the first demo member's cart holds one box of mandarins, put there by
    `delivery-options --sku`."""
    _, path, _ = demo_database
    copy = tmp_path_factory.mktemp("cart") / "cart.db"
    with sqlite3.connect(path) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    url = f"sqlite+aiosqlite:///{copy}"
    added = unichannel(url, "delivery-options", "--place", "home-near-store", *DEMO_CART, "--at", THURSDAY_10_AM)
    assert added.returncode == 0, added.stdout + added.stderr
    with sqlite3.connect(copy) as db:
        lines = db.execute("SELECT v.sku, l.quantity FROM cart_lines l JOIN variants v ON v.id = l.variant_id "
                           "JOIN carts c ON c.id = l.cart_id JOIN customers m ON m.id = c.customer_id "
                           "WHERE m.phone = '+8613900000101'").fetchall()
    assert lines == [("XAJ-MANDARIN-2500", 1)]
    return url


def test_demo_shows_delivery_options_on_each_named_place_and_leaves_no_cart_line(demo_database):
    _, path, output = demo_database
    assert "Delivery options on the demo's places" in output
    assert all(name in output for name in PLACES)
    assert output.count("VS-QIANTAN") == 1  # station pickup only for the village in its area
    assert output.count("none: no store within 3 km") == 3  # 30-minute delivery: never beyond 3 km
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM cart_lines").fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM customers").fetchone()[0] == 8  # the tour's stand-in rolled back


@pytest.mark.parametrize(
    ("place", "at", "offered"),
    [
        ("home-near-store", THURSDAY_10_AM, {"home_delivery", "express_30_min", "store_pickup"}),
        ("home-near-store", THURSDAY_11_PM, {"home_delivery", "store_pickup"}),
        ("home-far-from-stores", THURSDAY_10_AM, {"home_delivery", "store_pickup"}),
        ("village-in-station-area", THURSDAY_10_AM, {"home_delivery", "store_pickup", "station_pickup"}),
        ("village-beyond-stations", THURSDAY_10_AM, {"home_delivery", "store_pickup"}),
    ],
    ids=["near-store-open", "near-store-closed", "far-from-stores", "village-in-station-area", "village-beyond"],
)
def test_delivery_options_offer_express_only_near_an_open_store_and_stations_only_in_their_area(
    demo_cart, place, at, offered
):
    result = unichannel(demo_cart, "delivery-options", "--place", place, "--at", at)
    assert result.returncode == 0, result.stdout + result.stderr
    assert promises(result.stdout) == offered


def test_delivery_options_show_where_fee_local_window_and_parcels(demo_cart):
    near = unichannel(demo_cart, "delivery-options", "--place", "home-near-store", "--at", THURSDAY_10_AM).stdout
    assert table_rows(near)[:3] == [
        ("home_delivery", "the address, from WH-COOP-SANDU 新安江茶果合作社 三都冷库", "CNY 10.00",
         "2026-11-13 10:00 – 2026-11-15 10:00", "1"),
        ("express_30_min", "HZ-WESTLAKE 湖畔优选 杭州西湖文三路店 (0.9 km)", "CNY 8.00", "2026-11-12 10:00–10:30", "1"),
        ("store_pickup", "HZ-WESTLAKE 湖畔优选 杭州西湖文三路店 (0.9 km)", "CNY 0.00", "2026-11-12 11:00", "1"),
    ]
    village = unichannel(demo_cart, "delivery-options", "--place", "village-in-station-area", "--at",
                         THURSDAY_10_AM).stdout
    assert table_rows(village)[-1] == (
        "station_pickup", "VS-QIANTAN 乾潭镇乡村服务站 (9.0 km)", "CNY 3.00", "2026-11-13 14:00", "1"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--place", "moon-base"), "no demo place 'moon-base'"),
        (("--place", "home-near-store", "--member", "+8613900009999"), "no member with the phone or email"),
        (("--lat", "30.27"), "both --lat and --lon"),
    ],
    ids=["unknown-place", "unknown-member", "half-an-address"],
)
def test_delivery_options_refuse_bad_input_with_a_message_and_exit_1(demo_cart, args, message):
    result = unichannel(demo_cart, "delivery-options", *args)
    assert result.returncode == 1
    assert message in result.stdout and "Traceback" not in result.stderr


def test_delivery_options_of_an_empty_cart_say_so_and_exit_1(demo_database):
    url, _, _ = demo_database
    result = unichannel(url, "delivery-options", "--place", "village-in-station-area")
    assert result.returncode == 1
    assert "is empty" in result.stdout and "--sku" in result.stdout and "Traceback" not in result.stderr
