//! The relational databases: SQLite (the embedded default) and PostgreSQL (several instances).
//!
//! Queries are checked at run time (no `query!` macros): one crate serves several dialects, and
//! the integration tests run every query against every backend. Each backend has its own
//! migrations folder with the same version numbers (`migrations/<backend>/NNNN_name.{up,down}.sql`).

mod database;
mod migrate;
mod target;

pub use database::{Backend, ConnectOptions, Database, DatabaseError};
pub use migrate::MigrationState;
pub use target::{DatabaseTarget, TargetError};
