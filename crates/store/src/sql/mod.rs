//! The relational databases: SQLite (the embedded default) and PostgreSQL (several instances).
//!
//! Queries are checked at run time (no `query!` macros): one crate serves several dialects, and
//! the integration tests run every query against every backend. Each backend has its own
//! migrations folder with the same version numbers (`migrations/<backend>/NNNN_name.{up,down}.sql`).

mod accounts;
mod apikeys;
mod audit;
mod clients;
mod database;
mod episodes;
mod lockout;
mod migrate;
mod refresh;
mod revocation;
mod sessions;
mod signing_keys;
mod target;
mod usage;

/// Runs `$body` with `$pool` bound to whichever pool the database holds. The SQL is written
/// once, with `$1`-style placeholders (first appearances in order) that both SQLite and
/// PostgreSQL understand; dialect differences get their own match instead.
macro_rules! with_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::sql::Database::Sqlite($pool) => $body,
            $crate::sql::Database::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// Maps a driver error: a unique violation is a conflict, anything else means the database is
/// unavailable to us.
pub(crate) fn store_error(err: sqlx::Error) -> kunci_domain::store::StoreError {
    use kunci_domain::store::StoreError;
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
        _ => StoreError::unavailable("sql", err),
    }
}

pub use database::{Backend, ConnectOptions, Database, DatabaseError};
pub use migrate::MigrationState;
pub use target::{DatabaseTarget, TargetError};
