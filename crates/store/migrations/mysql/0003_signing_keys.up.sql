-- The signing-key pool. Material is sealed under the master key; at most one active key per
-- purpose, enforced by the database so that two instances rotating at once cannot both win.
-- MariaDB/MySQL have no partial index: a generated column holds the purpose of the active key
-- only (NULL otherwise, and NULLs never collide) and is unique.
CREATE TABLE signing_keys (
    kid            VARCHAR(255) PRIMARY KEY NOT NULL,
    purpose        VARCHAR(16) NOT NULL CHECK (purpose IN ('cookie', 'jwt')),
    state          VARCHAR(16) NOT NULL CHECK (state IN ('active', 'verify', 'retired')),
    sealed         TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    activated_at   BIGINT,
    verify_since   BIGINT,
    retired_at     BIGINT,
    verifications  BIGINT NOT NULL DEFAULT 0,
    active_purpose VARCHAR(16) AS (CASE WHEN state = 'active' THEN purpose END) STORED,
    UNIQUE INDEX signing_keys_one_active (active_purpose)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
