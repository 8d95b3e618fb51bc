-- Far Mesh core schema: accounts and keys, the node registry, sessions and their per-node contributions,
-- payment batches. FAR amounts are NUMERIC(38,18) (18 decimals, like the token); wei amounts are NUMERIC(78,0).

CREATE TABLE far_server_secrets (
    name        TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------- accounts and API keys
CREATE TABLE far_accounts (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE far_api_keys (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id      UUID NOT NULL REFERENCES far_accounts(id) ON DELETE CASCADE,
    name            TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    key_prefix      TEXT NOT NULL CHECK (key_prefix ~ '^fl_[A-Za-z0-9_-]{4,12}$'),  -- shown in lists
    key_hash        TEXT NOT NULL UNIQUE CHECK (key_hash ~ '^[0-9a-f]{64}$'),        -- sha256 of the key
    role            TEXT NOT NULL DEFAULT 'app' CHECK (role IN ('app', 'admin')),
    rate_limit_rpm  INTEGER CHECK (rate_limit_rpm > 0),                            -- NULL = server default
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at    TIMESTAMPTZ,
    revoked_at      TIMESTAMPTZ
);

-- ---------------------------------------------------------------- nodes
CREATE TABLE far_nodes (
    id                  UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    node_address        TEXT NOT NULL UNIQUE CHECK (node_address ~ '^0x[0-9a-fA-F]{40}$'),
    wallet_address      TEXT NOT NULL CHECK (wallet_address ~ '^0x[0-9a-fA-F]{40}$'),
    node_name           TEXT NOT NULL CHECK (length(node_name) BETWEEN 1 AND 64),
    peer_id             TEXT CHECK (length(peer_id) <= 128),
    model_id            TEXT NOT NULL CHECK (length(model_id) BETWEEN 1 AND 200),
    start_block         INTEGER NOT NULL,
    end_block           INTEGER NOT NULL,
    total_blocks        INTEGER NOT NULL,
    mode                TEXT NOT NULL DEFAULT 'swarm' CHECK (mode IN ('swarm', 'local')),
    gateway_url         TEXT CHECK (gateway_url ~ '^https?://'),
    region              TEXT CHECK (length(region) <= 64),
    hardware            JSONB NOT NULL DEFAULT '{}'::jsonb,
    status              TEXT NOT NULL DEFAULT 'online' CHECK (status IN ('online', 'offline')),
    token_hash          TEXT UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    token_generation    INTEGER NOT NULL DEFAULT 1,
    tokens_served       BIGINT NOT NULL DEFAULT 0 CHECK (tokens_served >= 0),  -- as the node reports it
    throughput_tps      DOUBLE PRECISION CHECK (throughput_tps >= 0),
    in_flight           INTEGER NOT NULL DEFAULT 0 CHECK (in_flight >= 0),
    registered_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    online_since        TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen           TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (0 <= start_block AND start_block < end_block AND end_block <= total_blocks)
);
CREATE INDEX far_nodes_model_idx ON far_nodes (model_id, status, last_seen);
CREATE INDEX far_nodes_wallet_idx ON far_nodes (wallet_address);

-- Registration signatures already used: a replayed one is refused.
CREATE TABLE far_node_signatures (
    signature_hash  TEXT PRIMARY KEY CHECK (signature_hash ~ '^[0-9a-f]{64}$'),
    node_address    TEXT NOT NULL,
    seen_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------- sessions and contributions
CREATE TABLE far_mesh_sessions (
    id                      UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    request_id              TEXT NOT NULL UNIQUE CHECK (length(request_id) BETWEEN 1 AND 200),
    request_hash            TEXT CHECK (request_hash ~ '^[0-9a-f]{64}$'),  -- body fingerprint for idempotency
    api_key_id              UUID REFERENCES far_api_keys(id) ON DELETE SET NULL,
    user_wallet             TEXT CHECK (user_wallet ~ '^0x[0-9a-fA-F]{40}$'),
    model_id                TEXT NOT NULL,
    status                  TEXT NOT NULL DEFAULT 'pending'
                            CHECK (status IN ('pending', 'streaming', 'completed', 'failed', 'cancelled')),
    gateway_node_id         UUID REFERENCES far_nodes(id) ON DELETE SET NULL,
    route                   JSONB NOT NULL DEFAULT '[]'::jsonb,
    prompt_tokens           INTEGER NOT NULL DEFAULT 0 CHECK (prompt_tokens >= 0),
    tokens_generated        INTEGER NOT NULL DEFAULT 0 CHECK (tokens_generated >= 0),
    price_per_token_far     NUMERIC(38, 18) NOT NULL CHECK (price_per_token_far >= 0),
    cost_far                NUMERIC(38, 18) NOT NULL DEFAULT 0 CHECK (cost_far >= 0),
    platform_fee_far        NUMERIC(38, 18) NOT NULL DEFAULT 0 CHECK (platform_fee_far >= 0),
    finish_reason           TEXT CHECK (finish_reason IN ('stop', 'length', 'cancelled', 'error')),
    error_type              TEXT,
    time_to_first_token_ms  DOUBLE PRECISION CHECK (time_to_first_token_ms >= 0),
    created_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    completed_at            TIMESTAMPTZ,
    CHECK (platform_fee_far <= cost_far),
    CHECK ((completed_at IS NULL) = (status IN ('pending', 'streaming')))
);
CREATE INDEX far_mesh_sessions_created_idx ON far_mesh_sessions (created_at);

CREATE TABLE far_session_contributions (
    id                  UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id          UUID NOT NULL REFERENCES far_mesh_sessions(id) ON DELETE RESTRICT,
    node_id             UUID NOT NULL REFERENCES far_nodes(id) ON DELETE RESTRICT,
    start_block         INTEGER NOT NULL,
    end_block           INTEGER NOT NULL,
    blocks_served       INTEGER GENERATED ALWAYS AS (end_block - start_block) STORED,
    tokens_contributed  INTEGER NOT NULL CHECK (tokens_contributed >= 0),
    block_tokens        BIGINT NOT NULL CHECK (block_tokens >= 0),       -- tokens x blocks: the unit of pay
    payment_far         NUMERIC(38, 18) NOT NULL CHECK (payment_far >= 0),
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    payment_batch_id    UUID,                                            -- reserved by a planned batch
    paid_at             TIMESTAMPTZ,
    tx_hash             TEXT CHECK (tx_hash ~ '^0x[0-9a-f]{64}$'),
    UNIQUE (session_id, node_id, start_block),
    CHECK (0 <= start_block AND start_block < end_block),
    CHECK (paid_at IS NULL OR (tx_hash IS NOT NULL AND payment_batch_id IS NOT NULL))
);
CREATE INDEX far_contributions_unpaid_idx ON far_session_contributions (node_id) WHERE paid_at IS NULL;
CREATE INDEX far_contributions_session_idx ON far_session_contributions (session_id);

-- ---------------------------------------------------------------- payments
CREATE TABLE far_payment_batches (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    batch_key       TEXT NOT NULL UNIQUE CHECK (batch_key ~ '^0x[0-9a-f]{64}$'),  -- the on-chain batch id
    period_start    DATE NOT NULL,
    network         TEXT NOT NULL CHECK (network IN ('local', 'testnet', 'mainnet')),
    chunk_index     INTEGER NOT NULL DEFAULT 0 CHECK (chunk_index >= 0),
    status          TEXT NOT NULL DEFAULT 'planned'
                    CHECK (status IN ('planned', 'signed', 'broadcast', 'confirmed', 'failed', 'abandoned')),
    total_far       NUMERIC(38, 18) NOT NULL CHECK (total_far > 0),
    total_wei       NUMERIC(78, 0) NOT NULL CHECK (total_wei > 0),
    recipient_count INTEGER NOT NULL CHECK (recipient_count > 0),
    nonce           BIGINT CHECK (nonce >= 0),
    tx_hash         TEXT UNIQUE CHECK (tx_hash ~ '^0x[0-9a-f]{64}$'),
    raw_tx          TEXT,
    block_number    BIGINT,
    error           TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    confirmed_at    TIMESTAMPTZ,
    CHECK ((status = 'confirmed') = (confirmed_at IS NOT NULL)),
    CHECK (status IN ('planned', 'failed', 'abandoned') OR tx_hash IS NOT NULL)
);

CREATE TABLE far_payment_recipients (
    batch_id        UUID NOT NULL REFERENCES far_payment_batches(id) ON DELETE CASCADE,
    wallet_address  TEXT NOT NULL CHECK (wallet_address ~ '^0x[0-9a-fA-F]{40}$'),
    amount_far      NUMERIC(38, 18) NOT NULL CHECK (amount_far > 0),
    amount_wei      NUMERIC(78, 0) NOT NULL CHECK (amount_wei > 0),
    PRIMARY KEY (batch_id, wallet_address)
);

ALTER TABLE far_session_contributions
    ADD CONSTRAINT far_contributions_batch_fk FOREIGN KEY (payment_batch_id) REFERENCES far_payment_batches(id);

-- ---------------------------------------------------------------- views
-- Online = announced itself and beat within the last three intervals (90 s at the default 30 s).
CREATE VIEW active_far_nodes AS
SELECT n.*
FROM far_nodes n
WHERE n.status = 'online' AND n.last_seen > now() - interval '90 seconds';

CREATE VIEW node_earnings_summary AS
SELECT n.id                                                            AS node_id,
       n.wallet_address,
       n.node_name,
       count(c.id)                                                     AS session_count,
       coalesce(sum(c.tokens_contributed), 0)::BIGINT                  AS tokens_contributed,
       coalesce(sum(c.block_tokens), 0)::BIGINT                        AS block_tokens,
       coalesce(sum(c.payment_far), 0)::NUMERIC(38, 18)                AS total_earned_far,
       coalesce(sum(c.payment_far) FILTER (WHERE c.paid_at IS NOT NULL), 0)::NUMERIC(38, 18) AS paid_far,
       coalesce(sum(c.payment_far) FILTER (WHERE c.paid_at IS NULL), 0)::NUMERIC(38, 18)     AS unpaid_far,
       max(c.created_at)                                               AS last_contribution_at
FROM far_nodes n
LEFT JOIN far_session_contributions c ON c.node_id = n.id
GROUP BY n.id, n.wallet_address, n.node_name;

-- ---------------------------------------------------------------- functions
-- A heartbeat: the node is online and seen now (or at p_seen_at, for callers with their own clock).
CREATE FUNCTION update_node_last_seen(p_node_id UUID, p_seen_at TIMESTAMPTZ DEFAULT now())
RETURNS far_nodes
LANGUAGE plpgsql AS $$
DECLARE
    result far_nodes;
BEGIN
    UPDATE far_nodes
       SET online_since = CASE WHEN status = 'offline' OR last_seen < p_seen_at - interval '90 seconds'
                               THEN p_seen_at ELSE online_since END,
           last_seen = p_seen_at,
           status = 'online'
     WHERE id = p_node_id
    RETURNING * INTO result;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown node %', p_node_id USING ERRCODE = 'no_data_found';
    END IF;
    RETURN result;
END;
$$;

-- Close a session: its final status, and totals that must agree with its contributions
-- (the node shares add up to the cost minus the platform fee, to the last decimal).
CREATE FUNCTION finalize_session(p_session_id UUID, p_status TEXT, p_finish_reason TEXT DEFAULT NULL,
                                 p_completed_at TIMESTAMPTZ DEFAULT now())
RETURNS far_mesh_sessions
LANGUAGE plpgsql AS $$
DECLARE
    result far_mesh_sessions;
    shares NUMERIC(38, 18);
BEGIN
    IF p_status NOT IN ('completed', 'failed', 'cancelled') THEN
        RAISE EXCEPTION 'finalize_session: % is not a final status', p_status USING ERRCODE = 'check_violation';
    END IF;
    SELECT coalesce(sum(payment_far), 0) INTO shares FROM far_session_contributions WHERE session_id = p_session_id;
    UPDATE far_mesh_sessions
       SET status = p_status,
           finish_reason = coalesce(p_finish_reason, finish_reason),
           completed_at = p_completed_at
     WHERE id = p_session_id AND status IN ('pending', 'streaming')
    RETURNING * INTO result;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'finalize_session: session % is unknown or already final', p_session_id
            USING ERRCODE = 'no_data_found';
    END IF;
    IF shares <> result.cost_far - result.platform_fee_far THEN
        RAISE EXCEPTION 'finalize_session: node shares % do not add up to cost % minus fee %',
            shares, result.cost_far, result.platform_fee_far USING ERRCODE = 'check_violation';
    END IF;
    RETURN result;
END;
$$;
