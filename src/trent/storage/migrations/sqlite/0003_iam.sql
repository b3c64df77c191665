-- IAM identities per account. As in IAM, user, role and policy names are unique per account
-- without regard to letter case (NOCASE also makes lookups by name case-insensitive).

-- An account row means "initialized": its root access key has been issued once.
CREATE TABLE iam_accounts (
    account_id TEXT PRIMARY KEY,
    create_date REAL NOT NULL
);
-- Accounts that got their admin (root) key before this table existed.
INSERT INTO iam_accounts (account_id, create_date)
    SELECT account_id, MIN(created_at) FROM access_keys GROUP BY account_id;

CREATE TABLE iam_users (
    account_id TEXT NOT NULL,
    user_name TEXT NOT NULL COLLATE NOCASE,
    path TEXT NOT NULL,
    arn TEXT NOT NULL,
    user_id TEXT NOT NULL UNIQUE,
    create_date REAL NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (account_id, user_name)
);

CREATE TABLE iam_roles (
    account_id TEXT NOT NULL,
    role_name TEXT NOT NULL COLLATE NOCASE,
    path TEXT NOT NULL,
    arn TEXT NOT NULL,
    role_id TEXT NOT NULL UNIQUE,
    assume_role_policy TEXT NOT NULL,
    max_session_duration INTEGER NOT NULL,
    description TEXT,
    create_date REAL NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (account_id, role_name)
);

CREATE TABLE iam_inline_policies (
    account_id TEXT NOT NULL,
    owner_type TEXT NOT NULL CHECK (owner_type IN ('user', 'role')),
    owner_name TEXT NOT NULL COLLATE NOCASE,
    policy_name TEXT NOT NULL COLLATE NOCASE,
    document TEXT NOT NULL,
    PRIMARY KEY (account_id, owner_type, owner_name, policy_name)
);

-- Temporary credentials. The session token itself is never stored, only its SHA-256; the secret
-- is sealed under the root of trust with AAD binding every other column of the row.
CREATE TABLE iam_sessions (
    access_key_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    sealed_secret BLOB NOT NULL,
    token_digest BLOB NOT NULL,
    role_arn TEXT NOT NULL,
    role_id TEXT NOT NULL,
    role_name TEXT NOT NULL,
    session_name TEXT NOT NULL,
    issued REAL NOT NULL,
    expires REAL NOT NULL
);
CREATE INDEX iam_sessions_by_expiry ON iam_sessions (expires);
CREATE INDEX iam_sessions_by_role ON iam_sessions (role_id);

-- Long-term keys belong to a user (principal_type IAMUser, user_name) or to the account root
-- (principal_type Root, user_name NULL): ListAccessKeys and the per-user quota look them up so.
CREATE INDEX access_keys_by_owner ON access_keys (account_id, principal_type, user_name);

-- Incremented in the same transaction as every IAM change that can alter who a credential is or
-- what it may do, so that credential caches in every process can tell they are stale.
CREATE TABLE iam_generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT INTO iam_generation (id, value) VALUES (1, 0);
