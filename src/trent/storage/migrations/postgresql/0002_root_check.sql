-- A value sealed under the root key the database's material is sealed under: a node with another
-- root key refuses to start instead of sealing new material under the wrong key.
CREATE TABLE root_check (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    sealed BYTEA NOT NULL
);
