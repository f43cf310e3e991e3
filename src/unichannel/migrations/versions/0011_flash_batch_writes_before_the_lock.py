"""flash_batch_apply writes a batch's orders before it locks the sale, so the two server processes' batches overlap

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 05:10:00

Batches for one sale are serialised by its row lock, held from the lock to the commit. Until now everything a batch
writes happened under it: sampling pg_stat_activity during the flash benchmark (2 workers), one batch ran while the
other waited for the lock (`Lock:transactionid`) in 72 % of the samples that showed any batch, both ran in 9 %, and
more than a quarter of the CPU was idle. Most of what a batch writes does not depend on the decision: who wins is nearly
always known before the lock from the committed state (it changes when another batch commits), and a batch's
holds, orders, lines, history rows and the winners' idempotency results (stored with the claim, sparing an update of
each key) are new rows no one else can see or wait for. So the function now

1. reads the sale's terms and decides the batch against the committed stock and buyers' counts, without a lock, and
   writes the rows of the requests that would win (`flash_batch_write`) and claims the keys with their answers;
2. locks the sale and its stock rows and decides again (`flash_batch_decide`, the same rules, on what is now
   committed): the rows of a request that lost after all, or won at another store, are deleted; a request that won
   without rows gets them; the counters, holds on stock and outbox events are written as before.

While a sale has units the two decisions agree, and the lock covers only the counters and the events. A sale's terms
other than its dates and counters never change once created; those are read again under the lock.
"""
from __future__ import annotations

from alembic import context, op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

# The rules of `promotions.model.allocate_batch`, in arrival order, on the pool's stock and the buyers' counts as
# committed when called (a request with a kind already is skipped). chosen: the location of each placed request.
FLASH_BATCH_DECIDE = """
CREATE FUNCTION flash_batch_decide(
    p_sale bigint, p_variant bigint, p_left integer, p_limit integer,
    p_customers bigint[], p_quantities integer[], p_tills bigint[],
    INOUT kinds text[], OUT chosen bigint[], OUT exhausted boolean)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    n integer := cardinality(p_customers);
    buyers bigint[];        -- the batch's customers, each once
    slot integer[];         -- request -> its customer's place in buyers
    spent integer[];        -- per buyer: units of the sale held or bought
    locs bigint[];          -- the pool's locations that stock the SKU, in the pool's order
    units integer[];        -- units each of them can still give
    campaign_left integer := p_left;
    j integer;
    q integer;
BEGIN
    chosen := array_fill(NULL::bigint, ARRAY[n]);
    SELECT array_agg(st.location_id ORDER BY fl.position),
           array_agg(greatest(0, st.on_hand - st.reserved - st.safety_stock) ORDER BY fl.position)
      INTO locs, units
      FROM flash_sale_locations fl JOIN stock st ON st.location_id = fl.location_id AND st.variant_id = p_variant
     WHERE fl.flash_sale_id = p_sale;
    locs := coalesce(locs, '{}');
    units := coalesce(units, '{}');
    SELECT array_agg(d.c ORDER BY d.c) INTO buyers FROM (SELECT DISTINCT unnest(p_customers) AS c) d;
    SELECT array_agg(b.k::integer ORDER BY u.k) INTO slot
      FROM unnest(p_customers) WITH ORDINALITY AS u(c, k) JOIN unnest(buyers) WITH ORDINALITY AS b(c, k) ON b.c = u.c;
    EXECUTE 'SELECT array_agg(coalesce(fp.quantity, 0) ORDER BY b.k) FROM unnest($2) WITH ORDINALITY AS b(c, k)
               LEFT JOIN flash_sale_purchases fp ON fp.flash_sale_id = $1 AND fp.customer_id = b.c'
       INTO spent USING p_sale, buyers;
    FOR i IN 1..n LOOP
        CONTINUE WHEN kinds[i] IS NOT NULL;
        q := p_quantities[i];
        IF spent[slot[i]] + q > p_limit THEN
            kinds[i] := 'limit';
            CONTINUE;
        END IF;
        j := NULL;
        IF q <= campaign_left THEN
            IF p_tills[i] IS NULL THEN
                FOR c IN 1..cardinality(locs) LOOP
                    IF units[c] >= q THEN
                        j := c;
                        EXIT;
                    END IF;
                END LOOP;
            ELSE
                j := array_position(locs, p_tills[i]);
                IF j IS NOT NULL AND units[j] < q THEN
                    j := NULL;
                END IF;
            END IF;
        END IF;
        IF j IS NULL THEN
            kinds[i] := CASE WHEN p_tills[i] IS NULL THEN 'sold_out' ELSE 'shelf_empty' END;
            CONTINUE;
        END IF;
        campaign_left := campaign_left - q;
        units[j] := units[j] - q;
        spent[slot[i]] := spent[slot[i]] + q;
        kinds[i] := 'placed';
        chosen[i] := locs[j];
    END LOOP;
    exhausted := campaign_left = 0 OR coalesce((SELECT max(u) FROM unnest(units) AS u), 0) = 0;
END
$$
"""

# The hold, order, line and history rows of the requests p_which (indexes into the batch's arrays), each at the
# location p_at[i] with the ids p_holds[i] and p_orders[i]. Returns the answers, one per request of the batch (NULL
# for those not in p_which).
FLASH_BATCH_WRITE = """
CREATE FUNCTION flash_batch_write(
    p_sale flash_sales, p_now timestamptz, p_expires timestamptz, p_pay_before text, p_sku text, p_line_name text,
    p_callers text[], p_customers bigint[], p_quantities integer[], p_channels text[], p_tills bigint[],
    p_which integer[], p_at bigint[], p_holds bigint[], p_orders bigint[])
RETURNS text[]
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    built text[];
    answers text[] := array_fill(NULL::text, ARRAY[cardinality(p_customers)]);
BEGIN
    INSERT INTO reservations (id, merchant_id, variant_id, location_id, quantity, status, expires_at, created_at,
                              updated_at)
    SELECT p_holds[w.i], p_sale.merchant_id, p_sale.variant_id, p_at[w.i], p_quantities[w.i], 'active', p_expires,
           p_now, p_now
      FROM unnest(p_which) AS w(i);
    INSERT INTO orders (id, checkout_id, customer_id, merchant_id, channel, status, currency, subtotal_minor,
                        delivery_minor, total_minor, delivery_mode, location_id, address, placed_by, flash_sale_id,
                        placed_at, updated_at)
    SELECT p_orders[w.i], NULL, p_customers[w.i], p_sale.merchant_id, p_channels[w.i], 'placed', p_sale.currency,
           p_sale.price_minor * p_quantities[w.i], 0, p_sale.price_minor * p_quantities[w.i],
           CASE WHEN p_channels[w.i] = 'store' THEN 'in_store' ELSE 'home_delivery' END, p_tills[w.i], NULL,
           p_callers[w.i], p_sale.id, p_now, p_now
      FROM unnest(p_which) AS w(i);
    INSERT INTO order_lines (order_id, merchant_id, variant_id, sku, name, quantity, unit_price_minor, total_minor,
                             location_id, reservation_id)
    SELECT p_orders[w.i], p_sale.merchant_id, p_sale.variant_id, p_sku, p_line_name, p_quantities[w.i],
           p_sale.price_minor, p_sale.price_minor * p_quantities[w.i], p_at[w.i], p_holds[w.i]
      FROM unnest(p_which) AS w(i);
    INSERT INTO order_history (order_id, from_status, to_status, actor, note, at)
    SELECT p_orders[w.i], NULL, 'placed', p_callers[w.i], 'flash sale ' || p_sale.id, p_now
      FROM unnest(p_which) AS w(i);
    SELECT array_agg(json_build_object(
               'order_id', p_orders[w.i], 'flash_sale_id', p_sale.id, 'status', 'placed',
               'customer_id', p_customers[w.i], 'sku', p_sku, 'quantity', p_quantities[w.i],
               'unit_price_minor', p_sale.price_minor, 'total_minor', p_sale.price_minor * p_quantities[w.i],
               'currency', p_sale.currency, 'location_id', p_at[w.i], 'channel', p_channels[w.i],
               'pay_before', p_pay_before)::text ORDER BY w.n)
      INTO built FROM unnest(p_which) WITH ORDINALITY AS w(i, n);
    FOR j IN 1..cardinality(p_which) LOOP
        answers[p_which[j]] := built[j];
    END LOOP;
    RETURN answers;
END
$$
"""

# Arguments and result as in 0008: one array element per request, in arrival order; r_kinds per request ('placed',
# 'sold_out', 'shelf_empty', 'limit', 'replay', 'key_reused', 'closed'), r_bodies, r_statuses (a replay's),
# r_exhausted, r_sale (only when the sale is closed).
FLASH_BATCH_APPLY = """
CREATE OR REPLACE FUNCTION flash_batch_apply(
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
    forecast bigint[] := array_fill(NULL::bigint, ARRAY[n]);   -- where a request's rows were written before the lock
    final bigint[] := array_fill(NULL::bigint, ARRAY[n]);      -- where it was placed
    planned text[] := array_fill(NULL::text, ARRAY[n]);        -- the answers written before the lock
    late text[];                                               -- and those written after
    written integer[] := '{}';
    gone integer[];
    gone_orders bigint[];
    fresh integer[];
    losing_claims bigint[];
    decided record;
    open_sale boolean;
    claims bigint[];
    earlier record;
    hold_ids bigint[];
    order_ids bigint[];
    winners integer[];
    won_at bigint[];
    sku text;
    line_name text;
    held integer;
    hold_sequence regclass := pg_get_serial_sequence('reservations', 'id');
    order_sequence regclass := pg_get_serial_sequence('orders', 'id');
BEGIN
    -- Before the lock: the sale's terms, a decision on what is committed now, and the rows of its winners.
    SELECT * INTO sale FROM flash_sales WHERE id = p_sale;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT array_agg(nextval(hold_sequence)), array_agg(nextval(order_sequence))
      INTO hold_ids, order_ids FROM generate_series(1, n);
    SELECT v.sku, CASE WHEN v.name IN ('', p.name) THEN p.name ELSE p.name || ' · ' || v.name END
      INTO sku, line_name FROM variants v JOIN products p ON p.id = v.product_id WHERE v.id = sale.variant_id;
    IF p_now >= sale.starts_at AND p_now < sale.ends_at AND sale.sold < sale.quantity THEN
        SELECT * INTO decided FROM flash_batch_decide(p_sale, sale.variant_id, sale.quantity - sale.sold,
                                                      sale.per_customer_limit, p_customers, p_quantities, p_tills,
                                                      kinds);
        forecast := decided.chosen;
        written := ARRAY(SELECT k FROM generate_series(1, n) AS k WHERE forecast[k] IS NOT NULL ORDER BY k);
        IF cardinality(written) > 0 THEN
            planned := flash_batch_write(sale, p_now, p_expires, p_pay_before, sku, line_name, p_callers, p_customers,
                                         p_quantities, p_channels, p_tills, written, forecast, hold_ids, order_ids);
        END IF;
    END IF;

    -- The keys, in one order (two batches claiming the same keys cannot deadlock), each with the answer written for
    -- it: claimed here (after waiting for a transaction that holds it), or answered as it was the first time.
    WITH claimed AS (
        INSERT INTO idempotency_keys (caller, key, request_hash, resource, status_code, response, created_at)
        SELECT u.caller, u.key, u.hash, CASE WHEN planned[u.k] IS NOT NULL THEN 'order:' || order_ids[u.k] END,
               CASE WHEN planned[u.k] IS NOT NULL THEN 201 END, planned[u.k]::jsonb, p_now
          FROM unnest(p_callers, p_keys, p_hashes) WITH ORDINALITY AS u(caller, key, hash, k)
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

    -- Under the sale's lock (and its pool's stock rows', in one order): the decision on what is committed now.
    SELECT * INTO sale FROM flash_sales WHERE id = p_sale FOR NO KEY UPDATE;
    open_sale := p_now >= sale.starts_at AND p_now < sale.ends_at AND sale.sold < sale.quantity;
    IF open_sale THEN
        PERFORM 1 FROM stock st
          WHERE st.variant_id = sale.variant_id
            AND st.location_id IN (SELECT fl.location_id FROM flash_sale_locations fl WHERE fl.flash_sale_id = p_sale)
          ORDER BY st.location_id FOR NO KEY UPDATE;
        SELECT * INTO decided FROM flash_batch_decide(p_sale, sale.variant_id, sale.quantity - sale.sold,
                                                      sale.per_customer_limit, p_customers, p_quantities, p_tills,
                                                      kinds);
        kinds := decided.kinds;
        final := decided.chosen;
    ELSE
        FOR i IN 1..n LOOP
            kinds[i] := coalesce(kinds[i], 'closed');
        END LOOP;
    END IF;

    -- Rows written for a request that did not win there go; a request that won elsewhere or without rows gets them.
    gone := ARRAY(SELECT k FROM unnest(written) AS k WHERE final[k] IS DISTINCT FROM forecast[k]);
    IF cardinality(gone) > 0 THEN
        gone_orders := ARRAY(SELECT order_ids[k] FROM unnest(gone) AS k);
        DELETE FROM order_history WHERE order_id = ANY(gone_orders);
        DELETE FROM order_lines WHERE order_id = ANY(gone_orders);
        DELETE FROM orders WHERE id = ANY(gone_orders);
        DELETE FROM reservations WHERE id = ANY(ARRAY(SELECT hold_ids[k] FROM unnest(gone) AS k));
    END IF;
    fresh := ARRAY(SELECT k FROM generate_series(1, n) AS k
                    WHERE final[k] IS NOT NULL AND final[k] IS DISTINCT FROM forecast[k] ORDER BY k);
    late := array_fill(NULL::text, ARRAY[n]);
    IF cardinality(fresh) > 0 THEN
        late := flash_batch_write(sale, p_now, p_expires, p_pay_before, sku, line_name, p_callers, p_customers,
                                  p_quantities, p_channels, p_tills, fresh, final, hold_ids, order_ids);
        FOR j IN 1..cardinality(fresh) LOOP
            CONTINUE WHEN claims[fresh[j]] IS NULL;
            UPDATE idempotency_keys SET resource = 'order:' || order_ids[fresh[j]], status_code = 201,
                   response = late[fresh[j]]::jsonb
             WHERE id = claims[fresh[j]];
        END LOOP;
    END IF;
    -- Losers leave no trace: their claims go, so a retry is decided afresh.
    losing_claims := ARRAY(SELECT claims[k] FROM generate_subscripts(claims, 1) AS k
                            WHERE claims[k] IS NOT NULL AND kinds[k] <> 'placed');
    IF cardinality(losing_claims) > 0 THEN
        EXECUTE 'DELETE FROM idempotency_keys WHERE id = ANY($1)' USING losing_claims;
    END IF;
    IF NOT open_sale THEN
        RETURN QUERY SELECT kinds, bodies, statuses, p_now >= sale.starts_at, row_to_json(sale);
        RETURN;
    END IF;

    winners := ARRAY(SELECT k FROM generate_series(1, n) AS k WHERE kinds[k] = 'placed' ORDER BY k);
    won_at := ARRAY(SELECT final[k] FROM unnest(winners) AS k);
    FOR j IN 1..cardinality(winners) LOOP
        bodies[winners[j]] := coalesce(late[winners[j]], planned[winners[j]]);
    END LOOP;
    IF cardinality(winners) > 0 THEN
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

        -- One event for the whole batch: the same facts in one outbox row instead of one per order.
        INSERT INTO outbox_events (topic, aggregate_type, aggregate_id, payload, created_at)
        SELECT 'flash_sale.orders_placed', 'flash_sale', p_sale::text, jsonb_build_object(
                   'flash_sale_id', p_sale, 'merchant_id', sale.merchant_id, 'variant_id', sale.variant_id,
                   'currency', sale.currency, 'orders', jsonb_agg(jsonb_build_object(
                       'order_id', order_ids[w.i], 'customer_id', p_customers[w.i], 'channel', p_channels[w.i],
                       'location_id', coalesce(p_tills[w.i], w.loc), 'quantity', p_quantities[w.i],
                       'total_minor', sale.price_minor * p_quantities[w.i]) ORDER BY w.n)), p_now
          FROM unnest(winners, won_at) WITH ORDINALITY AS w(i, loc, n);
    END IF;

    RETURN QUERY SELECT kinds, bodies, statuses, decided.exhausted, NULL::json;
END
$$
"""

DROP_HELPERS = [
    "DROP FUNCTION flash_batch_decide(bigint, bigint, integer, integer, bigint[], integer[], bigint[], text[])",
    ("DROP FUNCTION flash_batch_write(flash_sales, timestamptz, timestamptz, text, text, text, text[], bigint[], "
     "integer[], text[], bigint[], integer[], bigint[], bigint[], bigint[])"),
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FLASH_BATCH_DECIDE)
        op.execute(FLASH_BATCH_WRITE)
        op.execute(FLASH_BATCH_APPLY)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(context.script.get_revision("0010").module._function())
        for statement in DROP_HELPERS:
            op.execute(statement)
