-- Keys are per (region, key id): a multi-Region key's replicas share the id across regions.
CREATE TABLE keys (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    region TEXT NOT NULL,
    key_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    arn TEXT NOT NULL,
    creation_date REAL NOT NULL,
    description TEXT NOT NULL,
    key_spec TEXT NOT NULL,
    key_usage TEXT NOT NULL,
    origin TEXT NOT NULL,
    key_manager TEXT NOT NULL,
    state TEXT NOT NULL,
    policy TEXT NOT NULL,
    multi_region INTEGER NOT NULL,
    deletion_date REAL,
    current_material_id TEXT,
    UNIQUE (region, key_id)
);
CREATE INDEX keys_by_account ON keys (account_id, region, seq);
CREATE INDEX keys_by_deletion ON keys (deletion_date) WHERE deletion_date IS NOT NULL;

-- Material only ever sealed under the root of trust; AAD binds key id and material id.
CREATE TABLE key_materials (
    key_id TEXT NOT NULL,
    material_id TEXT NOT NULL,
    sealed BLOB NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (key_id, material_id)
);

CREATE TABLE aliases (
    account_id TEXT NOT NULL,
    region TEXT NOT NULL,
    alias_name TEXT NOT NULL,
    target_key_id TEXT NOT NULL,
    creation_date REAL NOT NULL,
    last_updated_date REAL NOT NULL,
    PRIMARY KEY (account_id, region, alias_name)
);
CREATE INDEX aliases_by_key ON aliases (region, target_key_id);

CREATE TABLE tags (
    region TEXT NOT NULL,
    key_id TEXT NOT NULL,
    tag_key TEXT NOT NULL,
    tag_value TEXT NOT NULL,
    PRIMARY KEY (region, key_id, tag_key)
);

CREATE TABLE access_keys (
    access_key_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    principal_arn TEXT NOT NULL,
    principal_type TEXT NOT NULL,
    user_name TEXT,
    sealed_secret BLOB NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL
);
