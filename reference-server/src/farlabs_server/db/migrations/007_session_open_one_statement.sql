-- Opening a session (the row that makes a request id idempotent) without waiting for the WAL flush, in one
-- round trip, so it costs the first token as little as possible.
--
-- Why that is safe: the row is visible to every other connection as soon as it commits (only its durability
-- is deferred, by at most a few hundred ms), so a second request with the same id still finds it. It holds
-- no money: what a session costs and what each node earns is written when it closes, in a transaction that
-- does wait for the flush, and the WAL is flushed in order, so that flush makes this row durable too. If
-- PostgreSQL or the machine crashes in between, the pending row may be forgotten: nothing had been charged
-- for it (exactly as with a pending row that survives, whose stream the crash also cut), and a retry with the
-- same request id starts afresh. Returns NULL when the request id is taken.
CREATE FUNCTION far_open_session(
    p_request_id TEXT, p_request_hash TEXT, p_api_key_id UUID, p_user_wallet TEXT, p_model_id TEXT,
    p_price_per_token_far NUMERIC, p_region TEXT
)
RETURNS UUID
LANGUAGE plpgsql AS $$
DECLARE
    v_session_id UUID;
BEGIN
    -- Local to this transaction, and only when nothing else was written in it yet: call it on its own.
    IF pg_current_xact_id_if_assigned() IS NULL THEN
        PERFORM set_config('synchronous_commit', 'off', true);
    END IF;
    INSERT INTO far_mesh_sessions (request_id, request_hash, api_key_id, user_wallet, model_id,
                                   price_per_token_far, region)
    VALUES (p_request_id, p_request_hash, p_api_key_id, p_user_wallet, p_model_id, p_price_per_token_far, p_region)
    ON CONFLICT (request_id) DO NOTHING
    RETURNING id INTO v_session_id;
    RETURN v_session_id;
END;
$$;
