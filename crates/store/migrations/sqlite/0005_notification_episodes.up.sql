-- Conditions that last (every API key of an upstream exhausted): open while they hold, so that
-- every instance together sends one notification when one starts and one when it ends.
CREATE TABLE notification_episodes (
    key        TEXT PRIMARY KEY NOT NULL,
    open       INTEGER NOT NULL CHECK (open IN (0, 1)),
    changed_at INTEGER NOT NULL
) STRICT;
