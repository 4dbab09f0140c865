-- Calls made through the pool per account and upstream, for the usage leaderboard.
CREATE TABLE upstream_usage (
    account_id TEXT NOT NULL,
    upstream   TEXT NOT NULL,
    calls      INTEGER NOT NULL DEFAULT 0,
    last_call  INTEGER NOT NULL,
    PRIMARY KEY (account_id, upstream)
) STRICT;
