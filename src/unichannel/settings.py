"""One typed settings object, read from `UNICHANNEL_*` environment variables and validated at start-up."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="UNICHANNEL_", extra="ignore")

    database_url: str = Field(
        default="sqlite+aiosqlite:///./var/unichannel.db",
        description="SQLAlchemy URL; SQLite (aiosqlite) by default, PostgreSQL with postgresql+asyncpg://...",
    )
    database_pool_size: int = Field(default=10, ge=1, le=200)
    database_connect_timeout_seconds: float = Field(
        default=10.0, gt=0, description="PostgreSQL: give up opening a connection after this long."
    )
    database_statement_timeout_seconds: float = Field(
        default=60.0, gt=0, description="PostgreSQL: give up on a statement after this long, so no request or "
        "flash-sale batch waits forever on a connection whose server went away.",
    )
    public_base_url: str = Field(
        default="http://127.0.0.1:8000", description="Base of the scan-to-cart URLs encoded in QR codes."
    )
    default_currency: str = Field(default="CNY", min_length=3, max_length=3)
    reservation_hold_minutes: int = Field(
        default=30, ge=1, le=24 * 60, description="How long an unpaid order holds its stock before it lapses."
    )
    sweep_interval_seconds: float = Field(default=5.0, gt=0)
    flash_hold_minutes: int = Field(
        default=15, ge=1, le=24 * 60, description="How long a flash-sale order holds its unit before it must be paid."
    )
    flash_batch_max: int = Field(
        default=1000, ge=1, le=20_000, description="Most flash-sale requests applied in one coalesced transaction."
    )
    flash_coalescing: bool = Field(
        default=True, description="Coalesce concurrent flash-sale orders per sale (off: one transaction per order)."
    )
    bench_endpoints: bool = Field(default=False, description="Serve the benchmark's trivial endpoint.")
    live_broadcast: bool = Field(
        default=True, description="On PostgreSQL, live pages hear every server process's events (NOTIFY); off: only "
        "their own process's (enough for a single process).")
    max_line_quantity: int = Field(default=999, ge=1, description="Largest quantity of one SKU in a cart or order line.")
    max_stock_quantity: int = Field(default=10_000_000, ge=1, description="Largest single stock movement.")
    return_window_days: int = Field(
        default=7, ge=0, le=90,
        description="Days after delivery within which a shopper may send goods back for a refund (0: no returns).",
    )
    auto_confirm_days: int = Field(
        default=10, ge=1, le=90,
        description="Days after delivery when receipt is confirmed for a shopper who did not (escrow is released).",
    )
    platform_fee_basis_points: dict[str, int] = Field(
        default={"brand": 500, "overseas_brand": 600, "farm_cooperative": 100, "store_operator": 300},
        description="The platform's commission per merchant kind, in basis points of the released amount.",
    )
    instalment_fee_basis_points: dict[str, int] = Field(
        default={"3": 230, "6": 450, "12": 750},
        description="The fee of an instalment plan per number of months, in basis points of the amount financed.",
    )
    home_delivery_fee_minor: int = Field(default=1000, ge=0, description="Home delivery fee (cart currency).")
    home_delivery_free_over_minor: int = Field(default=9900, ge=0, description="Home delivery is free from here.")
    express_delivery_fee_minor: int = Field(default=800, ge=0, description="30-minute delivery fee.")
    station_delivery_fee_minor: int = Field(default=300, ge=0, description="Village station pickup fee.")
    station_delivery_free_over_minor: int = Field(default=5000, ge=0,
                                                  description="Village station pickup is free from here.")
    local_timezone: str = Field(
        default="Asia/Shanghai",
        description="The platform's local time: settlement days, store opening hours, delivery windows.",
    )
    payment_gateway: Literal["simulated", "stripe"] = Field(
        default="simulated", description="Who moves the money: the built-in simulated gateway, or Stripe."
    )
    simulated_gateway_latency_ms: int = Field(
        default=0, ge=0, le=60_000, description="The simulated gateway answers after this long (try a slow network)."
    )
    stripe_secret_key: SecretStr | None = Field(default=None, description="Stripe secret API key (sk_...).")
    stripe_webhook_secret: SecretStr | None = Field(default=None, description="Stripe webhook signing secret.")
    stripe_publishable_key: str | None = Field(
        default=None, pattern=r"^pk_(test|live)_[A-Za-z0-9]+$", max_length=255,
        description="Stripe publishable key (pk_...): the checkout page gives it to Stripe.js to take the card. "
        "Only a pk_ key is accepted: this one is sent to every shopper's browser.",
    )
    token_cache_seconds: float = Field(
        default=60.0, ge=0, description="How long a verified API token is remembered in-process (argon2 is slow)."
    )

    @field_validator("default_currency")
    @classmethod
    def _upper_currency(cls, value: str) -> str:
        return value.upper()

    @field_validator("platform_fee_basis_points")
    @classmethod
    def _fees_cover_every_kind(cls, value: dict[str, int]) -> dict[str, int]:
        kinds = {"brand", "overseas_brand", "farm_cooperative", "store_operator"}
        if set(value) != kinds:
            raise ValueError(f"give a fee for exactly these merchant kinds: {', '.join(sorted(kinds))}")
        if any(not 0 <= bp <= 10_000 for bp in value.values()):
            raise ValueError("a fee is between 0 and 10,000 basis points")
        return value

    @field_validator("instalment_fee_basis_points")
    @classmethod
    def _fees_for_every_plan(cls, value: dict[str, int]) -> dict[str, int]:
        if set(value) != {"3", "6", "12"} or any(not 0 <= bp <= 10_000 for bp in value.values()):
            raise ValueError("give a fee of 0-10,000 basis points for plans of exactly 3, 6 and 12 months")
        return value

    @field_validator("local_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone") from None
        return value

    @model_validator(mode="after")
    def _stripe_needs_its_keys(self) -> Settings:
        keys = (self.stripe_secret_key, self.stripe_webhook_secret, self.stripe_publishable_key)
        if self.payment_gateway == "stripe" and not all(keys):
            raise ValueError("the stripe gateway needs UNICHANNEL_STRIPE_SECRET_KEY, UNICHANNEL_STRIPE_WEBHOOK_SECRET "
                             "and UNICHANNEL_STRIPE_PUBLISHABLE_KEY")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def sqlite_path(self) -> Path | None:
        """The database file of a SQLite URL, or None for PostgreSQL or an in-memory database."""
        if not self.is_sqlite:
            return None
        path = self.database_url.split("///", 1)[-1]
        return None if path in ("", ":memory:") else Path(path)


@lru_cache
def get_settings() -> Settings:
    return Settings()
