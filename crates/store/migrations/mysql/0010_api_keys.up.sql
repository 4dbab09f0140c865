-- The upstream API-key pool (SPEC §8). `sealed` is the key encrypted under the master key,
-- `hash` a keyed hash (duplicates), `masked` the only form ever shown.
CREATE TABLE api_keys (
    id                VARCHAR(255) PRIMARY KEY NOT NULL,
    upstream          VARCHAR(255) NOT NULL,
    sealed            TEXT NOT NULL,
    hash              VARCHAR(255) NOT NULL UNIQUE,
    masked            TEXT NOT NULL,
    status            VARCHAR(16) NOT NULL CHECK (status IN
                          ('active', 'cooling', 'quota_exceeded', 'probing', 'invalid', 'disabled')),
    priority          BIGINT NOT NULL DEFAULT 0,
    quota_group       VARCHAR(255),
    usage_count       BIGINT NOT NULL DEFAULT 0,
    last_used         BIGINT,
    created_at        BIGINT NOT NULL,
    quota_exceeded_at BIGINT,
    available_at      BIGINT,
    last_error        TEXT,
    -- An optional daily budget: the key is not handed out once it was used this many times in
    -- the upstream's current day (`budget_day`), before the upstream has to say so.
    daily_budget      BIGINT,
    budget_day        BIGINT,
    used_today        BIGINT NOT NULL DEFAULT 0,
    INDEX api_keys_pick (upstream, status, priority, last_used),
    INDEX api_keys_group (upstream, quota_group)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
