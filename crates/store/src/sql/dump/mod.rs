//! Logical backups of the server databases (PostgreSQL, MariaDB/MySQL): every kunci table
//! exported from one consistent snapshot as JSON lines, and imported back in one transaction.
//! SQLite is backed up as a file instead (`Database::snapshot_into`).
//!
//! ```text
//! {"kunci_dump":1,"backend":"postgres","schema":11,"tables":[{"name":…,"columns":[…],"rows":N},…]}
//! {"table":"accounts"}
//! ["a1","alice",…]            one JSON array per row: integers, strings, null
//! …
//! {"end":{"tables":12,"rows":345}}
//! ```
//!
//! The first line lists every table, its columns and its row count, so a restore compares the
//! whole dump with the database it writes into before it changes anything. Tables come parents
//! first (foreign keys), so inserting in file order and deleting in reverse never breaks a
//! reference. Values are typed by the target's columns: integers or text, nothing else. The
//! format is the same for both servers, so a dump taken on one restores into the other.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, BufRead, Write};

use futures_util::TryStreamExt as _;
use serde_json::{Value, json};
use sqlx::Connection as _;

use super::{Backend, Database, Dialect};

mod format;

use format::{DumpHeader, Kind, Table, check_end, insert_sql, malformed, parse_row, read_line};

/// Rows per `INSERT` on restore.
const BATCH: usize = 200;
/// sqlx's bookkeeping: the target's own migrations decide it, it is never restored.
const MIGRATIONS_TABLE: &str = "_sqlx_migrations";

/// What went wrong with a dump.
#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    #[error("SQLite is backed up as a file, not as a logical dump")]
    Sqlite,
    #[error("the {backend} database failed during the {step}")]
    Sql {
        backend: Backend,
        step: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error("the dump is malformed: {0}")]
    Malformed(String),
    #[error("the dump does not fit this database: {0}")]
    Mismatch(String),
}

/// How much a dump held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DumpSummary {
    pub tables: usize,
    pub rows: u64,
}

fn sql_error(backend: Backend, step: &'static str) -> impl FnOnce(sqlx::Error) -> DumpError {
    move |source| DumpError::Sql {
        backend,
        step,
        source,
    }
}

/// Lists kunci's tables (parents before children) with their columns, inside `$conn`'s
/// transaction. Generated columns are left out: the database computes them.
macro_rules! describe_in {
    ($conn:expr, $backend:expr, $tables_sql:expr, $columns_sql:expr, $refs_sql:expr) => {{
        let error = sql_error($backend, "reading the table list");
        let names: Vec<String> = sqlx::query_scalar($tables_sql)
            .fetch_all(&mut *$conn)
            .await
            .map_err(error)?;
        let mut tables = Vec::new();
        for name in names.into_iter().filter(|n| n != MIGRATIONS_TABLE) {
            let columns: Vec<(String, String)> = sqlx::query_as($columns_sql)
                .bind(&name)
                .fetch_all(&mut *$conn)
                .await
                .map_err(sql_error($backend, "reading the columns"))?;
            let columns = columns
                .into_iter()
                .map(|(column, data_type)| {
                    Kind::of(&data_type).map(|kind| (column.clone(), kind)).ok_or_else(|| {
                        DumpError::Mismatch(format!(
                            "{name}.{column} has the type {data_type}, which backups do not know"
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            tables.push(Table { name, columns });
        }
        let refs: Vec<(String, String)> = sqlx::query_as($refs_sql)
            .fetch_all(&mut *$conn)
            .await
            .map_err(sql_error($backend, "reading the foreign keys"))?;
        parents_first(tables, &refs)
    }};
}

const PG_TABLES: &str = "SELECT table_name::text FROM information_schema.tables \
     WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name";
const PG_COLUMNS: &str = "SELECT column_name::text, data_type::text FROM information_schema.columns \
     WHERE table_schema = current_schema() AND table_name = $1 AND is_generated = 'NEVER' \
     ORDER BY ordinal_position";
const PG_REFS: &str = "SELECT c.relname::text, p.relname::text FROM pg_constraint k \
     JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid \
     WHERE k.contype = 'f' AND k.connamespace = current_schema()::regnamespace";
const MYSQL_TABLES: &str = "SELECT CAST(table_name AS CHAR) FROM information_schema.tables \
     WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY table_name";
const MYSQL_COLUMNS: &str = "SELECT CAST(column_name AS CHAR), CAST(data_type AS CHAR) \
     FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? \
     AND extra NOT LIKE '%GENERATED%' ORDER BY ordinal_position";
const MYSQL_REFS: &str = "SELECT CAST(table_name AS CHAR), CAST(referenced_table_name AS CHAR) \
     FROM information_schema.referential_constraints WHERE constraint_schema = DATABASE()";

/// Orders tables so that every table comes after those its foreign keys point at (by name
/// where nothing else decides; a cycle, which kunci's schema never has, keeps name order).
fn parents_first(tables: Vec<Table>, refs: &[(String, String)]) -> Vec<Table> {
    let mut parents: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (child, parent) in refs {
        if child != parent {
            parents.entry(child).or_default().insert(parent);
        }
    }
    let mut placed: BTreeSet<String> = BTreeSet::new();
    let mut ordered = Vec::with_capacity(tables.len());
    let mut rest = tables;
    while !rest.is_empty() {
        let (ready, waiting): (Vec<Table>, Vec<Table>) = rest.into_iter().partition(|t| {
            parents
                .get(t.name.as_str())
                .is_none_or(|ps| ps.iter().all(|p| placed.contains(*p)))
        });
        if ready.is_empty() {
            ordered.extend(waiting);
            break;
        }
        placed.extend(ready.iter().map(|t| t.name.clone()));
        ordered.extend(ready);
        rest = waiting;
    }
    ordered
}

fn quoted(name: &str) -> String {
    format!("\"{name}\"")
}

/// `SELECT` of every column, integers as 64-bit (PostgreSQL's `integer` is 32).
fn select_all(table: &Table, dialect: Dialect) -> String {
    let columns: Vec<String> = table
        .columns
        .iter()
        .map(|(name, kind)| match (kind, dialect) {
            (Kind::Integer, Dialect::Numbered) => format!("CAST({} AS BIGINT)", quoted(name)),
            (Kind::Integer, Dialect::MySql) => format!("CAST({} AS SIGNED)", quoted(name)),
            (Kind::Text, _) => quoted(name),
        })
        .collect();
    format!("SELECT {} FROM {}", columns.join(", "), quoted(&table.name))
}

fn write_line(out: &mut (dyn Write + Send), value: &Value) -> Result<(), DumpError> {
    serde_json::to_writer(&mut *out, value).map_err(io::Error::from)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// Writes every row of `$table` to `$out`, counting into `$done`.
macro_rules! rows_in {
    ($conn:expr, $backend:expr, $dialect:expr, $table:expr, $out:expr, $done:expr, $total:expr, $progress:expr) => {{
        let sql = sqlx::AssertSqlSafe(select_all($table, $dialect));
        let mut rows = sqlx::query(sql).fetch(&mut *$conn);
        while let Some(row) = rows
            .try_next()
            .await
            .map_err(sql_error($backend, "export"))?
        {
            let mut values = Vec::with_capacity($table.columns.len());
            for (i, (_, kind)) in $table.columns.iter().enumerate() {
                let value = match kind {
                    Kind::Integer => {
                        sqlx::Row::try_get::<Option<i64>, _>(&row, i).map(|v| json!(v))
                    }
                    Kind::Text => {
                        sqlx::Row::try_get::<Option<String>, _>(&row, i).map(|v| json!(v))
                    }
                };
                values.push(value.map_err(sql_error($backend, "export"))?);
            }
            write_line($out, &Value::Array(values))?;
            *$done += 1;
            $progress(*$done, $total);
        }
    }};
}

impl Database {
    /// Writes every kunci table into `out` as a dump (module docs), from one consistent
    /// snapshot taken while the server keeps serving. `progress(rows done, rows in all)`.
    pub async fn export(
        &self,
        schema: i64,
        out: &mut (dyn Write + Send),
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<DumpSummary, DumpError> {
        let backend = self.backend();
        macro_rules! export_in {
            ($pool:expr, $begin:expr, $tables:expr, $columns:expr, $refs:expr) => {{
                let mut tx = $pool
                    .begin_with($begin)
                    .await
                    .map_err(sql_error(backend, "export"))?;
                let tables = describe_in!(tx, backend, $tables, $columns, $refs);
                let mut counts = Vec::with_capacity(tables.len());
                for table in &tables {
                    let sql = sqlx::AssertSqlSafe(format!(
                        "SELECT COUNT(*) FROM {}",
                        quoted(&table.name)
                    ));
                    let (count,): (i64,) = sqlx::query_as(sql)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(sql_error(backend, "export"))?;
                    counts.push(u64::try_from(count).unwrap_or(0));
                }
                let total: u64 = counts.iter().sum();
                let listed: Vec<Value> = tables
                    .iter()
                    .zip(&counts)
                    .map(|(t, rows)| {
                        let columns: Vec<&str> = t.columns.iter().map(|(c, _)| c.as_str()).collect();
                        json!({"name": t.name, "columns": columns, "rows": rows})
                    })
                    .collect();
                write_line(
                    out,
                    &json!({"kunci_dump": 1, "backend": backend.to_string(), "schema": schema, "tables": listed}),
                )?;
                let mut done = 0_u64;
                progress(0, total);
                for table in &tables {
                    write_line(out, &json!({"table": table.name}))?;
                    rows_in!(tx, backend, self.dialect(), table, out, &mut done, total, progress);
                }
                write_line(out, &json!({"end": {"tables": tables.len(), "rows": done}}))?;
                tx.commit().await.map_err(sql_error(backend, "export"))?;
                Ok(DumpSummary {
                    tables: tables.len(),
                    rows: done,
                })
            }};
        }
        match self {
            Self::Sqlite(_) => Err(DumpError::Sqlite),
            Self::Postgres(pool) => export_in!(
                pool,
                "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
                PG_TABLES,
                PG_COLUMNS,
                PG_REFS
            ),
            Self::MySql(pool) => export_in!(
                pool,
                "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
                MYSQL_TABLES,
                MYSQL_COLUMNS,
                MYSQL_REFS
            ),
        }
    }

    /// Replaces the rows of every kunci table with the dump's, in one transaction: all of the
    /// dump, or (on any error) nothing. The dump must list exactly this database's tables and
    /// columns (the same schema version); the append-only guard of the audit log is lifted for
    /// this transaction only.
    pub async fn import(
        &self,
        input: &mut (dyn BufRead + Send),
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<DumpSummary, DumpError> {
        let backend = self.backend();
        let first = read_line(input)?.ok_or_else(|| malformed("it is empty"))?;
        let listed = DumpHeader::parse(&first)?;
        let total: u64 = listed.tables.iter().map(|t| t.rows).sum();
        macro_rules! import_in {
            ($pool:expr, $tables:expr, $columns:expr, $refs:expr, $lift:expr, $restore:expr) => {{
                // A connection of its own, closed afterwards: the lifted guard never returns to
                // a pool.
                let mut conn = $pool
                    .acquire()
                    .await
                    .map_err(sql_error(backend, "restore"))?
                    .detach();
                let mut tx = conn.begin().await.map_err(sql_error(backend, "restore"))?;
                let tables = describe_in!(tx, backend, $tables, $columns, $refs);
                let tables = listed.matching(tables)?;
                for statement in $lift(&tables) {
                    sqlx::query(sqlx::AssertSqlSafe(statement))
                        .execute(&mut *tx)
                        .await
                        .map_err(sql_error(backend, "restore"))?;
                }
                for table in tables.iter().rev() {
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DELETE FROM {}",
                        quoted(&table.name)
                    )))
                    .execute(&mut *tx)
                    .await
                    .map_err(sql_error(backend, "restore"))?;
                }
                let mut done = 0_u64;
                progress(0, total);
                for (table, expected) in tables.iter().zip(&listed.tables) {
                    let line = read_line(input)?.ok_or_else(|| malformed("it ends early"))?;
                    let opened: Value = serde_json::from_slice(&line)
                        .map_err(|_| malformed("a table line is not JSON"))?;
                    if opened["table"].as_str() != Some(table.name.as_str()) {
                        return Err(malformed(&format!("expected the rows of {}", table.name)));
                    }
                    let mut batch: Vec<Vec<Value>> = Vec::with_capacity(BATCH);
                    let mut rows = 0_u64;
                    while rows < expected.rows {
                        let line = read_line(input)?.ok_or_else(|| malformed("it ends early"))?;
                        batch.push(parse_row(&line, table)?);
                        rows += 1;
                        if batch.len() == BATCH || rows == expected.rows {
                            let size = batch.len();
                            let sql = self.sql(insert_sql(table, size));
                            let mut query = sqlx::query(sql);
                            for row in batch.drain(..) {
                                for (value, (_, kind)) in row.into_iter().zip(&table.columns) {
                                    query = match (kind, value) {
                                        (Kind::Integer, Value::Number(n)) => query.bind(n.as_i64()),
                                        (Kind::Integer, _) => query.bind(None::<i64>),
                                        (Kind::Text, Value::String(s)) => query.bind(Some(s)),
                                        (Kind::Text, _) => query.bind(None::<String>),
                                    };
                                }
                            }
                            query
                                .execute(&mut *tx)
                                .await
                                .map_err(sql_error(backend, "restore"))?;
                            done += u64::try_from(size).unwrap_or(0);
                            progress(done, total);
                        }
                    }
                }
                let rows = check_end(input, &listed, tables.len())?;
                for statement in $restore(&tables) {
                    sqlx::query(sqlx::AssertSqlSafe(statement))
                        .execute(&mut *tx)
                        .await
                        .map_err(sql_error(backend, "restore"))?;
                }
                tx.commit().await.map_err(sql_error(backend, "restore"))?;
                progress(total, total);
                let _ = conn.close().await;
                Ok(DumpSummary {
                    tables: tables.len(),
                    rows,
                })
            }};
        }
        match self {
            Self::Sqlite(_) => Err(DumpError::Sqlite),
            // ALTER TABLE is transactional here: the triggers are back at commit or rollback.
            Self::Postgres(pool) => import_in!(
                pool,
                PG_TABLES,
                PG_COLUMNS,
                PG_REFS,
                |tables: &[Table]| {
                    tables
                        .iter()
                        .map(|t| format!("ALTER TABLE {} DISABLE TRIGGER USER", quoted(&t.name)))
                        .collect::<Vec<_>>()
                },
                |tables: &[Table]| {
                    tables
                        .iter()
                        .map(|t| format!("ALTER TABLE {} ENABLE TRIGGER USER", quoted(&t.name)))
                        .collect::<Vec<_>>()
                }
            ),
            // A trigger cannot be disabled without a commit: the audit log's triggers let this
            // connection through while it says it restores (migration 0004).
            Self::MySql(pool) => import_in!(
                pool,
                MYSQL_TABLES,
                MYSQL_COLUMNS,
                MYSQL_REFS,
                |_: &[Table]| vec!["SET @kunci_restore = 1".to_owned()],
                |_: &[Table]| vec!["SET @kunci_restore = NULL".to_owned()]
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str, columns: &[(&str, Kind)]) -> Table {
        Table {
            name: name.to_owned(),
            columns: columns.iter().map(|(c, k)| ((*c).to_owned(), *k)).collect(),
        }
    }

    #[test]
    fn parents_come_before_children() {
        let tables = vec![
            table("a_tokens", &[]),
            table("b_families", &[]),
            table("c_plain", &[]),
        ];
        let refs = vec![("a_tokens".to_owned(), "b_families".to_owned())];
        let names: Vec<String> = parents_first(tables, &refs)
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(names, ["b_families", "c_plain", "a_tokens"]);
    }

    #[test]
    fn inserts_number_their_placeholders_in_order() {
        let t = table("t", &[("a", Kind::Integer), ("b", Kind::Text)]);
        assert_eq!(
            insert_sql(&t, 2),
            "INSERT INTO \"t\" (\"a\", \"b\") VALUES ($1, $2), ($3, $4)"
        );
    }

    #[test]
    fn hostile_headers_are_refused() {
        for line in [
            &b"not json"[..],
            br#"{"kunci_dump":2,"tables":[]}"#,
            br#"{"kunci_dump":1}"#,
            br#"{"kunci_dump":1,"tables":[{"name":"t; DROP TABLE x","columns":[],"rows":0}]}"#,
            br#"{"kunci_dump":1,"tables":[{"name":"t","columns":["a\" b"],"rows":0}]}"#,
            br#"{"kunci_dump":1,"tables":[{"name":"t","columns":["a"],"rows":-1}]}"#,
            br#"{"kunci_dump":1,"tables":[{"name":"T","columns":["a"],"rows":1}]}"#,
        ] {
            assert!(
                matches!(DumpHeader::parse(line), Err(DumpError::Malformed(_))),
                "{}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn rows_must_fit_their_columns() {
        let t = table("t", &[("n", Kind::Integer), ("s", Kind::Text)]);
        assert!(parse_row(br#"[1,"x"]"#, &t).is_ok());
        assert!(parse_row(br#"[null,null]"#, &t).is_ok());
        for bad in [
            &br#"[1]"#[..],
            br#"[1,"x",2]"#,
            br#"["1","x"]"#,
            br#"[1.5,"x"]"#,
            br#"[18446744073709551615,"x"]"#,
            br#"[1,2]"#,
            br#"[1,{"x":1}]"#,
            br#"{"n":1}"#,
        ] {
            assert!(
                matches!(parse_row(bad, &t), Err(DumpError::Malformed(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn long_and_cut_lines_are_refused() {
        let mut cut: &[u8] = b"{\"a\":1}";
        assert!(matches!(read_line(&mut cut), Err(DumpError::Malformed(_))));
        let mut fine: &[u8] = b"x\n";
        assert_eq!(read_line(&mut fine).unwrap(), Some(b"x".to_vec()));
        assert_eq!(read_line(&mut fine).unwrap(), None);
    }

    #[test]
    fn a_dump_for_other_tables_is_refused_before_anything_is_written() {
        let header = DumpHeader::parse(
            br#"{"kunci_dump":1,"tables":[{"name":"t","columns":["a","b"],"rows":0}]}"#,
        )
        .unwrap();
        let same = vec![table("t", &[("a", Kind::Integer), ("b", Kind::Text)])];
        assert!(header.matching(same).is_ok());
        let other_columns = vec![table("t", &[("a", Kind::Integer)])];
        assert!(matches!(
            header.matching(other_columns),
            Err(DumpError::Mismatch(_))
        ));
        let more_tables = vec![
            table("t", &[("a", Kind::Integer), ("b", Kind::Text)]),
            table("u", &[]),
        ];
        assert!(matches!(
            header.matching(more_tables),
            Err(DumpError::Mismatch(_))
        ));
        assert!(matches!(
            header.matching(vec![]),
            Err(DumpError::Mismatch(_))
        ));
    }
}
