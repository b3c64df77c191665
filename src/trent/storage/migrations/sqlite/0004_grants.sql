-- Grants are per key (region + key id). Names are not unique: a retry with the same name and
-- parameters returns the existing grant, a different request under the same name makes a new one.
CREATE TABLE grants (
    grant_id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    region TEXT NOT NULL,
    key_account_id TEXT NOT NULL,
    name TEXT,
    grantee_principal TEXT NOT NULL,
    retiring_principal TEXT,
    operations TEXT NOT NULL,
    constraints TEXT,
    creation_date REAL NOT NULL,
    issuing_account TEXT NOT NULL
);
CREATE INDEX grants_by_key ON grants (region, key_id, creation_date);
CREATE INDEX grants_by_retiring ON grants (retiring_principal) WHERE retiring_principal IS NOT NULL;
