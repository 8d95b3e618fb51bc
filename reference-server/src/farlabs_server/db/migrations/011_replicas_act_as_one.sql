-- Replicas that act as one (docs/self-hosting.md, "Several replicas").

-- Request limits shared by every replica (db/ratelimits.py): one token bucket per API key or client address.
-- Before this each replica kept its own, so N replicas allowed N times a key's limit. UNLOGGED: a bucket is
-- rewritten on every request and worth nothing after a crash (at worst one burst is forgiven).
CREATE UNLOGGED TABLE far_rate_buckets (
    bucket     TEXT PRIMARY KEY,                  -- the key's id, or 'address:<client ip>'
    tokens     DOUBLE PRECISION NOT NULL,         -- whole requests left; refills continuously up to the limit
    updated_at TIMESTAMPTZ NOT NULL
) WITH (fillfactor = 70);                         -- room for HOT updates

-- Each replica's lease (replicas.py): renewed every lease/3 s on the database's clock.
CREATE TABLE far_replicas (
    id         UUID PRIMARY KEY,
    host       TEXT NOT NULL,
    pid        INTEGER NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    last_seen  TIMESTAMPTZ NOT NULL
);

-- Which replica streams a session: when its lease runs out (killed mid-stream), another closes the session
-- so that its request id is free for a retry. NULL for sessions opened before this migration.
ALTER TABLE far_mesh_sessions ADD COLUMN replica_id UUID;
CREATE INDEX far_mesh_sessions_open_idx ON far_mesh_sessions (replica_id) WHERE status IN ('pending', 'streaming');

-- far_open_session (migration 007) records the opening replica. The new parameter has a default, so a
-- replica of the previous release, calling it with seven arguments during a rolling upgrade, still works.
DROP FUNCTION far_open_session(TEXT, TEXT, UUID, TEXT, TEXT, NUMERIC, TEXT);
CREATE FUNCTION far_open_session(
    p_request_id TEXT, p_request_hash TEXT, p_api_key_id UUID, p_user_wallet TEXT, p_model_id TEXT,
    p_price_per_token_far NUMERIC, p_region TEXT, p_replica_id UUID DEFAULT NULL
)
RETURNS UUID
LANGUAGE plpgsql AS $$
DECLARE
    v_session_id UUID;
BEGIN
    -- Local to this transaction, and only when nothing else was written in it yet (migration 007 says why).
    IF pg_current_xact_id_if_assigned() IS NULL THEN
        PERFORM set_config('synchronous_commit', 'off', true);
    END IF;
    INSERT INTO far_mesh_sessions (request_id, request_hash, api_key_id, user_wallet, model_id,
                                   price_per_token_far, region, replica_id)
    VALUES (p_request_id, p_request_hash, p_api_key_id, p_user_wallet, p_model_id, p_price_per_token_far, p_region,
            p_replica_id)
    ON CONFLICT (request_id) DO NOTHING
    RETURNING id INTO v_session_id;
    RETURN v_session_id;
END;
$$;
