-- GetKeyLastUsage: the newest successful tracked cryptographic use of each key, written with the
-- audit record of that use (same transaction), so it names the record's eventID and requestID.
CREATE TABLE key_last_usage (
    key_arn TEXT PRIMARY KEY,
    operation TEXT NOT NULL,
    used_at REAL NOT NULL,
    event_id TEXT NOT NULL,
    request_id TEXT NOT NULL
);
