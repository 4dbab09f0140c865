-- Conditions that last (every API key of an upstream exhausted): open while they hold, so that
-- every instance together sends one notification when one starts and one when it ends.
CREATE TABLE notification_episodes (
    "key"      VARCHAR(255) PRIMARY KEY NOT NULL,
    open       BIGINT NOT NULL CHECK (open IN (0, 1)),
    changed_at BIGINT NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
