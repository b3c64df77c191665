-- On-demand rotation runs in the background, as in AWS: the request marks the key and
-- GetKeyRotationStatus shows OnDemandRotationStartDate until the new material is current.
ALTER TABLE keys ADD COLUMN on_demand_rotation_start_date DOUBLE PRECISION;
CREATE INDEX keys_rotating_on_demand ON keys (on_demand_rotation_start_date)
    WHERE on_demand_rotation_start_date IS NOT NULL;
