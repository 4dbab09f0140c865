-- Second factors (SPEC §12): an account's TOTP secret (sealed under the master key), confirmed
-- once a code from it was entered, with the last step used so a code works once; and its
-- recovery codes, as keyed hashes.
CREATE TABLE totp_factors (
    account_id   VARCHAR(255) NOT NULL PRIMARY KEY,
    sealed       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    confirmed_at BIGINT,
    last_step    BIGINT NOT NULL DEFAULT -1
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
CREATE TABLE recovery_codes (
    account_id VARCHAR(255) NOT NULL,
    code_hash  CHAR(64) NOT NULL,
    PRIMARY KEY (account_id, code_hash)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
