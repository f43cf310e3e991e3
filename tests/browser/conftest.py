"""Browser tests: the real server (uvicorn, a fresh migrated SQLite file) driven by Debian's Chromium via Playwright.

Fixtures
  live_server  (module)   the app on http://127.0.0.1:<free port>; `.base_url`, `.database_url`, `.log_path`,
                          `await live_server.seed(fn, *args)` runs `fn(env, *args)` with `env.uow` on its database
                          (so `world = await live_server.seed(build_world)` gives ids and tokens).
  browser      (session)  one headless /usr/bin/chromium for the whole run; never downloads a browser.
  page         (function) a new context (390x844 phone width, zh-CN, Asia/Shanghai) whose page is screenshotted to
                          test-artifacts/screenshots/<test name>.png at teardown, pass or fail.
  browser_context_args    override it (module or test) to change the context's options.
  browser_log  (function) what the page said: console messages, page errors, requests blocked for leaving the machine.

Requests from the page to anything but this machine's loopback are aborted (and listed in browser_log.blocked).
Without /usr/bin/chromium (or the playwright package) browser tests skip; under CI=true they fail instead.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import pytest
import pytest_asyncio

from unichannel import migrate
from unichannel.clock import Clock, SystemClock
from unichannel.db import create_engine
from unichannel.settings import Settings
from unichannel.uow import UnitOfWorkFactory

try:
    from playwright.async_api import Browser, BrowserContext, Page, Playwright, Route, async_playwright
except ImportError as error:  # the `test` extra brings it; an old venv may not have it yet
    _PLAYWRIGHT_PROBLEM: str | None = f"the playwright package is not installed ({error}); run ./dev install"
else:
    _PLAYWRIGHT_PROBLEM = None

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PHONE = {"width": 390, "height": 844}
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
SERVER_START_SECONDS = 30.0
SERVER_STOP_SECONDS = 10.0
ACTION_TIMEOUT_MS = 10_000
NAVIGATION_TIMEOUT_MS = 15_000
T = TypeVar("T")


def _browser_problem() -> str | None:
    if _PLAYWRIGHT_PROBLEM:
        return _PLAYWRIGHT_PROBLEM
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing (Debian: apt-get install chromium; ./dev test installs it as root or in CI)"
    return None


def pytest_report_header(config: pytest.Config) -> str:
    problem = _browser_problem()
    if problem is None:
        return f"browser tests: Chromium at {CHROMIUM} via Playwright"
    verdict = "FAILING them (CI=true)" if IN_CI else "SKIPPING browser tests"
    return f"browser tests: {problem}; {verdict}"


def require_browser() -> None:
    problem = _browser_problem()
    if problem is None:
        return
    if IN_CI:
        pytest.fail(f"browser tests must run under CI=true: {problem}", pytrace=False)
    pytest.skip(f"browser tests skipped: {problem}")


# --------------------------------------------------------------------------------------------------- the live server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class SeedEnv:
    """What `tests/integration/world.py` helpers expect of an `env`: `.uow` builds units of work on the database."""

    uow: UnitOfWorkFactory
    settings: Settings
    clock: Clock


@dataclass
class LiveServer:
    base_url: str
    database_url: str
    log_path: Path
    pid: int
    settings: Settings = field(repr=False)

    def url(self, path: str) -> str:
        return self.base_url + path

    async def seed(self, fn: Callable[..., Awaitable[T]], *args: Any, clock: Clock | None = None, **kwargs: Any) -> T:
        """Runs `await fn(env, *args, **kwargs)` against the server's database (its own engine, disposed after) and
        returns its result, e.g. `world = await live_server.seed(build_world)`. Commits are the server's to see at
        once (same SQLite file); events land in the outbox, which the server's relay picks up on its next pass."""
        engine = create_engine(self.settings)
        try:
            env = SeedEnv(UnitOfWorkFactory(engine, clock or SystemClock(), self.settings), self.settings,
                          clock or SystemClock())
            return await fn(env, *args, **kwargs)
        finally:
            await engine.dispose()

    def log_text(self, last_chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-last_chars:]
        except OSError as error:
            return f"(no server log: {error})"


@contextmanager
def start_live_server(directory: Path, *, extra_env: dict[str, str] | None = None,
                      startup_seconds: float = SERVER_START_SECONDS) -> Iterator[LiveServer]:
    """Migrates a fresh SQLite file in `directory`, serves `unichannel.asgi:app` on it with one uvicorn process on a
    free 127.0.0.1 port, waits for /api/v1/health, yields a LiveServer and always stops the server (terminate, then
    kill after 10 s). `extra_env` adds UNICHANNEL_* settings; the caller's UNICHANNEL_* variables are not passed on."""
    directory.mkdir(parents=True, exist_ok=True)
    database_url = f"sqlite+aiosqlite:///{directory / 'unichannel.db'}"
    migrate.upgrade(Settings(database_url=database_url))
    last_problem = ""
    for _attempt in range(3):  # another process may take the free port between choosing it and uvicorn binding it
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("UNICHANNEL_")}
        env.update(UNICHANNEL_DATABASE_URL=database_url, UNICHANNEL_PUBLIC_BASE_URL=base_url, **(extra_env or {}))
        settings = Settings(database_url=database_url, public_base_url=base_url)  # what `seed` runs with
        log_path = directory / f"server-{port}.log"
        # The server's output goes to a file, never to a pipe nobody reads: a full pipe would block the server.
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "unichannel.asgi:app", "--host", "127.0.0.1", "--port", str(port),
                 "--log-level", "info"],
                env=env, cwd=directory, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        try:
            if _wait_until_healthy(process, base_url, startup_seconds):
                yield LiveServer(base_url, database_url, log_path, process.pid, settings)
                return
            last_problem = log_path.read_text(errors="replace")[-3000:]
        finally:
            _stop(process)
    raise RuntimeError(f"the live server did not start:\n{last_problem}")


def _wait_until_healthy(process: subprocess.Popen, base_url: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    with httpx.Client(trust_env=False, timeout=1.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return False
            try:
                if client.get(f"{base_url}/api/v1/health").status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
    return False


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=SERVER_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The real app on its own fresh database, one per test module (tests in a module share its data)."""
    with start_live_server(tmp_path_factory.mktemp("live_server")) as server:
        yield server


# --------------------------------------------------------------------------------------------------- the browser


@dataclass
class BrowserLog:
    console: list[str] = field(default_factory=list)  # "type: text" for every console message
    page_errors: list[str] = field(default_factory=list)  # uncaught exceptions in the page
    blocked: list[str] = field(default_factory=list)  # URLs off this machine that the page tried to load

    @property
    def console_errors(self) -> list[str]:
        return [line for line in self.console if line.startswith("error:")]

    def summary(self) -> str:
        parts = ["console:\n  " + "\n  ".join(self.console[-50:])] if self.console else []
        if self.page_errors:
            parts.append("page errors:\n  " + "\n  ".join(self.page_errors[-20:]))
        if self.blocked:
            parts.append("blocked (off-machine) requests:\n  " + "\n  ".join(self.blocked[-20:]))
        return "\n".join(parts)


SCREENSHOT_DIR = Path("test-artifacts") / "screenshots"
saved_screenshots: list[Path] = []  # every screenshot the `page` fixture wrote in this run, in order


def screenshot_path(config: pytest.Config, test_name: str) -> Path:
    """test-artifacts/screenshots/<test name>.png under the project root (unsafe characters become '_')."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name).strip("_") or "screenshot"
    return config.rootpath / SCREENSHOT_DIR / f"{safe}.png"


async def save_screenshot(page: Page, path: Path) -> Path:
    """A full-page PNG of `page` at `path` (directories created); bounded in time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(path), full_page=True, timeout=ACTION_TIMEOUT_MS)
    return path


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def playwright() -> AsyncIterator[Playwright]:
    require_browser()
    async with async_playwright() as p:
        yield p


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser(playwright: Playwright) -> AsyncIterator[Browser]:
    """Headless Debian Chromium, shared by the whole run."""
    browser = await playwright.chromium.launch(
        executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, timeout=30_000,
    )
    try:
        yield browser
    finally:
        await browser.close()


@pytest.fixture
def browser_context_args() -> dict[str, Any]:
    """Options for the `page` fixture's context; override this fixture to change them."""
    return {"viewport": dict(PHONE), "locale": "zh-CN", "timezone_id": "Asia/Shanghai"}


@pytest.fixture
def browser_log() -> BrowserLog:
    return BrowserLog()


def _is_loopback(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "ws", "wss"):
        return True  # data:, blob:, about: never leave the machine
    return (parts.hostname or "") in LOOPBACK_HOSTS or (parts.hostname or "").startswith("127.")


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: Browser, browser_context_args: dict[str, Any], browser_log: BrowserLog,
               request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    """A fresh context and page; at teardown, pass or fail, a screenshot goes to
    test-artifacts/screenshots/<test name>.png."""
    context: BrowserContext = await browser.new_context(**browser_context_args)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)

    async def keep_on_machine(route: Route) -> None:
        if _is_loopback(route.request.url):
            await route.continue_()
        else:
            browser_log.blocked.append(route.request.url)
            await route.abort("blockedbyclient")

    await context.route("**/*", keep_on_machine)
    page = await context.new_page()
    page.on("console", lambda message: browser_log.console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: browser_log.page_errors.append(str(error)))
    try:
        yield page
    finally:
        path = screenshot_path(request.config, request.node.name)
        try:
            saved_screenshots.append(await save_screenshot(page, path))
        except Exception as error:  # a crashed or closed page: say so, but do not hide the test's own outcome
            request.node.add_report_section("teardown", "screenshot", f"could not save {path}: {error!r}")
        await context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """A failed browser test's report carries the server log's tail and what the page logged."""
    report = yield
    if report.failed and call.when in ("setup", "call"):
        funcargs = getattr(item, "funcargs", {})
        server = funcargs.get("live_server")
        if isinstance(server, LiveServer):
            report.sections.append(("live server log (tail)", server.log_text()))
        log = funcargs.get("browser_log")
        if isinstance(log, BrowserLog) and log.summary():
            report.sections.append(("browser log", log.summary()))
        if "page" in funcargs:
            report.sections.append(("screenshot", str(screenshot_path(item.config, item.name))))
    return report
