-- Service clients that sign their requests (SPEC §6). The secret is sealed under the master
-- key: verifying an HMAC needs it. Revoked clients stay, so their names are never reused.
CREATE TABLE service_clients (
    name       TEXT PRIMARY KEY NOT NULL,
    sealed     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;

-- Nonces of signed requests, when no Redis is configured: each used once within its lifetime.
CREATE TABLE request_nonces (
    key        TEXT PRIMARY KEY NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;

CREATE INDEX request_nonces_expiry ON request_nonces (expires_at);
