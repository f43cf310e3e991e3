"""Every table of every context, registered on the one metadata (for Alembic and for tests)."""

from unichannel import events, idempotency  # noqa: F401
from unichannel.access import repository as _access  # noqa: F401
from unichannel.catalog import repository as _catalog  # noqa: F401
from unichannel.checkout import repository as _checkout  # noqa: F401
from unichannel.customers import repository as _customers  # noqa: F401
from unichannel.fulfillment import repository as _fulfillment  # noqa: F401
from unichannel.db import metadata
from unichannel.inventory import repository as _inventory  # noqa: F401
from unichannel.orders import repository as _orders  # noqa: F401
from unichannel.payments import repository as _payments  # noqa: F401
from unichannel.promotions import repository as _promotions  # noqa: F401

__all__ = ["metadata"]
