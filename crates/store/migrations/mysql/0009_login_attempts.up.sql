-- Brute-force lockout: attempts per account name (`name:<name>`) or device (`device:<id>`)
-- within a window, and the lock. The record of truth for every instance.
CREATE TABLE login_attempts (
    "key"        VARCHAR(255) PRIMARY KEY NOT NULL,
    attempts     BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    locked_until BIGINT
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
