-- ListAliases with a KeyId (the console asks it for every key row): without this index the
-- planner range-scans the primary key over every alias of the account (25,000 aliases: 3.7 ms a
-- call); with it, one key's aliases in name order (bench/console_keys.py, docs/benchmarks.md).
CREATE INDEX aliases_by_target ON aliases (account_id, region, target_key_id, alias_name);
