-- A value sealed under the root key the database's material is sealed under: a node (or a copied
-- data directory) with another root key refuses to start instead of sealing new material wrongly.
CREATE TABLE root_check (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    sealed BLOB NOT NULL
);
