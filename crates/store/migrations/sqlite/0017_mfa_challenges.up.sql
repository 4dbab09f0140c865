-- Logins waiting for their second factor (SPEC §12): the SHA-256 of the mfa_token (or of the
-- browser's session id), the account, the flow and the app, for five minutes.
CREATE TABLE mfa_challenges (
    secret_hash TEXT NOT NULL PRIMARY KEY,
    account_id  TEXT NOT NULL,
    flow        TEXT NOT NULL,
    client_id   TEXT,
    expires_at  INTEGER NOT NULL
) STRICT;
