-- Web console sessions, shared by every worker process (and, on PostgreSQL, every node). A row is
-- keyed by the SHA-256 of the session id, never the id itself: reading the table does not let
-- anyone use a session. Nothing secret is kept (the CSRF token is derived from the session id).
CREATE TABLE console_sessions (
    id_hash TEXT PRIMARY KEY,
    access_key_id TEXT NOT NULL,
    region TEXT NOT NULL,
    dev_root INTEGER NOT NULL,
    created DOUBLE PRECISION NOT NULL,
    last_seen DOUBLE PRECISION NOT NULL,
    flash TEXT
);
CREATE INDEX console_sessions_last_seen ON console_sessions (last_seen);
