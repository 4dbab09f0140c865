-- The upstream API-key pool (SPEC §8). `sealed` is the key encrypted under the master key,
-- `hash` a keyed hash (duplicates), `masked` the only form ever shown.
CREATE TABLE api_keys (
    id                TEXT PRIMARY KEY NOT NULL,
    upstream          TEXT NOT NULL,
    sealed            TEXT NOT NULL,
    hash              TEXT NOT NULL UNIQUE,
    masked            TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN
                          ('active', 'cooling', 'quota_exceeded', 'probing', 'invalid', 'disabled')),
    priority          INTEGER NOT NULL DEFAULT 0,
    quota_group       TEXT,
    usage_count       INTEGER NOT NULL DEFAULT 0,
    last_used         INTEGER,
    created_at        INTEGER NOT NULL,
    quota_exceeded_at INTEGER,
    available_at      INTEGER,
    last_error        TEXT,
    -- An optional daily budget: the key is not handed out once it was used this many times in
    -- the upstream's current day (`budget_day`), before the upstream has to say so.
    daily_budget      INTEGER,
    budget_day        INTEGER,
    used_today        INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX api_keys_pick ON api_keys (upstream, status, priority, last_used);
CREATE INDEX api_keys_group ON api_keys (upstream, quota_group);
