-- Rotation: automatic when rotation_period_days is set, due at next_rotation_date.
ALTER TABLE keys ADD COLUMN rotation_period_days INTEGER;
ALTER TABLE keys ADD COLUMN next_rotation_date REAL;
ALTER TABLE keys ADD COLUMN on_demand_rotations INTEGER NOT NULL DEFAULT 0;
CREATE INDEX keys_by_rotation ON keys (next_rotation_date) WHERE next_rotation_date IS NOT NULL;

-- Each material version: how it came (rotation date and type), and for imported material its
-- expiry and whether its bytes are present (deleted or expired material keeps its row, so that a
-- reimport must bring the same material back). An empty sealed blob means "not present".
ALTER TABLE key_materials ADD COLUMN rotation_date REAL;
ALTER TABLE key_materials ADD COLUMN rotation_type TEXT;
ALTER TABLE key_materials ADD COLUMN pending_rotation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE key_materials ADD COLUMN expiration_model TEXT;
ALTER TABLE key_materials ADD COLUMN valid_to REAL;
ALTER TABLE key_materials ADD COLUMN description TEXT;
CREATE INDEX key_materials_by_expiry ON key_materials (valid_to) WHERE valid_to IS NOT NULL;

-- GetParametersForImport: one wrapping key per token, sealed; valid for 24 hours.
CREATE TABLE import_tokens (
    token_id TEXT PRIMARY KEY,
    region TEXT NOT NULL,
    key_id TEXT NOT NULL,
    wrapping_algorithm TEXT NOT NULL,
    wrapping_key_spec TEXT NOT NULL,
    sealed_private BLOB NOT NULL,
    valid_to REAL NOT NULL
);
CREATE INDEX import_tokens_by_key ON import_tokens (region, key_id);
