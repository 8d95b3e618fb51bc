-- Wallet sign-in signatures already exchanged for a token: a replayed one is refused.
CREATE TABLE far_wallet_signins (
    signature_hash  TEXT PRIMARY KEY CHECK (signature_hash ~ '^[0-9a-f]{64}$'),
    wallet_address  TEXT NOT NULL CHECK (wallet_address ~ '^0x[0-9a-f]{40}$'),
    seen_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX far_payment_recipients_wallet_idx ON far_payment_recipients (wallet_address);
