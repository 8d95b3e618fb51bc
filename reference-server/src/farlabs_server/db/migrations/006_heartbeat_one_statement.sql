-- A node's heartbeat in one statement (one round trip, one row version): find the node by its token's hash,
-- record the beat and what it reports, and return the node's books. No row when no node holds that token.

-- The books read every node's contributions, paid or not; the only index on node_id was for unpaid rows, so
-- each heartbeat scanned the whole table. This one answers from the index alone.
CREATE INDEX far_contributions_node_idx ON far_session_contributions (node_id)
    INCLUDE (tokens_contributed, payment_far, paid_at);

CREATE FUNCTION far_node_heartbeat(
    p_token_hash TEXT, p_seen_at TIMESTAMPTZ, p_tokens_served BIGINT, p_in_flight INTEGER,
    p_throughput_tps DOUBLE PRECISION, p_peer_id TEXT, p_start_block INTEGER, p_end_block INTEGER,
    p_hardware JSONB
)
RETURNS TABLE (node_id UUID, tokens_credited BIGINT, earned_far NUMERIC, unpaid_far NUMERIC)
LANGUAGE plpgsql AS $$
DECLARE
    v_node_id UUID;
BEGIN
    -- A heartbeat only says "alive, and this is my load": if the server crashes before its WAL reaches the
    -- disk, the node's last beat or two are lost, and its next beat (30 s later) restores them. So its commit
    -- need not wait for the flush (PostgreSQL never corrupts or reorders on this; it only forgets the tail).
    -- Local to this transaction, and only when nothing else was written in it yet: call it on its own.
    IF pg_current_xact_id_if_assigned() IS NULL THEN
        PERFORM set_config('synchronous_commit', 'off', true);
    END IF;
    -- online_since as in update_node_last_seen(): a node back from offline (or 3 missed beats) starts anew.
    UPDATE far_nodes AS n
       SET tokens_served = p_tokens_served,
           in_flight = p_in_flight,
           throughput_tps = coalesce(p_throughput_tps, n.throughput_tps),
           peer_id = coalesce(p_peer_id, n.peer_id),
           start_block = coalesce(p_start_block, n.start_block),
           end_block = coalesce(p_end_block, n.end_block),
           hardware = n.hardware || p_hardware,
           online_since = CASE WHEN n.status = 'offline' OR n.last_seen < p_seen_at - interval '90 seconds'
                               THEN p_seen_at ELSE n.online_since END,
           last_seen = p_seen_at,
           status = 'online'
     WHERE n.token_hash = p_token_hash
    RETURNING n.id INTO v_node_id;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    RETURN QUERY
        SELECT v_node_id, coalesce(sum(c.tokens_contributed), 0)::BIGINT, coalesce(sum(c.payment_far), 0),
               coalesce(sum(c.payment_far) FILTER (WHERE c.paid_at IS NULL), 0)
          FROM far_session_contributions c
         WHERE c.node_id = v_node_id;
END;
$$;
