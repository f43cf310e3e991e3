"""Customer rules: one member identity (phone or email) for the web, the phone and the store till."""

from __future__ import annotations

import re

from unichannel.errors import InvalidInput

PHONE_PATTERN = re.compile(r"^\+[1-9][0-9]{6,14}$")  # E.164
EMAIL_PATTERN = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s.]{2,63}$")
MIN_PASSWORD_LENGTH = 8


def normalise_phone(phone: str) -> str:
    """An E.164 number ('+8613800001111'); spaces, dashes and brackets are dropped, a bare 11-digit Chinese mobile
    number gets +86."""
    digits = re.sub(r"[\s\-()]", "", phone or "")
    if re.fullmatch(r"1[3-9][0-9]{9}", digits):
        digits = "+86" + digits
    if not PHONE_PATTERN.match(digits):
        raise InvalidInput("a phone number is in international form, e.g. +8613800001111", field="phone")
    return digits


def normalise_email(email: str) -> str:
    value = (email or "").strip()
    if len(value) > 254 or not EMAIL_PATTERN.match(value):
        raise InvalidInput("that is not an email address", field="email")
    local, _, domain = value.partition("@")
    return f"{local}@{domain.lower()}"


def check_identity(phone: str | None, email: str | None) -> tuple[str | None, str | None]:
    """A member is known by a phone number, an email address, or both; at least one."""
    if not phone and not email:
        raise InvalidInput("a member needs a phone number or an email address", field="phone")
    return (normalise_phone(phone) if phone else None, normalise_email(email) if email else None)


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"a password has at least {MIN_PASSWORD_LENGTH} characters", field="password")
    if len(password) > 256:
        raise InvalidInput("a password has at most 256 characters", field="password")
    return password


def identifier_kind(identifier: str) -> str:
    """'email' when the sign-in identifier looks like an email address, else 'phone'."""
    return "email" if "@" in identifier else "phone"
