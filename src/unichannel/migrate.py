"""Runs the Alembic migrations shipped inside the package against the configured database."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from unichannel.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", settings.database_url)
    return config


def upgrade(settings: Settings, revision: str = "head") -> None:
    """Brings the database schema up to `revision` (the latest by default); running it twice changes nothing."""
    command.upgrade(alembic_config(settings), revision)


def revision(settings: Settings, message: str) -> None:
    """Autogenerates a new migration from the difference between the tables in code and the database."""
    command.revision(alembic_config(settings), message=message, autogenerate=True)
