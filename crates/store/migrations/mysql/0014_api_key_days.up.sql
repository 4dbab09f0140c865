-- Uses per API key and day (UTC), for the console's 30-day charts; written in batches.
CREATE TABLE api_key_days (
    key_id VARCHAR(255) NOT NULL,
    day    BIGINT NOT NULL,
    uses   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (key_id, day),
    INDEX api_key_days_by_day (day)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
