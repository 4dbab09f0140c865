//! The relational databases: SQLite (the embedded default), PostgreSQL and MariaDB/MySQL
//! (several instances).
//!
//! Queries are checked at run time (no `query!` macros): one crate serves several dialects, and
//! the integration tests run every query against every backend. Each backend has its own
//! migrations folder with the same version numbers (`migrations/<backend>/NNNN_name.{up,down}.sql`).
//!
//! Shared SQL is written once with numbered placeholders, `$1` to `$n`, each used once and in
//! order, so that it also reads as MySQL's positional `?` ([`Database::sql`] rewrites them). A
//! value needed twice is bound twice. Identifiers that are keywords in one dialect (`"key"`)
//! are double-quoted; MySQL connections run with `ANSI_QUOTES` to read them the same way.

mod accounts;
mod apikeys;
mod audit;
mod challenges;
mod clients;
mod database;
mod dump;
mod episodes;
mod factors;
mod lockout;
mod migrate;
mod refresh;
mod reset;
mod revocation;
mod sessions;
mod signing_keys;
mod tally;
mod target;
mod usage;

/// Runs `$body` with `$pool` bound to whichever pool the database holds. Shared SQL goes
/// through [`Database::sql`]; dialect differences get their own match instead.
macro_rules! with_pool {
    // SQLite and PostgreSQL share `$body`; MariaDB/MySQL has its own.
    ($db:expr, $pool:ident => $body:expr, MySql($mysql:ident) => $mysql_body:expr) => {
        match $db {
            $crate::sql::Database::Sqlite($pool) => $body,
            $crate::sql::Database::Postgres($pool) => $body,
            $crate::sql::Database::MySql($mysql) => $mysql_body,
        }
    };
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::sql::Database::Sqlite($pool) => $body,
            $crate::sql::Database::Postgres($pool) => $body,
            $crate::sql::Database::MySql($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// How a backend writes placeholders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// `$1`, `$2`, …: SQLite and PostgreSQL.
    Numbered,
    /// `?`: MariaDB and MySQL.
    MySql,
}

impl Dialect {
    /// Shared SQL in this dialect.
    pub(crate) fn sql(self, text: impl Into<Cow<'static, str>>) -> SqlStr {
        let text = text.into();
        match self {
            Self::Numbered => AssertSqlSafe(text).into_sql_str(),
            Self::MySql => AssertSqlSafe(question_marks(&text)).into_sql_str(),
        }
    }
}

impl Database {
    /// Shared SQL (placeholders `$1`…`$n`, each once, in order) in this database's dialect.
    pub(crate) fn sql(&self, text: impl Into<Cow<'static, str>>) -> SqlStr {
        self.dialect().sql(text)
    }
}

/// Rewrites `$1`…`$n` as `?`, leaving quoted text alone. Shared SQL must number its
/// placeholders in order, each once, or positional binding would pair the wrong values; a query
/// that does not is a bug, and stops here rather than bind the wrong value.
fn question_marks(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quote: Option<char> = None;
    let mut expected = 1_u32;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '$') if chars.peek().is_some_and(char::is_ascii_digit) => {
                let mut number = 0_u32;
                while let Some(digit) = chars.peek().and_then(|d| d.to_digit(10)) {
                    number = number.saturating_mul(10).saturating_add(digit);
                    chars.next();
                }
                assert_eq!(
                    number, expected,
                    "placeholders must be numbered in order, each once: {sql}"
                );
                expected = expected.saturating_add(1);
                out.push('?');
                continue;
            }
            (None, _) => {}
        }
        out.push(c);
    }
    out
}

/// Maps a driver error: a unique violation is a conflict, anything else means the database is
/// unavailable to us.
pub(crate) fn store_error(err: sqlx::Error) -> kunci_domain::store::StoreError {
    use kunci_domain::store::StoreError;
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
        _ => StoreError::unavailable("sql", err),
    }
}

use std::borrow::Cow;

use sqlx::{AssertSqlSafe, SqlSafeStr, SqlStr};

pub use database::{Backend, ConnectOptions, Database, DatabaseError};
pub use dump::{DumpError, DumpSummary};
pub use migrate::MigrationState;
pub use tally::{SqlTallies, TallyTable};
pub use target::{DatabaseTarget, TargetError};

#[cfg(test)]
mod tests {
    use super::question_marks;

    #[test]
    fn numbered_placeholders_become_question_marks() {
        assert_eq!(
            question_marks("UPDATE t SET a = $1, b = $2 WHERE \"key\" = $3 LIMIT $4"),
            "UPDATE t SET a = ?, b = ? WHERE \"key\" = ? LIMIT ?"
        );
        assert_eq!(question_marks("SELECT 1"), "SELECT 1");
        let many: Vec<String> = (1..=12).map(|n| format!("${n}")).collect();
        assert_eq!(question_marks(&many.join(",")), ["?"; 12].join(","));
    }

    #[test]
    fn quoted_text_and_bare_dollars_are_left_alone() {
        assert_eq!(
            question_marks("SELECT '$1', \"$2\", $ , '$[*]' WHERE x = $1"),
            "SELECT '$1', \"$2\", $ , '$[*]' WHERE x = ?"
        );
        assert_eq!(
            question_marks("SELECT 'it''s $1' = $1"),
            "SELECT 'it''s $1' = ?"
        );
    }

    #[test]
    #[should_panic(expected = "numbered in order")]
    fn a_repeated_placeholder_is_a_bug() {
        let _ = question_marks("SELECT $1 WHERE $1 IS NULL");
    }

    #[test]
    #[should_panic(expected = "numbered in order")]
    fn placeholders_out_of_order_are_a_bug() {
        let _ = question_marks("UPDATE t SET a = $2 WHERE id = $1");
    }
}
