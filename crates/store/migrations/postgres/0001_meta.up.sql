-- What this database is: checked by /readyz and by every command that opens it, so that kunci
-- never writes into a database that belongs to something else.
CREATE TABLE kunci_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

INSERT INTO kunci_meta (key, value) VALUES ('schema', 'kunci');
