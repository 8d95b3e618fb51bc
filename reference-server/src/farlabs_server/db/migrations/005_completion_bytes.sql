-- Generated text may contain NUL characters, which TEXT cannot hold: keep the answer as UTF-8 bytes.
ALTER TABLE far_mesh_sessions
    ALTER COLUMN completion_text TYPE BYTEA USING convert_to(completion_text, 'UTF8');
