"""flash_batch_apply(): a flash-sale batch is decided and written in one statement on PostgreSQL

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 20:10:00

The function replaces 0007's `flash_batch_state` (which only locked and read, leaving the decision and the write to
the caller, while the sale stayed locked across three more round trips). Called on its own, outside a transaction
block, it commits as it returns: the sale is locked for the function's own run and the commit, never while a
client's event loop is busy. It applies the rules of `promotions.model.allocate_batch` and writes what
`promotions.service._plan` writes on SQLite; tests run the same cases through both.
"""
from __future__ import annotations

from alembic import context, op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

# Arguments: one array element per request, in arrival order (requests repeating a key within the batch are answered
# by the caller and not passed). p_tills is the clerk's store for a till sale, NULL online; p_keys is NULL for a
# request without an Idempotency-Key. Returns one row (none if the sale does not exist): r_kinds per request
# ('placed', 'sold_out', 'shelf_empty', 'limit', 'replay', 'key_reused', 'closed'), r_bodies (the JSON answer of a
# placed or replayed request), r_statuses (a replay's status), r_exhausted (no online buyer can get a unit now), and
# r_sale (the sale's row, only when it is closed: the caller says why).
#
# Every statement of a VOLATILE function takes a snapshot of its own, so each read after the sale's lock sees what
# the batch that held the lock before committed.
FLASH_BATCH_APPLY = """
CREATE FUNCTION flash_batch_apply(
    p_sale bigint, p_now timestamptz, p_expires timestamptz, p_pay_before text,
    p_callers text[], p_customers bigint[], p_quantities integer[], p_channels text[], p_tills bigint[],
    p_keys text[], p_hashes text[])
RETURNS TABLE (r_kinds text[], r_bodies text[], r_statuses integer[], r_exhausted boolean, r_sale json)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    sale flash_sales%ROWTYPE;
    n integer := cardinality(p_customers);
    kinds text[] := array_fill(NULL::text, ARRAY[n]);
    bodies text[] := array_fill(NULL::text, ARRAY[n]);
    statuses integer[] := array_fill(NULL::integer, ARRAY[n]);
    claims bigint[];
    earlier record;
    buyers bigint[];        -- the batch's customers, each once
    slot integer[];         -- request -> its customer's place in buyers
    spent integer[];        -- per buyer: units of the sale held or bought
    locs bigint[];          -- the pool's locations that stock the SKU, in the pool's order
    units integer[];        -- units each of them can still give
    campaign_left integer;
    chosen integer;
    q integer;
    winners integer[] := '{}';
    won_at bigint[] := '{}';
    hold_ids bigint[];
    order_ids bigint[];
    won_bodies text[];
    sku text;
    line_name text;
    held integer;
BEGIN
    -- The keys, before the sale is locked (in one order, so two batches claiming the same keys cannot deadlock): each
    -- claimed here (waiting for a transaction that holds it), or answered as it was the first time.
    WITH claimed AS (
        INSERT INTO idempotency_keys (caller, key, request_hash, created_at)
        SELECT u.caller, u.key, u.hash, p_now FROM unnest(p_callers, p_keys, p_hashes) AS u(caller, key, hash)
         WHERE u.key IS NOT NULL ORDER BY u.caller, u.key
        ON CONFLICT (caller, key) DO NOTHING
        RETURNING idempotency_keys.caller, idempotency_keys.key, idempotency_keys.id)
    SELECT array_agg(c.id ORDER BY u.k) INTO claims
      FROM unnest(p_callers, p_keys) WITH ORDINALITY AS u(caller, key, k)
      LEFT JOIN claimed c ON c.caller = u.caller AND c.key = u.key;
    FOR i IN 1..n LOOP
        CONTINUE WHEN p_keys[i] IS NULL OR claims[i] IS NOT NULL;
        SELECT k.request_hash, k.status_code, k.response::text AS response INTO earlier
          FROM idempotency_keys k WHERE k.caller = p_callers[i] AND k.key = p_keys[i];
        IF earlier.request_hash = p_hashes[i] AND earlier.status_code IS NOT NULL THEN
            kinds[i] := 'replay';
            statuses[i] := earlier.status_code;
            bodies[i] := earlier.response;
        ELSE
            kinds[i] := 'key_reused';
        END IF;
    END LOOP;

    SELECT * INTO sale FROM flash_sales WHERE id = p_sale FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        DELETE FROM idempotency_keys WHERE id = ANY(claims);
        RETURN;
    END IF;
    IF p_now < sale.starts_at OR p_now >= sale.ends_at OR sale.sold >= sale.quantity THEN
        FOR i IN 1..n LOOP
            kinds[i] := coalesce(kinds[i], 'closed');
        END LOOP;
        DELETE FROM idempotency_keys WHERE id = ANY(claims);
        RETURN QUERY SELECT kinds, bodies, statuses, p_now >= sale.starts_at, row_to_json(sale);
        RETURN;
    END IF;

    -- What the batch decides on: the pool's stock (locked, in one order, for the few statements left) and the
    -- buyers' counts.
    PERFORM 1 FROM stock st
      WHERE st.variant_id = sale.variant_id
        AND st.location_id IN (SELECT fl.location_id FROM flash_sale_locations fl WHERE fl.flash_sale_id = p_sale)
      ORDER BY st.location_id FOR NO KEY UPDATE;
    SELECT array_agg(st.location_id ORDER BY fl.position),
           array_agg(greatest(0, st.on_hand - st.reserved - st.safety_stock) ORDER BY fl.position)
      INTO locs, units
      FROM flash_sale_locations fl JOIN stock st ON st.location_id = fl.location_id AND st.variant_id = sale.variant_id
     WHERE fl.flash_sale_id = p_sale;
    locs := coalesce(locs, '{}');
    units := coalesce(units, '{}');
    SELECT array_agg(d.c ORDER BY d.c) INTO buyers FROM (SELECT DISTINCT unnest(p_customers) AS c) d;
    SELECT array_agg(b.k::integer ORDER BY u.k) INTO slot
      FROM unnest(p_customers) WITH ORDINALITY AS u(c, k) JOIN unnest(buyers) WITH ORDINALITY AS b(c, k) ON b.c = u.c;
    SELECT array_agg(coalesce(fp.quantity, 0) ORDER BY b.k) INTO spent
      FROM unnest(buyers) WITH ORDINALITY AS b(c, k)
      LEFT JOIN flash_sale_purchases fp ON fp.flash_sale_id = p_sale AND fp.customer_id = b.c;

    -- The decision, in arrival order (promotions.model.allocate_batch).
    campaign_left := sale.quantity - sale.sold;
    FOR i IN 1..n LOOP
        CONTINUE WHEN kinds[i] IS NOT NULL;
        q := p_quantities[i];
        IF spent[slot[i]] + q > sale.per_customer_limit THEN
            kinds[i] := 'limit';
            CONTINUE;
        END IF;
        chosen := NULL;
        IF q <= campaign_left THEN
            IF p_tills[i] IS NULL THEN
                FOR j IN 1..cardinality(locs) LOOP
                    IF units[j] >= q THEN
                        chosen := j;
                        EXIT;
                    END IF;
                END LOOP;
            ELSE
                chosen := array_position(locs, p_tills[i]);
                IF chosen IS NOT NULL AND units[chosen] < q THEN
                    chosen := NULL;
                END IF;
            END IF;
        END IF;
        IF chosen IS NULL THEN
            kinds[i] := CASE WHEN p_tills[i] IS NULL THEN 'sold_out' ELSE 'shelf_empty' END;
            CONTINUE;
        END IF;
        campaign_left := campaign_left - q;
        units[chosen] := units[chosen] - q;
        spent[slot[i]] := spent[slot[i]] + q;
        kinds[i] := 'placed';
        winners := winners || i;
        won_at := won_at || locs[chosen];
    END LOOP;

    -- Losers leave no trace: their claims go, so a retry is decided afresh.
    DELETE FROM idempotency_keys WHERE id IN (
        SELECT claims[k] FROM generate_subscripts(claims, 1) AS k WHERE claims[k] IS NOT NULL AND kinds[k] <> 'placed');

    IF cardinality(winners) > 0 THEN
        SELECT array_agg(nextval(pg_get_serial_sequence('reservations', 'id'))),
               array_agg(nextval(pg_get_serial_sequence('orders', 'id')))
          INTO hold_ids, order_ids FROM generate_series(1, cardinality(winners));
        SELECT v.sku, CASE WHEN v.name IN ('', p.name) THEN p.name ELSE p.name || ' · ' || v.name END
          INTO sku, line_name FROM variants v JOIN products p ON p.id = v.product_id WHERE v.id = sale.variant_id;

        -- Holds on the stock rows (conditional, so they can never oversell), with a stock event per row.
        WITH used AS (
            SELECT w.loc, sum(p_quantities[w.i])::integer AS n
              FROM unnest(winners, won_at) AS w(i, loc) GROUP BY w.loc),
        held_rows AS (
            UPDATE stock st SET reserved = st.reserved + used.n, updated_at = p_now FROM used
             WHERE st.variant_id = sale.variant_id AND st.location_id = used.loc
               AND st.on_hand - st.reserved - st.safety_stock >= used.n
            RETURNING st.location_id, st.on_hand, st.reserved, st.safety_stock),
        events AS (
            INSERT INTO outbox_events (topic, aggregate_type, aggregate_id, payload, created_at)
            SELECT 'stock.changed', 'stock', sale.variant_id || '@' || h.location_id, jsonb_build_object(
                       'merchant_id', sale.merchant_id, 'variant_id', sale.variant_id, 'location_id', h.location_id,
                       'on_hand', h.on_hand, 'reserved', h.reserved,
                       'available', greatest(0, h.on_hand - h.reserved - h.safety_stock)), p_now
              FROM held_rows h ORDER BY h.location_id
            RETURNING 1)
        SELECT count(*) INTO held FROM events;
        IF held <> (SELECT count(DISTINCT loc) FROM unnest(won_at) AS loc) THEN
            RAISE EXCEPTION 'a stock row of flash sale % changed under its lock', p_sale;
        END IF;

        UPDATE flash_sales SET sold = sold + (SELECT sum(p_quantities[i]) FROM unnest(winners) AS i) WHERE id = p_sale;
        INSERT INTO flash_sale_purchases (flash_sale_id, customer_id, quantity)
        SELECT p_sale, p_customers[i], sum(p_quantities[i]) FROM unnest(winners) AS i GROUP BY p_customers[i]
         ORDER BY p_customers[i]
        ON CONFLICT (flash_sale_id, customer_id)
        DO UPDATE SET quantity = flash_sale_purchases.quantity + excluded.quantity;

        INSERT INTO reservations (id, merchant_id, variant_id, location_id, quantity, status, expires_at, created_at,
                                  updated_at)
        SELECT w.hold, sale.merchant_id, sale.variant_id, w.loc, p_quantities[w.i], 'active', p_expires, p_now, p_now
          FROM unnest(winners, won_at, hold_ids) AS w(i, loc, hold);
        INSERT INTO orders (id, checkout_id, customer_id, merchant_id, channel, status, currency, subtotal_minor,
                            delivery_minor, total_minor, delivery_mode, location_id, address, placed_by, flash_sale_id,
                            placed_at, updated_at)
        SELECT w.ord, NULL, p_customers[w.i], sale.merchant_id, p_channels[w.i], 'placed', sale.currency,
               sale.price_minor * p_quantities[w.i], 0, sale.price_minor * p_quantities[w.i],
               CASE WHEN p_channels[w.i] = 'store' THEN 'in_store' ELSE 'home_delivery' END, p_tills[w.i], NULL,
               p_callers[w.i], p_sale, p_now, p_now
          FROM unnest(winners, order_ids) AS w(i, ord);
        INSERT INTO order_lines (order_id, merchant_id, variant_id, sku, name, quantity, unit_price_minor,
                                 total_minor, location_id, reservation_id)
        SELECT w.ord, sale.merchant_id, sale.variant_id, sku, line_name, p_quantities[w.i], sale.price_minor,
               sale.price_minor * p_quantities[w.i], w.loc, w.hold
          FROM unnest(winners, won_at, hold_ids, order_ids) AS w(i, loc, hold, ord);
        INSERT INTO order_history (order_id, from_status, to_status, actor, note, at)
        SELECT w.ord, NULL, 'placed', p_callers[w.i], 'flash sale ' || p_sale, p_now
          FROM unnest(winners, order_ids) AS w(i, ord);

        SELECT array_agg(json_build_object(
                   'order_id', w.ord, 'flash_sale_id', p_sale, 'status', 'placed', 'customer_id', p_customers[w.i],
                   'sku', sku, 'quantity', p_quantities[w.i], 'unit_price_minor', sale.price_minor,
                   'total_minor', sale.price_minor * p_quantities[w.i], 'currency', sale.currency,
                   'location_id', w.loc, 'channel', p_channels[w.i], 'pay_before', p_pay_before)::text ORDER BY w.n)
          INTO won_bodies FROM unnest(winners, won_at, order_ids) WITH ORDINALITY AS w(i, loc, ord, n);
        FOR j IN 1..cardinality(winners) LOOP
            bodies[winners[j]] := won_bodies[j];
        END LOOP;
        UPDATE idempotency_keys k SET resource = 'order:' || w.ord, status_code = 201, response = w.body::jsonb
          FROM unnest(winners, order_ids, won_bodies) AS w(i, ord, body) WHERE k.id = claims[w.i];

        -- One event for the whole batch: the same facts in one outbox row instead of one per order.
        INSERT INTO outbox_events (topic, aggregate_type, aggregate_id, payload, created_at)
        SELECT 'flash_sale.orders_placed', 'flash_sale', p_sale::text, jsonb_build_object(
                   'flash_sale_id', p_sale, 'merchant_id', sale.merchant_id, 'variant_id', sale.variant_id,
                   'currency', sale.currency, 'orders', jsonb_agg(jsonb_build_object(
                       'order_id', w.ord, 'customer_id', p_customers[w.i], 'channel', p_channels[w.i],
                       'location_id', coalesce(p_tills[w.i], w.loc), 'quantity', p_quantities[w.i],
                       'total_minor', sale.price_minor * p_quantities[w.i]) ORDER BY w.n)), p_now
          FROM unnest(winners, won_at, order_ids) WITH ORDINALITY AS w(i, loc, ord, n);
    END IF;

    RETURN QUERY SELECT kinds, bodies, statuses,
        campaign_left = 0 OR coalesce((SELECT max(u) FROM unnest(units) AS u), 0) = 0, NULL::json;
END
$$
"""

DROP_APPLY = ("DROP FUNCTION flash_batch_apply(bigint, timestamptz, timestamptz, text, text[], bigint[], integer[], "
              "text[], bigint[], text[], text[])")
DROP_STATE = "DROP FUNCTION flash_batch_state(bigint, bigint[], integer, text[], text[], text[], timestamptz[])"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(DROP_STATE)
        op.execute(FLASH_BATCH_APPLY)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(DROP_APPLY)
        op.execute(context.script.get_revision("0007").module.FLASH_BATCH_STATE)
