-- Service clients that sign their requests (SPEC §6). The secret is sealed under the master
-- key: verifying an HMAC needs it. Revoked clients stay, so their names are never reused.
CREATE TABLE service_clients (
    name       VARCHAR(255) PRIMARY KEY NOT NULL,
    sealed     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Nonces of signed requests, when no Redis is configured: each used once within its lifetime.
CREATE TABLE request_nonces (
    "key"      VARCHAR(255) PRIMARY KEY NOT NULL,
    expires_at BIGINT NOT NULL,
    INDEX request_nonces_expiry (expires_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
