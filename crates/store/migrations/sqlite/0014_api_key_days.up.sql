-- Uses per API key and day (UTC), for the console's 30-day charts; written in batches.
CREATE TABLE api_key_days (
    key_id TEXT NOT NULL,
    day    INTEGER NOT NULL,
    uses   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (key_id, day)
) STRICT;
CREATE INDEX api_key_days_by_day ON api_key_days (day);
