"""unichannel: storefront, phone and stores as one channel around one customer, cart, inventory and ledger."""

__version__ = "0.1.0"
