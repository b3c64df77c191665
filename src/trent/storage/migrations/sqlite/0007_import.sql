-- Imported material's expiry as DescribeKey shows it (ExpirationModel, ValidTo), kept on the key.
ALTER TABLE keys ADD COLUMN expiration_model TEXT;
ALTER TABLE keys ADD COLUMN valid_to REAL;
