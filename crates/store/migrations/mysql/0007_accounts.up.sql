-- Accounts. Names are stored lowercase (kunci_domain::accounts::normalize_username); scopes are
-- space-separated (`user`, `user admin`); the password hash is an Argon2id PHC string.
CREATE TABLE accounts (
    id                  VARCHAR(255) PRIMARY KEY NOT NULL,
    username            VARCHAR(255) NOT NULL UNIQUE,
    password_hash       TEXT NOT NULL,
    scopes              TEXT NOT NULL,
    disabled            BIGINT NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at          BIGINT NOT NULL,
    password_changed_at BIGINT NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
