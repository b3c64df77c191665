-- On-demand rotation runs in the background, as in AWS: the request marks the key and
-- GetKeyRotationStatus shows OnDemandRotationStartDate until the new material is current.
ALTER TABLE keys ADD COLUMN on_demand_rotation_start_date REAL;
