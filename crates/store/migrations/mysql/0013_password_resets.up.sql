-- One-time password-reset links (SPEC §11): the SHA-256 of the token, never the token; one
-- live link per account.
CREATE TABLE password_resets (
    token_hash CHAR(64) NOT NULL PRIMARY KEY,
    account_id VARCHAR(255) NOT NULL UNIQUE,
    expires_at BIGINT NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
