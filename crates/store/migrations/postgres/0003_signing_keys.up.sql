-- The signing-key pool. Material is sealed under the master key; at most one active key per
-- purpose, enforced by the database so that two instances rotating at once cannot both win.
CREATE TABLE signing_keys (
    kid           TEXT PRIMARY KEY NOT NULL,
    purpose       TEXT NOT NULL CHECK (purpose IN ('cookie', 'jwt')),
    state         TEXT NOT NULL CHECK (state IN ('active', 'verify', 'retired')),
    sealed        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    activated_at  BIGINT,
    verify_since  BIGINT,
    retired_at    BIGINT,
    verifications BIGINT NOT NULL DEFAULT 0
);

CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (purpose) WHERE state = 'active';
