-- What this database is: checked by /readyz and by every command that opens it, so that kunci
-- never writes into a database that belongs to something else.
--
-- MariaDB/MySQL notes for every table: InnoDB (transactions, row locks), utf8mb4 with a binary
-- collation (names and keys compare byte for byte, never case-insensitively), VARCHAR(255)
-- where a column is a key or indexed, TEXT elsewhere. Connections run with ANSI_QUOTES, so
-- "key" is an identifier as on the other backends.
CREATE TABLE kunci_meta (
    "key" VARCHAR(255) PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

INSERT INTO kunci_meta ("key", value) VALUES ('schema', 'kunci');
