"""`unichannel bench flash-sale`: unichannel's coalesced flash-sale endpoint against a naive one-transaction-per-order
endpoint and a trivial JSON endpoint, all served the same way (uvicorn, W workers, PostgreSQL) and driven by wrk from
a separate process on the same machine, in one run.

Everything runs on 127.0.0.1 against servers this command starts, in a database it creates and drops.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
from sqlalchemy import func, select

from unichannel import migrate
from unichannel.access.model import Role
from unichannel.access.service import issue_token
from unichannel.catalog import repository as catalog_repository
from unichannel.catalog import service as catalog
from unichannel.catalog.model import Channel, PriceDraft, ProductDraft, VariantDraft
from unichannel.clock import SystemClock
from unichannel.customers import service as customers
from unichannel.db import create_engine
from unichannel.inventory import service as inventory
from unichannel.inventory.repository import stock
from unichannel.orders.repository import order_lines, orders
from unichannel.promotions import service as promotions
from unichannel.promotions.repository import flash_sales
from unichannel.settings import Settings
from unichannel.uow import UnitOfWorkFactory

LUA = Path(__file__).with_name("flash_sale.lua")
DEFAULT_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
WARM_UP_ROUNDS = 10  # of 3 s each, at most
HUGE = 5_000_000  # units and per-customer limit of the throughput sales: nobody runs out during a measured run


@dataclass
class Scenario:
    name: str
    orders_per_s: float = 0.0
    requests_per_s: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    acknowledged: int = 0
    in_database: int | None = None
    oversold: int | None = None
    lost: int | None = None
    worker_rss_mib: list[float] = field(default_factory=list)
    # CPU time per answered request, in microseconds: the server's workers, PostgreSQL (every process of a server on
    # this machine, None for a remote one) and wrk. With the machine's cores, it says what a run is bound by.
    cpu_us_per_request: dict[str, float | None] = field(default_factory=dict)


def _cpu_seconds(pids: list[str]) -> float:
    """User + system CPU time of the processes and of their children that have ended and been waited for (a process
    that is gone counts as nothing)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(ticks) for ticks in fields[11:15])  # utime, stime, cutime, cstime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


def _postgres_cpu_seconds() -> float | None:
    """The CPU time of a PostgreSQL server on this machine (its postmaster, backends and helpers, listed as they are
    now), or None when none of its processes is here to see.

    Backends come and go during a run (a connection closed, an autovacuum worker done); once one ends, its CPU time
    moves to the postmaster's children's time, so the figure never goes down and nothing is counted twice."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "comm").read_text().strip() == "postgres":
                pids.append(entry.name)
        except OSError:
            continue
    return _cpu_seconds(pids) if pids else None


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _require_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing wrk (Debian package) ...", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, stdout=subprocess.DEVNULL)
        found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is needed: apt-get install wrk")
    return found


async def _admin(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@dataclass
class Seeded:
    sales: dict[str, int]
    variants: dict[str, int]
    warehouse_id: int
    tokens_file: Path


async def _seed(url: str, shoppers: int, sold_out_units: int, tokens_file: Path) -> Seeded:
    """One merchant, one warehouse, a SKU and a sale per scenario (so runs never share a hot row), and shoppers."""
    settings = Settings(database_url=url)
    factory = UnitOfWorkFactory(create_engine(settings), SystemClock(), settings)
    now = datetime.now(UTC)
    try:
        async with factory() as uow:
            merchant = await catalog.create_merchant(uow, slug="bench-brand", name="Bench", kind="brand",
                                                     country="CN", currency="CNY")
            warehouse = (await inventory.create_location(uow, {
                "code": "WH-BENCH", "name": "Bench warehouse", "kind": "warehouse", "merchant_id": None,
                "address": "1 Dock Rd", "city": "Hangzhou", "region": "", "latitude": 30.3, "longitude": 120.1,
                "details": {}}))["id"]
            sales, variants = {}, {}
            for name, units in (("warmup", HUGE), ("unichannel", HUGE), ("naive", HUGE), ("sold_out", sold_out_units),
                                ("upcoming", HUGE)):
                draft = ProductDraft(handle=f"hot-{name}", name=f"Hot item ({name})", variants=[
                    VariantDraft(sku=f"HOT-{name.upper()}", name="one",
                                 prices=[PriceDraft(Channel.ONLINE, "CNY", 19900)])])
                product_id = (await catalog.apply_draft(uow, merchant["id"], draft)).product_id
                [variant] = await catalog_repository.variants_of(uow.conn, [product_id])
                await inventory.receive(uow, None, variant["id"], warehouse, units, "bench")
                limit = HUGE if units == HUGE else 1_000_000
                opens = now + timedelta(hours=5) if name == "upcoming" else now - timedelta(minutes=1)
                sale = await promotions.create_sale(
                    uow, merchant["id"], variant_id=variant["id"], location_ids=[warehouse], name=f"bench {name}",
                    currency="CNY", price_minor=9900, quantity=units, per_customer_limit=min(limit, units),
                    starts_at=opens, ends_at=now + timedelta(hours=6))
                sales[name], variants[name] = sale["id"], variant["id"]
            member_ids = []
            for n in range(shoppers):
                member = await customers.register(uow, phone=f"+86137{n:08d}", email=None, name=f"shopper {n}",
                                                  password=None)
                member_ids.append(member["id"])
        tokens = await issue_tokens(factory, "bench", [(Role.SHOPPER, {"customer_id": c}) for c in member_ids])
        tokens_file.write_text("\n".join(tokens) + "\n")
        return Seeded(sales, variants, warehouse, tokens_file)
    finally:
        await factory.engine.dispose()


async def issue_tokens(factory: UnitOfWorkFactory, name: str, wanted: list[tuple[Role, dict[str, int]]]) -> list[str]:
    """One token per (role, binding), four argon2 hashes at a time (the hashing runs in threads)."""
    gate = asyncio.Semaphore(4)

    async def one(role: Role, binding: dict[str, int]) -> str:
        async with gate, factory() as uow:
            return (await issue_token(uow, role, name=name, **binding)).token

    return list(await asyncio.gather(*(one(role, binding) for role, binding in wanted)))


class Server:
    """uvicorn with W workers on 127.0.0.1, the same way `unichannel serve` runs it."""

    def __init__(self, url: str, workers: int, extra_env: dict[str, str]) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "UNICHANNEL_DATABASE_URL": url, "UNICHANNEL_BENCH_ENDPOINTS": "true",
               "UNICHANNEL_TOKEN_CACHE_SECONDS": "3600", **extra_env}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "unichannel.asgi:app", "--host", "127.0.0.1", "--port", str(self.port),
             "--workers", str(workers), "--log-level", "warning", "--no-access-log", "--loop", "uvloop",
             "--http", "unichannel.serving:Protocol", "--backlog", "4096"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/api/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("the benchmark server did not start")

    def worker_pids(self) -> list[str]:
        """The serving processes: the spawned children (multiprocessing's resource tracker is a child too, and no
        worker), or, with one worker, uvicorn's own process."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        pids = [pid for pid in (children.read_text().split() if children.exists() else [])
                if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        return pids or [str(self.process.pid)]

    def worker_rss_mib(self) -> list[float]:
        """Each worker's resident memory."""
        sizes = []
        for pid in self.worker_pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes.append(round(int(line.split()[1]) / 1024, 1))
        return sizes

    def stop(self) -> None:
        """Stops the master and every worker (the whole process group), so no connection outlives the server."""
        import signal

        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        except ProcessLookupError:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()


def _wrk(wrk: str, base: str, path: str, tokens: Path, connections: int, seconds: int, threads: int) -> dict:
    env = {**os.environ, "BENCH_TOKENS": str(tokens), "BENCH_PATH": path, "BENCH_RUN": uuid.uuid4().hex[:12]}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)  # the server is a child too, but it has not ended
    result = subprocess.run(
        [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(LUA), base],
        env=env, capture_output=True, text=True, timeout=seconds + 120,
    )
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("BENCH_RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result:\n{result.stdout}\n{result.stderr}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    raw = json.loads(line.removeprefix("BENCH_RESULT "))
    raw["cpu_s"] = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return raw


def _measured(
    name: str, server: Server, wrk: str, path: str, tokens: Path, connections: int, seconds: int, threads: int,
    *, local_postgres: bool, counts_as_order: str = "201",
) -> Scenario:
    """One wrk run against the server, with the CPU time it cost the workers, PostgreSQL and wrk."""
    workers = server.worker_pids()
    workers_before = _cpu_seconds(workers)
    postgres_before = _postgres_cpu_seconds() if local_postgres else None
    raw = _wrk(wrk, server.base, path, tokens, connections, seconds, threads)
    workers_cpu = _cpu_seconds(workers) - workers_before
    postgres_after = _postgres_cpu_seconds() if local_postgres else None
    result = _scenario(name, raw, counts_as_order)
    answered = max(1, raw["requests"])
    result.cpu_us_per_request = {
        "workers": round(workers_cpu * 1e6 / answered, 1),
        "postgresql": None if None in (postgres_before, postgres_after)
        else round((postgres_after - postgres_before) * 1e6 / answered, 1),
        "load_generator": round(raw["cpu_s"] * 1e6 / answered, 1),
    }
    result.worker_rss_mib = server.worker_rss_mib()
    return result


async def _sale_state(url: str, sale_id: int, variant_id: int, warehouse_id: int) -> tuple[int, int, int, int]:
    """(orders in the database, units in them, the sale's sold counter, the stock row's reserved)."""
    engine = create_engine(Settings(database_url=url))
    try:
        async with engine.connect() as conn:
            placed = (await conn.execute(
                select(func.count(), func.coalesce(func.sum(order_lines.c.quantity), 0))
                .select_from(orders.join(order_lines, order_lines.c.order_id == orders.c.id))
                .where(orders.c.flash_sale_id == sale_id))).one()
            sold = (await conn.execute(select(flash_sales.c.sold).where(flash_sales.c.id == sale_id))).scalar_one()
            reserved = (await conn.execute(select(stock.c.reserved).where(
                stock.c.variant_id == variant_id, stock.c.location_id == warehouse_id))).scalar_one()
        return placed[0], placed[1], sold, reserved
    finally:
        await engine.dispose()


def _scenario(name: str, raw: dict, counts_as_order: str = "201") -> Scenario:
    seconds = raw["duration_us"] / 1e6
    statuses = {str(k): v for k, v in raw["statuses"].items()}
    acknowledged = statuses.get(counts_as_order, 0)
    return Scenario(
        name=name, orders_per_s=round(acknowledged / seconds, 1), requests_per_s=round(raw["requests"] / seconds, 1),
        p50_ms=round(raw["p50_us"] / 1000, 2), p99_ms=round(raw["p99_us"] / 1000, 2), statuses=statuses,
        errors=raw["errors"], acknowledged=acknowledged,
    )


def run(workers: int, connections: int, duration: int, shoppers: int, admin_dsn: str) -> dict[str, Any]:
    """Runs the whole comparison and returns the report (see README for the fields)."""
    wrk = _require_wrk()
    database = f"unichannel_bench_{uuid.uuid4().hex[:8]}"
    base_dsn = admin_dsn.rsplit("/", 1)[0]
    url = f"{base_dsn.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{database}"
    asyncio.run(_admin(admin_dsn, f'CREATE DATABASE "{database}"'))
    wrk_threads = 2
    local_postgres = urlsplit(admin_dsn).hostname in (None, "", "127.0.0.1", "localhost", "::1")
    # PostgreSQL allows 100 connections by default; every worker may open twice its pool size: stay well below,
    # leaving room for this process's own checks.
    pool = str(max(2, 60 // (2 * workers)))
    try:
        migrate.upgrade(Settings(database_url=url))
        with tempfile.TemporaryDirectory() as tmp:
            tokens = Path(tmp) / "tokens.txt"
            print(f"seeding {shoppers} shoppers and the sales ...", flush=True)
            seeded = asyncio.run(_seed(url, shoppers, sold_out_units=1000, tokens_file=tokens))
            scenarios: dict[str, Scenario] = {}

            def measure(server: Server, name: str, sale: str, check: bool = True) -> Scenario:
                path = f"/api/v1/flash-sales/{seeded.sales[sale]}/orders"
                print(f"running {name}: {connections} connections for {duration}s ...", flush=True)
                result = _measured(name, server, wrk, path, tokens, connections, duration, wrk_threads,
                                   local_postgres=local_postgres)
                if check:
                    count, units, sold, reserved = asyncio.run(
                        _sale_state(url, seeded.sales[sale], seeded.variants[sale], seeded.warehouse_id))
                    quantity = HUGE if sale != "sold_out" else 1000
                    result.in_database = count
                    result.oversold = max(0, units - quantity) + max(0, sold - quantity) + max(0, reserved - quantity)
                    result.lost = max(0, result.acknowledged - count)
                return result

            def warm_up(server: Server) -> None:
                """Shoppers sign in before the opening: every worker checks every token once (argon2, tens of ms of CPU
                each) by asking a sale that has not opened, until two rounds in a row show no such check in their p99
                (under a second; seconds while tokens are checked); then it takes orders."""
                upcoming = f"/api/v1/flash-sales/{seeded.sales['upcoming']}/orders"
                print("warming up (every worker sees every token) ...", flush=True)
                quiet = 0
                for _ in range(WARM_UP_ROUNDS):
                    p99 = _wrk(wrk, server.base, upcoming, tokens, connections, 3, wrk_threads)["p99_us"]
                    print(f"  p99 {p99 / 1000:.0f} ms", flush=True)
                    quiet = quiet + 1 if p99 < 1_000_000 else 0
                    if quiet == 2:
                        break
                _wrk(wrk, server.base, f"/api/v1/flash-sales/{seeded.sales['warmup']}/orders", tokens, connections, 3,
                     wrk_threads)

            server = Server(url, workers, {"UNICHANNEL_DATABASE_POOL_SIZE": pool})
            try:
                warm_up(server)
                scenarios["unichannel"] = measure(server, "unichannel (coalesced)", "unichannel")
                print(f"running trivial: {connections} connections for {duration}s ...", flush=True)
                scenarios["trivial"] = _measured("trivial JSON", server, wrk, "/api/v1/bench/trivial", tokens,
                                                 connections, duration, wrk_threads, local_postgres=local_postgres,
                                                 counts_as_order="200")
                scenarios["sold_out"] = measure(server, "unichannel after sell-out", "sold_out")
            finally:
                server.stop()
            naive = Server(url, workers,
                           {"UNICHANNEL_DATABASE_POOL_SIZE": pool, "UNICHANNEL_FLASH_COALESCING": "false"})
            try:
                warm_up(naive)
                scenarios["naive"] = measure(naive, "naive (one transaction per order)", "naive")
            finally:
                naive.stop()
        server_version = asyncio.run(_server_version(admin_dsn))
    finally:
        asyncio.run(_admin(admin_dsn, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    uni, naive_s, trivial = scenarios["unichannel"], scenarios["naive"], scenarios["trivial"]
    sold_out = scenarios["sold_out"]
    return {
        "benchmark": "flash-sale",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "workers": workers, "connections": connections, "duration_s": duration, "shoppers": shoppers,
        "cpu_count": os.cpu_count(),
        "versions": {
            "python": platform.python_version(), "postgresql": server_version, "unichannel": version("unichannel"),
            "fastapi": version("fastapi"), "uvicorn": version("uvicorn"), "sqlalchemy": version("sqlalchemy"),
            "asyncpg": version("asyncpg"),
            "wrk": subprocess.run([wrk, "--version"], capture_output=True, text=True).stdout.split("\n")[0].strip(),
        },
        "scenarios": {key: vars(s) for key, s in scenarios.items()},
        "orders_per_s": {"unichannel": uni.orders_per_s, "naive": naive_s.orders_per_s},
        "ratio_unichannel_to_naive": round(uni.orders_per_s / naive_s.orders_per_s, 2)
        if naive_s.orders_per_s else None,
        "ratio_unichannel_to_trivial": round(uni.orders_per_s / trivial.requests_per_s, 2)
        if trivial.requests_per_s else None,
        "sold_out_replies_per_s": sold_out.requests_per_s,
        "oversold": (uni.oversold or 0) + (naive_s.oversold or 0) + (sold_out.oversold or 0),
        "lost": (uni.lost or 0) + (naive_s.lost or 0) + (sold_out.lost or 0),
        "memory_per_worker_mib": uni.worker_rss_mib,
    }


async def _server_version(dsn: str) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()
