-- "Online" and "unpaid", each defined once, here: the views, the heartbeat functions and every query of the
-- server (farlabs_server/db/) use these two functions instead of writing the condition out.

-- How long a node stays online after its last beat. The server sets `farlabs.node_offline_after_s` on every
-- pooled connection to its Settings.offline_after_s (3 x heartbeat_interval_s), so the view below and the
-- server agree; any other session (psql, a report, a replica of the previous release) gets 90 s, 3 x the
-- default 30 s interval. `SET farlabs.node_offline_after_s = 15` in psql to look through a server's eyes.
CREATE FUNCTION far_node_offline_after()
RETURNS INTERVAL
LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('farlabs.node_offline_after_s', true), '')::NUMERIC, 90)
           * INTERVAL '1 second';
$$;

-- Online: registered and not unregistered, and seen within that window before p_now (the server passes its
-- own clock). A simple SQL function: PostgreSQL inlines it, so the (model_id, status, last_seen) index serves it.
CREATE FUNCTION far_node_online(n far_nodes, p_now TIMESTAMPTZ DEFAULT now())
RETURNS BOOLEAN
LANGUAGE sql STABLE AS $$
    SELECT n.status = 'online' AND n.last_seen > p_now - far_node_offline_after();
$$;

-- Unpaid: no payout has paid it yet. A contribution reserved by a batch that is not confirmed (planned, signed,
-- broadcast, failed) is still unpaid; the batch shows in the provider's payments with its status, and the
-- planner takes only unpaid contributions that no batch has reserved (db/payouts.py), so none is paid twice.
CREATE FUNCTION far_contribution_unpaid(c far_session_contributions)
RETURNS BOOLEAN
LANGUAGE sql IMMUTABLE AS $$
    SELECT c.paid_at IS NULL;
$$;

CREATE OR REPLACE VIEW active_far_nodes AS
SELECT n.*
FROM far_nodes n
WHERE far_node_online(n);

CREATE OR REPLACE VIEW node_earnings_summary AS
SELECT n.id                                                            AS node_id,
       n.wallet_address,
       n.node_name,
       count(c.id)                                                     AS session_count,
       coalesce(sum(c.tokens_contributed), 0)::BIGINT                  AS tokens_contributed,
       coalesce(sum(c.block_tokens), 0)::BIGINT                        AS block_tokens,
       coalesce(sum(c.payment_far), 0)::NUMERIC(38, 18)                AS total_earned_far,
       coalesce(sum(c.payment_far) FILTER (WHERE NOT far_contribution_unpaid(c)), 0)::NUMERIC(38, 18) AS paid_far,
       coalesce(sum(c.payment_far) FILTER (WHERE far_contribution_unpaid(c)), 0)::NUMERIC(38, 18)     AS unpaid_far,
       max(c.created_at)                                               AS last_contribution_at
FROM far_nodes n
LEFT JOIN far_session_contributions c ON c.node_id = n.id
GROUP BY n.id, n.wallet_address, n.node_name;

-- The plan's heartbeat function, kept as the plan's SQL API for operators and scripts (mark a node seen by
-- hand); the server itself records beats with far_node_heartbeats(). A node that was not online at p_seen_at
-- (offline, or three beats missed) starts a new online_since.
CREATE OR REPLACE FUNCTION update_node_last_seen(p_node_id UUID, p_seen_at TIMESTAMPTZ DEFAULT now())
RETURNS far_nodes
LANGUAGE plpgsql AS $$
DECLARE
    result far_nodes;
BEGIN
    UPDATE far_nodes AS n
       SET online_since = CASE WHEN far_node_online(n, p_seen_at) THEN n.online_since ELSE p_seen_at END,
           last_seen = p_seen_at,
           status = 'online'
     WHERE n.id = p_node_id
    RETURNING * INTO result;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown node %', p_node_id USING ERRCODE = 'no_data_found';
    END IF;
    RETURN result;
END;
$$;

-- The server's heartbeats (migration 008), now with online_since and the books by the definitions above.
CREATE OR REPLACE FUNCTION far_node_heartbeats(p_beats JSONB)
RETURNS TABLE (beat INTEGER, node_id UUID, outcome TEXT, tokens_credited BIGINT, earned_far NUMERIC,
               unpaid_far NUMERIC)
LANGUAGE plpgsql AS $$
DECLARE
    b RECORD;
    v_node_id UUID;
BEGIN
    -- A lost beat is restored by the next one, so the commit need not wait for the WAL flush; local to this
    -- transaction, and only when nothing else was written in it yet.
    IF pg_current_xact_id_if_assigned() IS NULL THEN
        PERFORM set_config('synchronous_commit', 'off', true);
    END IF;
    -- In token order: replicas writing overlapping batches then lock the nodes' rows in the same order, so two
    -- batches can wait for each other but never deadlock.
    FOR b IN
        SELECT * FROM jsonb_to_recordset(p_beats) AS x(
            beat INTEGER, token_hash TEXT, seen_at TIMESTAMPTZ, tokens_served BIGINT, in_flight INTEGER,
            throughput_tps DOUBLE PRECISION, peer_id TEXT, start_block INTEGER, end_block INTEGER, hardware JSONB)
        ORDER BY x.token_hash
    LOOP
        -- The block bounds are checked here rather than by the table's CHECK, whose error would undo the batch.
        UPDATE far_nodes AS n
           SET tokens_served = b.tokens_served,
               in_flight = b.in_flight,
               throughput_tps = coalesce(b.throughput_tps, n.throughput_tps),
               peer_id = coalesce(b.peer_id, n.peer_id),
               start_block = coalesce(b.start_block, n.start_block),
               end_block = coalesce(b.end_block, n.end_block),
               hardware = n.hardware || coalesce(b.hardware, '{}'),
               online_since = CASE WHEN far_node_online(n, b.seen_at) THEN n.online_since ELSE b.seen_at END,
               last_seen = b.seen_at,
               status = 'online'
         WHERE n.token_hash = b.token_hash
           AND 0 <= coalesce(b.start_block, n.start_block)
           AND coalesce(b.start_block, n.start_block) < coalesce(b.end_block, n.end_block)
           AND coalesce(b.end_block, n.end_block) <= n.total_blocks
        RETURNING n.id INTO v_node_id;
        IF FOUND THEN
            RETURN QUERY
                SELECT b.beat, v_node_id, 'ok'::TEXT, coalesce(sum(c.tokens_contributed), 0)::BIGINT,
                       coalesce(sum(c.payment_far), 0),
                       coalesce(sum(c.payment_far) FILTER (WHERE far_contribution_unpaid(c)), 0)
                  FROM far_session_contributions c
                 WHERE c.node_id = v_node_id;
        ELSE
            RETURN QUERY
                SELECT b.beat, NULL::UUID,
                       CASE WHEN EXISTS (SELECT 1 FROM far_nodes n WHERE n.token_hash = b.token_hash)
                            THEN 'bad_blocks' ELSE 'unknown_token' END,
                       NULL::BIGINT, NULL::NUMERIC, NULL::NUMERIC;
        END IF;
    END LOOP;
END;
$$;

-- The one-beat far_node_heartbeat() (006, kept by 008 for replicas of the release before 008 during a rolling
-- upgrade) has no caller left: the previous release already beats through far_node_heartbeats().
DROP FUNCTION far_node_heartbeat(TEXT, TIMESTAMPTZ, BIGINT, INTEGER, DOUBLE PRECISION, TEXT, INTEGER, INTEGER, JSONB);
