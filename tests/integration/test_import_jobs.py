"""A console import's progress and report live in the database, so every server process answers for them: a second
app on the same database (another process, or the same one restarted) reads them, and on PostgreSQL the real server's
polls, spread over its worker processes, all find the import while it runs and once it is done."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.integration import server as server_module
from tests.integration.server import running_server
from tests.integration.world import World, build_world, count
from unichannel.app import create_app
from unichannel.catalog import repository as catalog_repository
from unichannel.clock import SystemClock
from unichannel.db import create_engine
from unichannel.settings import Settings
from unichannel.uow import UnitOfWorkFactory

FIXTURES = Path(__file__).parents[1] / "fixtures"
ISSUE_LINE = re.compile(r'data-testid="issue-line">(\d+)<')
STATE = re.compile(r'data-state="(\w+)"')
DONE_SO_FAR = re.compile(r"Saved (\d+) of (\d+) products")


@asynccontextmanager
async def another_app(env, token: str) -> AsyncIterator[httpx.AsyncClient]:
    """A second instance of the application on the same database, with its own engine and memory, signed in."""
    app = create_app(env.settings, clock=env.clock, gateway=env.gateway, run_background_tasks=False)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test",
                                     cookies={"uc_token": token}, params={"lang": "en"}) as client:
            yield client


async def test_an_imports_progress_and_report_are_read_by_another_app_on_the_same_database(env):
    world = await build_world(env)
    env.client.cookies.set("uc_token", world.tokens["staff_a"])
    data = (FIXTURES / "woocommerce_bad_row.csv").read_bytes()
    started = await env.client.post("/console/import", data={"source": "woocommerce"},
                                    files={"file": ("woocommerce_bad_row.csv", data, "text/csv")})
    assert started.status_code == 303
    job_path = started.headers["location"]
    products = await count(env, catalog_repository.products)

    async with another_app(env, world.tokens["staff_a"]) as other:
        page = await other.get(job_path)
        fragment = await other.get(f"{job_path}/progress")
        listing = await other.get("/console/import")

    assert page.status_code == 200 and STATE.findall(page.text) == ["done"]
    assert ISSUE_LINE.findall(page.text) == ["6"] and "Regular price: &#39;$20&#39; is not a number" in page.text
    assert "Read 10 rows" in page.text and "2 products and 5 variants created" in page.text
    assert fragment.status_code == 286 and ISSUE_LINE.findall(fragment.text) == ["6"]
    assert re.findall(r'href="(/console/import/\d+)"', listing.text) == [job_path]
    assert products == 3 + 2  # the world's three, the file's two: reading the import applied nothing again
    assert await count(env, catalog_repository.products) == products
    assert await count(env, catalog_repository.import_jobs) == 1


async def test_another_merchants_import_is_not_found_on_another_app_either(env):
    world = await build_world(env)
    env.client.cookies.set("uc_token", world.tokens["staff_a"])
    data = (FIXTURES / "woocommerce_bad_row.csv").read_bytes()
    started = await env.client.post("/console/import", data={"source": "woocommerce"},
                                    files={"file": ("woocommerce_bad_row.csv", data, "text/csv")})

    async with another_app(env, world.tokens["staff_b"]) as other:
        page = await other.get(started.headers["location"])
        fragment = await other.get(f"{started.headers['location']}/progress")

    assert page.status_code == 404 and "woocommerce_bad_row.csv" not in page.text and "data-state" not in page.text
    assert fragment.status_code == 404 and fragment.text == ""


# --- the real server: two worker processes on PostgreSQL ----------------------------------------------------------

ROWS_IN_BIG_FILE = 400
BAD_LINE = 101  # the header is line 1, product n is on line n + 2: this one has a price that is not a number
PRODUCTS_TO_APPLY = ROWS_IN_BIG_FILE - 1  # the parser refuses the bad one; 399 products are 20 chunks


def big_shopify_file() -> bytes:
    """400 one-variant products; the one on line 101 has the price `twelve`."""
    lines = ["Handle,Title,Variant SKU,Variant Price"]
    for n in range(ROWS_IN_BIG_FILE):
        price = "twelve" if n + 2 == BAD_LINE else f"{10 + n % 50}.00"
        lines.append(f"bulk-{n},Bulk item {n},BULK-{n},{price}")
    return ("\n".join(lines) + "\n").encode()


@dataclass
class SeedEnv:
    uow: UnitOfWorkFactory


async def seed_world(url: str) -> World:
    settings = Settings(database_url=url)
    factory = UnitOfWorkFactory(create_engine(settings), SystemClock(), settings)
    try:
        return await build_world(SeedEnv(factory))
    finally:
        await factory.engine.dispose()


def worker_pids(server_pid: int) -> set[int]:
    children = Path(f"/proc/{server_pid}/task/{server_pid}/children")
    return {int(pid) for pid in children.read_text().split()}


def process_serving(server_port: int, client_port: int, candidates: set[int]) -> int | None:
    """The process holding the server's end of the open TCP connection from `client_port` (from /proc/net/tcp)."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port, remote_port = (int(address.split(":")[1], 16) for address in fields[1:3])
        if local_port == server_port and remote_port == client_port:
            inode = fields[9]
    if inode is None:
        return None
    for pid in candidates:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if str(fd.readlink()) == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue  # closed meanwhile
    return None


@dataclass(frozen=True)
class Poll:
    status_code: int
    state: str | None
    done: int | None
    worker: int | None


async def poll_once(base: str, path: str, token: str, workers: set[int]) -> Poll:
    """One progress poll on a connection of its own (a kept-alive connection would always reach the same worker);
    the connection is still open when its server-side process is looked up."""
    async with httpx.AsyncClient(base_url=base, cookies={"uc_token": token}, timeout=30, trust_env=False) as client:
        response = await client.get(path, params={"lang": "en"})
        client_port = response.extensions["network_stream"].get_extra_info("client_addr")[1]
        worker = process_serving(int(base.rsplit(":", 1)[1]), client_port, workers)
    state = STATE.search(response.text)
    done = DONE_SO_FAR.search(response.text)
    return Poll(response.status_code, state.group(1) if state else None, int(done.group(1)) if done else None,
                worker)


@pytest.mark.postgres
async def test_progress_polls_spread_over_two_server_processes_all_find_the_import(postgres_only_url):
    world = await seed_world(postgres_only_url)
    token = world.tokens["staff_a"]
    polls: list[Poll] = []
    with running_server(postgres_only_url, workers=2) as base:
        workers = worker_pids(server_module.last_pid)
        async with httpx.AsyncClient(base_url=base, cookies={"uc_token": token}, timeout=30,
                                     trust_env=False) as client:
            started = await client.post("/console/import", data={"source": "shopify"},
                                        files={"file": ("bulk.csv", big_shopify_file(), "text/csv")})
        assert started.status_code == 303, started.text
        progress = f"{started.headers['location']}/progress"
        deadline = time.monotonic() + 120
        # Four polls at a time, each on its own connection, until the import is done and both processes answered.
        while time.monotonic() < deadline:
            polls += await asyncio.gather(*(poll_once(base, progress, token, workers) for _ in range(4)))
            if any(p.state == "done" for p in polls) and len({p.worker for p in polls} - {None}) >= 2:
                break
        report = await poll_once(base, progress, token, workers)

    assert [p for p in polls if p.status_code not in (200, 286)] == []  # no poll missed the import
    assert {p.status_code for p in polls if p.state == "running"} <= {200}
    assert {p.status_code for p in polls if p.state == "done"} == {286}
    assert {p.state for p in polls} <= {"running", "done"}
    served_by = {p.worker for p in polls}
    assert None not in served_by and len(served_by) == 2 and served_by <= workers  # both processes answered
    chunk_ends = set(range(0, PRODUCTS_TO_APPLY, 20)) | {PRODUCTS_TO_APPLY}
    assert {p.done for p in polls} <= chunk_ends  # progress moves a whole chunk at a time
    assert report.status_code == 286 and report.state == "done" and report.done == PRODUCTS_TO_APPLY
    engine = create_engine(Settings(database_url=postgres_only_url))
    try:
        async with engine.connect() as conn:
            [job] = await catalog_repository.list_import_jobs(conn, merchant_id=None, limit=10)
            issues = (await catalog_repository.get_import_job(conn, job["id"], with_issues=True))["issues"]
    finally:
        await engine.dispose()
    assert (job["status"], job["products_done"], job["products_created"], job["products_updated"]) == (
        "done", PRODUCTS_TO_APPLY, PRODUCTS_TO_APPLY, 0)
    assert [issue["line"] for issue in issues] == [BAD_LINE]
