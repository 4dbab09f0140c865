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
    mac       TEXT NOT NULL
);

CREATE INDEX audit_log_at ON audit_log (at);

CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    seq  BIGINT NOT NULL,
    mac  TEXT NOT NULL,
    seal TEXT NOT NULL
);

INSERT INTO audit_head (id, seq, mac, seal) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', '');

-- Append-only, as far as the database can say so: no deletes, and the only update is the
-- retention purge clearing an IP hash. (Someone with write access can drop this trigger; the
-- chain is what detects that.)
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'the audit log is append-only';
    END IF;
    IF NEW.ip IS NOT NULL OR (NEW.seq, NEW.at, NEW.actor, NEW.action, NEW.target, NEW.outcome,
            NEW.kid, NEW.ip_commit, NEW.prev, NEW.mac)
        IS DISTINCT FROM (OLD.seq, OLD.at, OLD.actor, OLD.action, OLD.target, OLD.outcome,
            OLD.kid, OLD.ip_commit, OLD.prev, OLD.mac) THEN
        RAISE EXCEPTION 'the audit log is append-only';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
