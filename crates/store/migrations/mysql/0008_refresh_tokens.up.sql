-- Refresh-token families (one per login of an app instance) and their tokens, stored by the
-- SHA-256 of the token. `successor` is the sealed pair a used token was exchanged for, kept
-- for the grace window of concurrent refreshes.
CREATE TABLE refresh_families (
    id           VARCHAR(255) PRIMARY KEY NOT NULL,
    account_id   VARCHAR(255) NOT NULL,
    client_id    TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    revoked_at   BIGINT,
    INDEX refresh_families_account (account_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE refresh_tokens (
    hash       VARCHAR(255) PRIMARY KEY NOT NULL,
    family_id  VARCHAR(255) NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    successor  TEXT,
    INDEX refresh_tokens_family (family_id),
    CONSTRAINT refresh_tokens_family_fk FOREIGN KEY (family_id)
        REFERENCES refresh_families (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
