"""The layering rules of STYLE.md checked over the source, so a violation fails a test instead of a review.

- the domain core (`*/model.py`) imports no database, HTTP, web layer, other layers or clock, and never reads the time;
- every bounded context has the same five modules;
- services never commit: the unit of work (`unichannel/uow.py`) is the one place that does.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import unichannel

SOURCE_ROOT = Path(unichannel.__file__).parent
CONTEXTS = ("catalog", "inventory", "customers", "checkout", "orders", "payments", "fulfillment")
CONTEXT_MODULES = ("model.py", "service.py", "repository.py", "api.py", "schemas.py")

MODEL_FILES = sorted(SOURCE_ROOT.glob("*/model.py"))
SERVICE_FILES = sorted(SOURCE_ROOT.glob("**/service.py"))

FORBIDDEN_PACKAGES = (
    "sqlalchemy",
    "fastapi",
    "starlette",
    "httpx",
    "asyncpg",
    "aiosqlite",
    "uvicorn",
    "time",
    "unichannel.db",
    "unichannel.uow",
    "unichannel.web",
)
FORBIDDEN_LAYER = re.compile(r"^unichannel\.\w+\.(service|repository|api|schemas)(\.|$)")
CLOCK_READS = ("datetime.now", "datetime.utcnow", "date.today", "time.time")


def _relative_id(path: Path) -> str:
    return str(path.relative_to(SOURCE_ROOT).parent)


def _imported_names(tree: ast.Module, package: str) -> set[str]:
    """Every module a file imports, with `from a import b` also giving `a.b` (b may be a submodule)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        owner = _dotted(node.value)
        return f"{owner}.{node.attr}" if owner else None
    return None


def domain_violations(source: str, package: str) -> list[str]:
    """What a domain module does that the domain core must not: forbidden imports and reads of the clock."""
    tree = ast.parse(source)
    violations = []
    for name in sorted(_imported_names(tree, package)):
        if any(name == banned or name.startswith(banned + ".") for banned in FORBIDDEN_PACKAGES):
            violations.append(f"imports {name}")
        elif FORBIDDEN_LAYER.match(name):
            violations.append(f"imports {name}")
    for node in ast.walk(tree):
        # Attributes cover both `datetime.now(UTC)` and a bare reference such as `default_factory=datetime.now`.
        if isinstance(node, ast.Attribute):
            dotted = _dotted(node) or ""
            if any(dotted == read or dotted.endswith("." + read) for read in CLOCK_READS):
                violations.append(f"reads the clock with {dotted} on line {node.lineno}")
    return violations


def unit_of_work_commits(source: str) -> list[int]:
    """Lines that call `.commit()` on anything but a savepoint.

    Releasing a savepoint (`savepoint = await conn.begin_nested(); ...; await savepoint.commit()`) ends a nested
    transaction inside the unit of work's; it commits nothing, so it is not what "services never commit" forbids.
    """
    tree = ast.parse(source)
    savepoints: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            value = node.value.value if isinstance(node.value, ast.Await) else node.value
            opens_savepoint = isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
            if opens_savepoint and value.func.attr == "begin_nested":
                savepoints.update(target.id for target in node.targets if isinstance(target, ast.Name))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "commit"
        and not (isinstance(node.func.value, ast.Name) and node.func.value.id in savepoints)
    ]


# --- the rules, over the real source ----------------------------------------------------------------------------


def test_the_rules_see_every_context() -> None:
    """Guards the globs below: an empty or partial parameter list would make the rules pass vacuously."""
    assert set(CONTEXTS) <= {_relative_id(path) for path in MODEL_FILES}
    assert set(CONTEXTS) <= {_relative_id(path) for path in SERVICE_FILES}


@pytest.mark.parametrize("path", MODEL_FILES, ids=[_relative_id(path) for path in MODEL_FILES])
def test_domain_modules_import_no_database_http_or_clock(path: Path) -> None:
    package = f"unichannel.{_relative_id(path)}"
    assert domain_violations(path.read_text(encoding="utf-8"), package) == []


@pytest.mark.parametrize("context", CONTEXTS)
def test_every_context_has_the_same_shape(context: str) -> None:
    missing = [name for name in CONTEXT_MODULES if not (SOURCE_ROOT / context / name).is_file()]
    assert missing == []


@pytest.mark.parametrize("path", SERVICE_FILES, ids=[_relative_id(path) for path in SERVICE_FILES])
def test_services_never_commit(path: Path) -> None:
    assert unit_of_work_commits(path.read_text(encoding="utf-8")) == []


# --- the checkers themselves can fail ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "from sqlalchemy.ext.asyncio import AsyncConnection",
        "import time",
        "from unichannel import db",
        "from unichannel.orders.schemas import OrderOut",
        "from . import service",
        "import datetime\nstamp = datetime.datetime.utcnow()",
        "from datetime import date\nfield_default = date.today",
    ],
    ids=[
        "sqlalchemy-submodule",
        "time",
        "db-as-name",
        "other-context-schemas",
        "relative-service",
        "datetime-utcnow",
        "date-today-reference",
    ],
)
def test_the_domain_checker_flags_io_and_clock(source: str) -> None:
    assert domain_violations(source, "unichannel.inventory") != []


def test_the_domain_checker_allows_pure_imports() -> None:
    source = (
        "from datetime import datetime, timedelta\n"
        "from unichannel.errors import InvalidInput\n"
        "from unichannel.catalog.model import Channel\n"
        "from . import model\n"
        "def lapsed(expires_at: datetime, now: datetime) -> bool:\n"
        "    return expires_at <= now\n"
    )
    assert domain_violations(source, "unichannel.checkout") == []


def test_the_commit_checker_flags_a_commit_but_not_a_savepoint_release() -> None:
    source = (
        "async def apply(uow):\n"
        "    savepoint = await uow.conn.begin_nested()\n"
        "    await savepoint.commit()\n"
        "    await uow.conn.commit()\n"
    )
    assert unit_of_work_commits(source) == [4]
