-- The coordinator keeps what it answered, so a repeated request_id replays it instead of charging twice.
ALTER TABLE far_mesh_sessions
    ADD COLUMN completion_text TEXT,
    ADD COLUMN region TEXT CHECK (length(region) <= 64),
    ADD COLUMN gateway_attempts INTEGER NOT NULL DEFAULT 0 CHECK (gateway_attempts >= 0);
