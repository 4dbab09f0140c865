-- One-time password-reset links (SPEC §11): the SHA-256 of the token, never the token; one
-- live link per account.
CREATE TABLE password_resets (
    token_hash TEXT NOT NULL PRIMARY KEY,
    account_id TEXT NOT NULL UNIQUE,
    expires_at INTEGER NOT NULL
) STRICT;
