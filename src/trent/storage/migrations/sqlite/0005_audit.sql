-- The audit trail (CloudTrail records), hash-chained; digests sign the chain.
-- record holds the exact bytes that were hashed; the other columns serve LookupEvents.
-- One secondary index only (time): every index costs each Encrypt's append, and lookups by other
-- attributes scan newest-first with a LIMIT, which stays fast for the trail sizes LookupEvents serves.
CREATE TABLE audit_events (
    sequence       INTEGER PRIMARY KEY,
    event_id       TEXT NOT NULL,
    event_time     REAL NOT NULL,
    event_name     TEXT NOT NULL,
    event_source   TEXT NOT NULL,
    read_only      INTEGER NOT NULL,
    region         TEXT NOT NULL,
    account_id     TEXT NOT NULL,
    username       TEXT,
    access_key_id  TEXT,
    resources      TEXT NOT NULL,  -- one "type<TAB>name" line per resource
    record         BLOB NOT NULL,
    chain_hash     BLOB NOT NULL
);
CREATE INDEX audit_events_time ON audit_events (region, event_time);

-- The newest appended (sequence, chain_hash): a trail cut short no longer reaches it.
CREATE TABLE audit_head (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    sequence    INTEGER NOT NULL,
    chain_hash  BLOB NOT NULL
);

CREATE TABLE audit_digests (
    sequence     INTEGER PRIMARY KEY,
    created      REAL NOT NULL,
    covers_to    INTEGER NOT NULL,
    body         BLOB NOT NULL,
    signature    BLOB NOT NULL
);

-- RSA keys that sign digests; the private key only sealed under the root of trust.
CREATE TABLE audit_signing_keys (
    fingerprint     TEXT PRIMARY KEY,
    public_der      BLOB NOT NULL,
    sealed_private  BLOB NOT NULL,
    created         REAL NOT NULL
);

-- Bumped by every transaction that changes state (not by audit appends): the caches' change token.
CREATE TABLE state_version (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    version  INTEGER NOT NULL
);
INSERT INTO state_version (id, version) VALUES (1, 0);
