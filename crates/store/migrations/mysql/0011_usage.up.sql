-- Calls made through the pool per account and upstream, for the usage leaderboard.
CREATE TABLE upstream_usage (
    account_id VARCHAR(255) NOT NULL,
    upstream   VARCHAR(255) NOT NULL,
    calls      BIGINT NOT NULL DEFAULT 0,
    last_call  BIGINT NOT NULL,
    PRIMARY KEY (account_id, upstream)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
