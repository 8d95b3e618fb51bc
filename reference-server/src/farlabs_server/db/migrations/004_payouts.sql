-- Payout tracker: which chain a batch belongs to, every transaction signed for it, the runs, and the
-- contracts deployed automatically on local chains. Contributions are reserved by
-- far_session_contributions.payment_batch_id (001): a reserved contribution is never planned again.

-- A batch is paid on one chain: its chain id, its payout contract, and the chain instance (a JSON-RPC
-- node's genesis hash, or a random id for the in-process EVM, which is gone when its process ends).
ALTER TABLE far_payment_batches
    ADD COLUMN chain_id        BIGINT CHECK (chain_id > 0),
    ADD COLUMN chain_instance  TEXT CHECK (length(chain_instance) <= 100),
    ADD COLUMN payout_address  TEXT CHECK (payout_address ~ '^0x[0-9a-fA-F]{40}$'),
    ADD COLUMN gas_limit       BIGINT CHECK (gas_limit > 0),
    ADD COLUMN run_id          UUID,
    ADD COLUMN attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0);
CREATE INDEX far_payment_batches_open_idx ON far_payment_batches (network, status)
    WHERE status IN ('planned', 'signed', 'broadcast', 'failed');

-- Every transaction signed for a batch, in order. Saved (with its raw bytes) before it is broadcast, so
-- a restart can look it up by hash and resend the very same bytes.
CREATE TABLE far_payment_transactions (
    id            UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    batch_id      UUID NOT NULL REFERENCES far_payment_batches(id) ON DELETE CASCADE,
    attempt       INTEGER NOT NULL CHECK (attempt >= 1),
    nonce         BIGINT NOT NULL CHECK (nonce >= 0),
    tx_hash       TEXT NOT NULL UNIQUE CHECK (tx_hash ~ '^0x[0-9a-f]{64}$'),
    raw_tx        TEXT NOT NULL,
    gas_limit     BIGINT NOT NULL CHECK (gas_limit > 0),
    fees          JSONB NOT NULL DEFAULT '{}'::jsonb,       -- wei per gas, as strings
    status        TEXT NOT NULL DEFAULT 'signed'
                  CHECK (status IN ('signed', 'broadcast', 'mined', 'reverted', 'replaced', 'lost')),
    block_number  BIGINT,
    gas_used      BIGINT,
    error         TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (batch_id, attempt)
);

-- One row per payout run (scheduled, CLI or admin API). A period is planned once per chain: the run that
-- saved its plan sets plan_saved; later runs of that week only finish what is open.
CREATE TABLE far_payout_runs (
    id                UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    network           TEXT NOT NULL CHECK (network IN ('local', 'testnet', 'mainnet')),
    chain_id          BIGINT NOT NULL CHECK (chain_id > 0),
    period_start      DATE NOT NULL,
    cutoff            TIMESTAMPTZ NOT NULL,                 -- contributions created up to here are planned
    trigger           TEXT NOT NULL CHECK (trigger IN ('schedule', 'cli', 'api', 'test')),
    status            TEXT NOT NULL DEFAULT 'running'
                      CHECK (status IN ('running', 'completed', 'failed', 'interrupted')),
    plan_saved        BOOLEAN NOT NULL DEFAULT false,
    providers_paid    INTEGER NOT NULL DEFAULT 0 CHECK (providers_paid >= 0),
    paid_wei          NUMERIC(78, 0) NOT NULL DEFAULT 0 CHECK (paid_wei >= 0),
    carried_wei       NUMERIC(78, 0) NOT NULL DEFAULT 0 CHECK (carried_wei >= 0),
    batches_planned   INTEGER NOT NULL DEFAULT 0 CHECK (batches_planned >= 0),
    batches_confirmed INTEGER NOT NULL DEFAULT 0 CHECK (batches_confirmed >= 0),
    error             TEXT,
    started_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at       TIMESTAMPTZ
);
CREATE UNIQUE INDEX far_payout_runs_one_plan_idx ON far_payout_runs (network, chain_id, period_start) WHERE plan_saved;

ALTER TABLE far_payment_batches
    ADD CONSTRAINT far_payment_batches_run_fk FOREIGN KEY (run_id) REFERENCES far_payout_runs(id);

-- Contracts deployed automatically on a local development chain (anvil), so a restarted server keeps
-- paying on the same contracts. Keyed by the chain instance (its genesis hash).
CREATE TABLE far_payout_contracts (
    network         TEXT NOT NULL CHECK (network IN ('local', 'testnet', 'mainnet')),
    chain_id        BIGINT NOT NULL CHECK (chain_id > 0),
    chain_instance  TEXT NOT NULL CHECK (length(chain_instance) <= 100),
    token_address   TEXT NOT NULL CHECK (token_address ~ '^0x[0-9a-fA-F]{40}$'),
    payout_address  TEXT NOT NULL CHECK (payout_address ~ '^0x[0-9a-fA-F]{40}$'),
    payer_address   TEXT NOT NULL CHECK (payer_address ~ '^0x[0-9a-fA-F]{40}$'),
    deployed_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (network, chain_id, chain_instance)
);
