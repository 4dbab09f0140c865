-- Accounts. Names are stored lowercase (kunci_domain::accounts::normalize_username); scopes are
-- space-separated (`user`, `user admin`); the password hash is an Argon2id PHC string.
CREATE TABLE accounts (
    id                  TEXT PRIMARY KEY NOT NULL,
    username            TEXT NOT NULL UNIQUE,
    password_hash       TEXT NOT NULL,
    scopes              TEXT NOT NULL,
    disabled            INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at          INTEGER NOT NULL,
    password_changed_at INTEGER NOT NULL
) STRICT;
