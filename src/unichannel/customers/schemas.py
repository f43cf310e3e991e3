"""Member request and response models."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from unichannel.api_types import StrictModel


class RegisterIn(StrictModel):
    phone: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=254)
    name: str = Field(default="", max_length=120)
    password: str | None = Field(default=None, max_length=256)
    locale: str = Field(default="zh_CN", pattern=r"^[a-z]{2}(_[A-Z]{2})?$")


class SignInIn(StrictModel):
    identifier: str = Field(min_length=1, max_length=254, description="phone or email")
    password: str = Field(min_length=1, max_length=256)


class CustomerOut(BaseModel):
    id: int
    phone: str | None
    email: str | None
    name: str
    locale: str
    created_at: datetime


class TokenOut(BaseModel):
    token: str
    role: str
    customer: CustomerOut | None = None


class MeOut(BaseModel):
    role: str
    customer: CustomerOut | None = None
    merchant_id: int | None = None
    location_id: int | None = None
