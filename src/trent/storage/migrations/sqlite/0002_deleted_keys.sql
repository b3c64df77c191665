-- Tombstones of deleted keys: a ciphertext naming one is refused as AWS does (AccessDenied),
-- not as tampered (InvalidCiphertext). No material or metadata is kept.
CREATE TABLE deleted_keys (
    key_id TEXT NOT NULL,
    region TEXT NOT NULL,
    deleted_at REAL NOT NULL,
    PRIMARY KEY (key_id, region)
);
