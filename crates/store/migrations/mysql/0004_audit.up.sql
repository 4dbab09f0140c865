-- The audit log: append-only entries chained by MACs (see kunci_domain::audit), and the sealed
-- head that records the last entry. The head row always exists (sequence 0 before the first
-- entry) so that writers can lock it with SELECT … FOR UPDATE.
CREATE TABLE audit_log (
    seq       BIGINT PRIMARY KEY NOT NULL,
    at        BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    outcome   TEXT NOT NULL,
    kid       TEXT,
    ip        TEXT,
    ip_commit TEXT,
    prev      TEXT NOT NULL,
    mac       TEXT NOT NULL,
    INDEX audit_log_at (at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    seq  BIGINT NOT NULL,
    mac  TEXT NOT NULL,
    seal TEXT NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

INSERT INTO audit_head (id, seq, mac, seal) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', '');

-- Append-only, as far as the database can say so: no deletes, and the only update is the
-- retention purge clearing an IP hash. (Someone with write access can drop these triggers;
-- the chain is what detects that.) `kunci backup restore` replaces the whole log inside its
-- transaction: MySQL cannot disable a trigger without committing, so the restoring connection
-- says so in a session variable instead.
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log FOR EACH ROW
BEGIN
    IF @kunci_restore IS NULL THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'the audit log is append-only';
    END IF;
END;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log FOR EACH ROW
BEGIN
    IF NEW.ip IS NOT NULL OR NOT (NEW.seq <=> OLD.seq AND NEW.at <=> OLD.at
            AND NEW.actor <=> OLD.actor AND NEW.action <=> OLD.action
            AND NEW.target <=> OLD.target AND NEW.outcome <=> OLD.outcome
            AND NEW.kid <=> OLD.kid AND NEW.ip_commit <=> OLD.ip_commit
            AND NEW.prev <=> OLD.prev AND NEW.mac <=> OLD.mac) THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'the audit log is append-only';
    END IF;
END;
