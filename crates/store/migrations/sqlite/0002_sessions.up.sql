-- Server-side sessions, keyed by the SHA-256 of the session id (the id itself is never stored).
CREATE TABLE sessions (
    key        TEXT PRIMARY KEY NOT NULL,
    sub        TEXT,
    expires_at INTEGER NOT NULL,
    record     TEXT NOT NULL
) STRICT;

CREATE INDEX sessions_by_sub ON sessions (sub);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
