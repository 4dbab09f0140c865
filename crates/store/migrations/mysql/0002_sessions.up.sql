-- Server-side sessions, keyed by the SHA-256 of the session id (the id itself is never stored).
CREATE TABLE sessions (
    "key"      VARCHAR(255) PRIMARY KEY NOT NULL,
    sub        VARCHAR(255),
    expires_at BIGINT NOT NULL,
    record     MEDIUMTEXT NOT NULL,
    INDEX sessions_by_sub (sub),
    INDEX sessions_by_expiry (expires_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
