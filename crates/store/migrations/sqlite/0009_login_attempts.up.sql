-- Brute-force lockout: attempts per account name (`name:<name>`) or device (`device:<id>`)
-- within a window, and the lock. The record of truth for every instance.
CREATE TABLE login_attempts (
    key          TEXT PRIMARY KEY NOT NULL,
    attempts     INTEGER NOT NULL,
    window_start INTEGER NOT NULL,
    locked_until INTEGER
) STRICT;
