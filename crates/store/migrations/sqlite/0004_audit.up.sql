-- The audit log: append-only entries chained by MACs (see kunci_domain::audit), and the sealed
-- head that records the last entry. The head row always exists (sequence 0 before the first
-- entry) so that writers can lock it.
CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY NOT NULL,
    at        INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    outcome   TEXT NOT NULL,
    kid       TEXT,
    ip        TEXT,
    ip_commit TEXT,
    prev      TEXT NOT NULL,
    mac       TEXT NOT NULL
) STRICT;

CREATE INDEX audit_log_at ON audit_log (at);

CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    seq  INTEGER NOT NULL,
    mac  TEXT NOT NULL,
    seal TEXT NOT NULL
) STRICT;

INSERT INTO audit_head (id, seq, mac, seal) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', '');

-- Append-only, as far as the database can say so: no deletes, and the only update is the
-- retention purge clearing an IP hash. (Someone with write access can drop these triggers;
-- the chain is what detects that.)
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
WHEN NEW.ip IS NOT NULL OR NEW.seq IS NOT OLD.seq OR NEW.at IS NOT OLD.at
    OR NEW.actor IS NOT OLD.actor OR NEW.action IS NOT OLD.action OR NEW.target IS NOT OLD.target
    OR NEW.outcome IS NOT OLD.outcome OR NEW.kid IS NOT OLD.kid
    OR NEW.ip_commit IS NOT OLD.ip_commit OR NEW.prev IS NOT OLD.prev OR NEW.mac IS NOT OLD.mac
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
