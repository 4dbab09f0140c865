-- Calls made through the pool per account and upstream, for the usage leaderboard.
CREATE TABLE upstream_usage (
    account_id TEXT NOT NULL,
    upstream   TEXT NOT NULL,
    calls      BIGINT NOT NULL DEFAULT 0,
    last_call  BIGINT NOT NULL,
    PRIMARY KEY (account_id, upstream)
);
