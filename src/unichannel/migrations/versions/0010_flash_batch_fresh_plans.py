"""flash_batch_apply plans its joins of the batch against growing tables afresh on every call

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 23:30:00

A PL/pgSQL function keeps each statement's plan for the life of its connection, made for the table sizes it saw
first. The flash-sale coalescer holds its connection from before a sale opens, when `idempotency_keys` is small: the
statement storing the winners' results kept a hash join over a sequential scan of the whole table, and a batch of 100
orders spent 9 of its 19 ms reading 30,000 keys (auto_explain, on the flash benchmark's database after 30,000 orders),
more with every batch. The statements that join the batch's arrays to a table that grows during a sale (the keys,
the buyers' counts) now run through EXECUTE, which plans them for the arrays and tables as they are: a few index
lookups each. Plans of statements that look a row up by its key are kept (they cannot go wrong this way).
"""
from __future__ import annotations

from alembic import context, op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

# (as 0008 wrote it, as it is now): each must occur exactly once in 0009's function.
REWRITES = [
    ("""    IF NOT FOUND THEN
        DELETE FROM idempotency_keys WHERE id = ANY(claims);""",
     """    IF NOT FOUND THEN
        EXECUTE 'DELETE FROM idempotency_keys WHERE id = ANY($1)' USING claims;"""),
    ("""        DELETE FROM idempotency_keys WHERE id = ANY(claims);
        RETURN QUERY""",
     """        EXECUTE 'DELETE FROM idempotency_keys WHERE id = ANY($1)' USING claims;
        RETURN QUERY"""),
    ("""    SELECT array_agg(coalesce(fp.quantity, 0) ORDER BY b.k) INTO spent
      FROM unnest(buyers) WITH ORDINALITY AS b(c, k)
      LEFT JOIN flash_sale_purchases fp ON fp.flash_sale_id = p_sale AND fp.customer_id = b.c;""",
     """    EXECUTE 'SELECT array_agg(coalesce(fp.quantity, 0) ORDER BY b.k) FROM unnest($2) WITH ORDINALITY AS b(c, k)
               LEFT JOIN flash_sale_purchases fp ON fp.flash_sale_id = $1 AND fp.customer_id = b.c'
       INTO spent USING p_sale, buyers;"""),
    ("""    DELETE FROM idempotency_keys WHERE id IN (
        SELECT claims[k] FROM generate_subscripts(claims, 1) AS k WHERE claims[k] IS NOT NULL AND kinds[k] <> 'placed');""",
     """    EXECUTE 'DELETE FROM idempotency_keys WHERE id = ANY($1)' USING ARRAY(
        SELECT claims[k] FROM generate_subscripts(claims, 1) AS k WHERE claims[k] IS NOT NULL AND kinds[k] <> 'placed');"""),
    ("""        UPDATE idempotency_keys k SET resource = 'order:' || w.ord, status_code = 201, response = w.body::jsonb
          FROM unnest(winners, order_ids, won_bodies) AS w(i, ord, body) WHERE k.id = claims[w.i];""",
     """        EXECUTE 'UPDATE idempotency_keys k SET resource = ''order:'' || w.ord, status_code = 201,
                        response = w.body::jsonb
                   FROM unnest($1, $2, $3) AS w(claim, ord, body) WHERE k.id = w.claim'
          USING ARRAY(SELECT claims[w.i] FROM unnest(winners) WITH ORDINALITY AS w(i, n) ORDER BY w.n), order_ids,
                won_bodies;"""),
]


def _previous() -> str:
    """0009's function (0008's, with its sequences looked up once per call)."""
    script = context.script
    return script.get_revision("0009").module._function(script.get_revision("0008").module.FLASH_BATCH_APPLY)


def _function() -> str:
    text = _previous()
    for before, after in REWRITES:
        assert text.count(before) == 1, before
        text = text.replace(before, after)
    return text


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_function())


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_previous())
