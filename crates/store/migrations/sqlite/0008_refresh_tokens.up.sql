-- Refresh-token families (one per login of an app instance) and their tokens, stored by the
-- SHA-256 of the token. `successor` is the sealed pair a used token was exchanged for, kept
-- for the grace window of concurrent refreshes.
CREATE TABLE refresh_families (
    id           TEXT PRIMARY KEY NOT NULL,
    account_id   TEXT NOT NULL,
    client_id    TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    revoked_at   INTEGER
) STRICT;

CREATE INDEX refresh_families_account ON refresh_families (account_id);

CREATE TABLE refresh_tokens (
    hash       TEXT PRIMARY KEY NOT NULL,
    family_id  TEXT NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    successor  TEXT
) STRICT;

CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
