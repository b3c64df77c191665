-- Failed console sign-ins, by subject ("ip:<address>" or "key:<access key id>"), so that every
-- worker process and every node counts the same failures (console/sign_in_throttle.py). Rows
-- older than the throttle's window are deleted as new failures come in.
CREATE TABLE console_sign_in_failures (
    subject TEXT NOT NULL,
    failed_at REAL NOT NULL
);
CREATE INDEX console_sign_in_failures_by_subject ON console_sign_in_failures (subject, failed_at);
CREATE INDEX console_sign_in_failures_by_time ON console_sign_in_failures (failed_at);
