-- Multi-Region keys: every row of one key id (one per region) names the primary's region.
ALTER TABLE keys ADD COLUMN primary_region TEXT;
-- A primary waiting for its replicas' deletion keeps its window until the last one is gone.
ALTER TABLE keys ADD COLUMN pending_window_days INTEGER;
-- Replicas are created in state Creating and promoted by a background task: keep finding them cheap.
CREATE INDEX keys_creating ON keys (state) WHERE state = 'Creating';
