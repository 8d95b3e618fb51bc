-- Heartbeats in batches: one statement (one round trip, one transaction, one commit) for every beat that
-- reached a replica while its previous batch was being written (discovery/heartbeats.py). Each beat is what
-- far_node_heartbeat() did for one: find the node by its token's hash, record the beat, read the node's books.
--
-- p_beats: a JSON array of {beat, token_hash, seen_at, tokens_served, in_flight, throughput_tps, peer_id,
-- start_block, end_block, hardware}, at most one beat per token. One row back per beat, by its `beat` number:
-- outcome 'ok' (with the books), 'unknown_token' (no node holds it) or 'bad_blocks' (the blocks would leave
-- the model the node registered; nothing written for that beat, the others are).

CREATE FUNCTION far_node_heartbeats(p_beats JSONB)
RETURNS TABLE (beat INTEGER, node_id UUID, outcome TEXT, tokens_credited BIGINT, earned_far NUMERIC,
               unpaid_far NUMERIC)
LANGUAGE plpgsql AS $$
DECLARE
    b RECORD;
    v_node_id UUID;
BEGIN
    -- As in far_node_heartbeat (migration 006): a lost beat is restored by the next one, so the commit need not
    -- wait for the WAL flush; local to this transaction, and only when nothing else was written in it yet.
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
        -- online_since as in update_node_last_seen(): a node back from offline (or 3 missed beats) starts anew.
        -- The block bounds are checked here rather than by the table's CHECK, whose error would undo the batch.
        UPDATE far_nodes AS n
           SET tokens_served = b.tokens_served,
               in_flight = b.in_flight,
               throughput_tps = coalesce(b.throughput_tps, n.throughput_tps),
               peer_id = coalesce(b.peer_id, n.peer_id),
               start_block = coalesce(b.start_block, n.start_block),
               end_block = coalesce(b.end_block, n.end_block),
               hardware = n.hardware || coalesce(b.hardware, '{}'),
               online_since = CASE WHEN n.status = 'offline' OR n.last_seen < b.seen_at - interval '90 seconds'
                                   THEN b.seen_at ELSE n.online_since END,
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
                       coalesce(sum(c.payment_far), 0), coalesce(sum(c.payment_far) FILTER (WHERE c.paid_at IS NULL), 0)
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

-- The one-beat function stays for replicas still running the previous release during a rolling upgrade, now as
-- one beat of the batch (a beat with bad blocks finds no row, where it raised check_violation before).
CREATE OR REPLACE FUNCTION far_node_heartbeat(
    p_token_hash TEXT, p_seen_at TIMESTAMPTZ, p_tokens_served BIGINT, p_in_flight INTEGER,
    p_throughput_tps DOUBLE PRECISION, p_peer_id TEXT, p_start_block INTEGER, p_end_block INTEGER,
    p_hardware JSONB
)
RETURNS TABLE (node_id UUID, tokens_credited BIGINT, earned_far NUMERIC, unpaid_far NUMERIC)
LANGUAGE sql AS $$
    SELECT h.node_id, h.tokens_credited, h.earned_far, h.unpaid_far
      FROM far_node_heartbeats(jsonb_build_array(jsonb_build_object(
               'beat', 0, 'token_hash', p_token_hash, 'seen_at', p_seen_at, 'tokens_served', p_tokens_served,
               'in_flight', p_in_flight, 'throughput_tps', p_throughput_tps, 'peer_id', p_peer_id,
               'start_block', p_start_block, 'end_block', p_end_block, 'hardware', p_hardware))) AS h
     WHERE h.outcome = 'ok';
$$;
