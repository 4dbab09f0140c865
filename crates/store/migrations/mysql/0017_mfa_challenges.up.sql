-- Logins waiting for their second factor (SPEC §12): the SHA-256 of the mfa_token (or of the
-- browser's session id), the account, the flow and the app, for five minutes.
CREATE TABLE mfa_challenges (
    secret_hash CHAR(64) NOT NULL PRIMARY KEY,
    account_id  VARCHAR(255) NOT NULL,
    flow        VARCHAR(16) NOT NULL,
    client_id   VARCHAR(255),
    expires_at  BIGINT NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
