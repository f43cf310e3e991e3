"""Who may do what: roles, principals and the scoping rules every context applies.

A merchant never sees another merchant's things: a scoped lookup that misses is a 404, not a 403, so ids of other
merchants' products, stock and orders are not even confirmed to exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from unichannel.errors import Forbidden, InvalidInput, NotFound

TOKEN_PREFIX = "uct"


class Role(StrEnum):
    SHOPPER = "shopper"
    CLERK = "clerk"  # store clerk, bound to one store location
    MERCHANT = "merchant"  # merchant staff, bound to one merchant
    OPERATOR = "operator"  # platform operator, sees everything


@dataclass(frozen=True, slots=True)
class Principal:
    token_id: int
    role: Role
    customer_id: int | None = None
    merchant_id: int | None = None
    location_id: int | None = None
    location_kind: str | None = None  # of a clerk's location: a store, or a village station

    @property
    def is_station_operator(self) -> bool:
        """A clerk of a village station: places assisted orders for villagers and hands over their parcels."""
        return self.role is Role.CLERK and self.location_kind == "village_station"

    @property
    def key(self) -> str:
        """A stable name for this caller, used to scope idempotency keys."""
        if self.role is Role.SHOPPER:
            return f"customer:{self.customer_id}"
        return f"token:{self.token_id}"

    def require(self, *roles: Role) -> None:
        if self.role not in roles:
            raise Forbidden(f"this needs one of the roles: {', '.join(r.value for r in roles)}")

    def merchant_filter(self) -> int | None:
        """The merchant this caller is confined to, or None for an operator; others may not manage a catalog."""
        self.require(Role.MERCHANT, Role.OPERATOR)
        return self.merchant_id if self.role is Role.MERCHANT else None

    def check_merchant(self, merchant_id: int, what: str = "resource") -> None:
        """A merchant may only touch its own things; anything else looks as if it did not exist."""
        self.require(Role.MERCHANT, Role.OPERATOR)
        if self.role is Role.MERCHANT and self.merchant_id != merchant_id:
            raise NotFound(f"no such {what}")

    def check_location(self, location_id: int, location_merchant_id: int | None, what: str = "location") -> None:
        """Clerks work their own store only; merchant staff the locations their merchant runs; operators any."""
        if self.role is Role.OPERATOR:
            return
        if self.role is Role.CLERK and self.location_id == location_id:
            return
        if self.role is Role.MERCHANT and location_merchant_id is not None and location_merchant_id == self.merchant_id:
            return
        if self.role is Role.SHOPPER:
            raise Forbidden("shoppers cannot manage stock")
        raise NotFound(f"no such {what}")


def token_binding_errors(role: Role, customer_id: int | None, merchant_id: int | None, location_id: int | None) -> None:
    """A token is bound to exactly what its role needs: a shopper to a customer, a clerk to a store, staff to a merchant."""
    needs = {
        Role.SHOPPER: ("customer_id", customer_id),
        Role.CLERK: ("location_id", location_id),
        Role.MERCHANT: ("merchant_id", merchant_id),
    }
    if role in needs:
        name, value = needs[role]
        if value is None:
            raise InvalidInput(f"a {role.value} token must be bound to a {name.removesuffix('_id')}", field=name)
    bound = {"customer_id": customer_id, "merchant_id": merchant_id, "location_id": location_id}
    allowed = {needs[role][0]} if role in needs else set()
    for name, value in bound.items():
        if value is not None and name not in allowed:
            raise InvalidInput(f"a {role.value} token cannot be bound to a {name.removesuffix('_id')}", field=name)


def split_token(token: str) -> tuple[str, str]:
    """(public id, secret) of a bearer token `uct_<public id>_<secret>`; InvalidInput-free: a bad token is just unknown."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[1] or not parts[2]:
        raise ValueError("malformed token")
    return parts[1], parts[2]
