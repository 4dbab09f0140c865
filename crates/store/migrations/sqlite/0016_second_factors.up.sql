-- Second factors (SPEC §12): an account's TOTP secret (sealed under the master key), confirmed
-- once a code from it was entered, with the last step used so a code works once; and its
-- recovery codes, as keyed hashes.
CREATE TABLE totp_factors (
    account_id   TEXT NOT NULL PRIMARY KEY,
    sealed       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    confirmed_at INTEGER,
    last_step    INTEGER NOT NULL DEFAULT -1
) STRICT;
CREATE TABLE recovery_codes (
    account_id TEXT NOT NULL,
    code_hash  TEXT NOT NULL,
    PRIMARY KEY (account_id, code_hash)
) STRICT;
