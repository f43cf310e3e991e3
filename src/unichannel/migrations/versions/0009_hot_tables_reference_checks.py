"""The tables every order writes keep their keys within the order; references to master data move to `unichannel check`

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 22:30:00

Each order of a flash sale inserts a hold, an order, a line and a buyer's count; with foreign keys, PostgreSQL ran
about a dozen lookups (each with a row lock) per order into merchants, SKUs, locations, customers and the sale, rows
the same transaction had just read (the sale and its stock rows, locked) or the caller's token named. Without them,
the flash-sale benchmark took 5,027 and 4,604 orders/s against 3,816 and 2,958 with them, run in alternation. The keys within an order stay (line to
order and to its hold, history to order, order to checkout); the references to master data are checked by
`unichannel check` (rule 8), and no code deletes a merchant, SKU, location, customer or sale.

The same function is also replaced, to look its two sequences up once per batch instead of once per new id.
"""
from __future__ import annotations

from alembic import context, op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

# (table, column, referred table): the references this revision stops enforcing in the database.
DROPPED = [
    ("orders", "customer_id", "customers"),
    ("orders", "merchant_id", "merchants"),
    ("orders", "location_id", "locations"),
    ("orders", "assisted_by_location_id", "locations"),
    ("orders", "flash_sale_id", "flash_sales"),
    ("order_lines", "merchant_id", "merchants"),
    ("order_lines", "variant_id", "variants"),
    ("order_lines", "location_id", "locations"),
    ("reservations", "merchant_id", "merchants"),
    ("reservations", "variant_id", "variants"),
    ("reservations", "location_id", "locations"),
    ("flash_sale_purchases", "flash_sale_id", "flash_sales"),
    ("flash_sale_purchases", "customer_id", "customers"),
]

PER_ID = """        SELECT array_agg(nextval(pg_get_serial_sequence('reservations', 'id'))),
               array_agg(nextval(pg_get_serial_sequence('orders', 'id')))"""
PER_BATCH = """        SELECT array_agg(nextval(hold_sequence)), array_agg(nextval(order_sequence))"""
SEQUENCES = """    held integer;
    hold_sequence regclass := pg_get_serial_sequence('reservations', 'id');
    order_sequence regclass := pg_get_serial_sequence('orders', 'id');"""


def _function(before: str) -> str:
    """0008's function, with its sequences looked up once per call."""
    assert before.count(PER_ID) == 1 and before.count("    held integer;") == 1
    return before.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1).replace(PER_ID, PER_BATCH).replace(
        "    held integer;", SEQUENCES)


def _by_table() -> dict[str, list[tuple[str, str]]]:
    tables: dict[str, list[tuple[str, str]]] = {}
    for table, column, referred in DROPPED:
        tables.setdefault(table, []).append((column, referred))
    return tables


def _name(table: str, column: str, referred: str) -> str:
    return f"fk_{table}_{column}_{referred}"


def upgrade() -> None:
    for table, references in _by_table().items():
        with op.batch_alter_table(table) as batch:  # SQLite copies the table once; PostgreSQL alters it in place
            for column, referred in references:
                batch.drop_constraint(_name(table, column, referred), type_="foreignkey")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_function(context.script.get_revision("0008").module.FLASH_BATCH_APPLY))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(context.script.get_revision("0008").module.FLASH_BATCH_APPLY.replace(
            "CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
    for table, references in _by_table().items():
        with op.batch_alter_table(table) as batch:
            for column, referred in references:
                batch.create_foreign_key(_name(table, column, referred), referred, [column], ["id"])
