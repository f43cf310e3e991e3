"""flash_batch_state(): a flash-sale batch locks its sale and reads what it decides on in one round trip (PostgreSQL)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 17:50:00
"""
from __future__ import annotations

from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

# The lock comes first; every query after it is a query of a VOLATILE function, which takes a snapshot of its own, so
# it sees what the batch that held the lock before committed. (In one plain statement the reads would share the
# statement's snapshot, taken before the wait.) The keys are claimed as `idempotency.claim_many` claims them.
FLASH_BATCH_STATE = """
CREATE FUNCTION flash_batch_state(
    p_sale bigint, p_customers bigint[], p_batch integer,
    p_callers text[], p_keys text[], p_hashes text[], p_created timestamptz[])
RETURNS TABLE (r_sale json, r_pool bigint[], r_levels json, r_bought json, r_sku text, r_line_name text,
               r_holds bigint[], r_orders bigint[], r_claimed json)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    locked flash_sales%ROWTYPE;
BEGIN
    SELECT * INTO locked FROM flash_sales WHERE id = p_sale FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    RETURN QUERY
    WITH claimed AS (
        INSERT INTO idempotency_keys (caller, key, request_hash, created_at)
        SELECT * FROM unnest(p_callers, p_keys, p_hashes, p_created)
        ON CONFLICT (caller, key) DO NOTHING
        RETURNING idempotency_keys.caller, idempotency_keys.key, idempotency_keys.id)
    SELECT
        row_to_json(locked),
        (SELECT array_agg(fl.location_id ORDER BY fl.position) FROM flash_sale_locations fl
          WHERE fl.flash_sale_id = p_sale),
        (SELECT json_agg(json_build_array(st.location_id, st.on_hand, st.reserved, st.safety_stock))
           FROM stock st JOIN flash_sale_locations fl ON fl.location_id = st.location_id AND fl.flash_sale_id = p_sale
          WHERE st.variant_id = locked.variant_id),
        (SELECT json_agg(json_build_array(fp.customer_id, fp.quantity)) FROM flash_sale_purchases fp
          WHERE fp.flash_sale_id = p_sale AND fp.customer_id = ANY(p_customers)),
        (SELECT v.sku::text FROM variants v WHERE v.id = locked.variant_id),
        (SELECT (CASE WHEN v.name IN ('', p.name) THEN p.name ELSE p.name || ' · ' || v.name END)::text
           FROM variants v JOIN products p ON p.id = v.product_id WHERE v.id = locked.variant_id),
        (SELECT array_agg(nextval(pg_get_serial_sequence('reservations', 'id'))) FROM generate_series(1, p_batch)),
        (SELECT array_agg(nextval(pg_get_serial_sequence('orders', 'id'))) FROM generate_series(1, p_batch)),
        (SELECT json_agg(json_build_array(c.caller, c.key, c.id)) FROM claimed c);
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FLASH_BATCH_STATE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION flash_batch_state(bigint, bigint[], integer, text[], text[], text[], timestamptz[])")
