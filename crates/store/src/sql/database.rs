//! The database handle: one pool, of whichever backend the URL names.

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use kunci_domain::health::{Probe, ProbeFailure};
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::target::DatabaseTarget;
use super::with_pool;
use crate::fs::{create_private_dir_all, ensure_private_file};

/// Which SQL dialect a [`Database`] speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    /// MariaDB or MySQL.
    MySql,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
            Self::MySql => "mysql",
        })
    }
}

/// Pool settings.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub max_connections: u32,
    /// How long to wait for a connection, at start and from the pool.
    pub acquire_timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// A connection pool to kunci's database. Cheap to clone.
#[derive(Clone)]
pub enum Database {
    Sqlite(SqlitePool),
    Postgres(PgPool),
    MySql(MySqlPool),
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Database({})", self.backend())
    }
}

/// What went wrong with the database. Messages name the backend and the step, never the URL.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    #[error("cannot prepare the database file {path}")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot connect to the {backend} database")]
    Connect {
        backend: Backend,
        #[source]
        source: sqlx::Error,
    },
    #[error("migrating the {backend} database failed")]
    Migrate {
        backend: Backend,
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    #[error(
        "the database holds migration {version}, which this kunci does not know: it was \
         migrated by a newer kunci; run that version, or roll back with it first"
    )]
    UnknownMigration { version: i64 },
    #[error("the {backend} database does not answer")]
    Query {
        backend: Backend,
        #[source]
        source: sqlx::Error,
    },
}

impl Database {
    /// Opens a pool. A SQLite file that does not exist yet is created with mode 0600, and any
    /// missing parent folders with mode 0700, before SQLite ever touches it.
    pub async fn connect(
        target: &DatabaseTarget,
        options: &ConnectOptions,
    ) -> Result<Self, DatabaseError> {
        match target {
            DatabaseTarget::Sqlite { path } => {
                let (connect, pool) = match path {
                    Some(path) => (sqlite_file_options(path)?, sqlite_pool(options)),
                    // One connection that never closes, or the in-memory database vanishes.
                    None => (
                        SqliteConnectOptions::new()
                            .in_memory(true)
                            .foreign_keys(true),
                        SqlitePoolOptions::new()
                            .max_connections(1)
                            .min_connections(1)
                            .idle_timeout(None)
                            .max_lifetime(None),
                    ),
                };
                let pool = pool
                    .acquire_timeout(options.acquire_timeout)
                    .connect_with(connect)
                    .await
                    .map_err(|source| DatabaseError::Connect {
                        backend: Backend::Sqlite,
                        source,
                    })?;
                Ok(Self::Sqlite(pool))
            }
            DatabaseTarget::Postgres { url } => {
                let connect =
                    PgConnectOptions::from_str(url).map_err(|source| DatabaseError::Connect {
                        backend: Backend::Postgres,
                        source,
                    })?;
                let pool = PgPoolOptions::new()
                    .max_connections(options.max_connections)
                    .acquire_timeout(options.acquire_timeout)
                    .connect_with(connect.application_name("kunci"))
                    .await
                    .map_err(|source| DatabaseError::Connect {
                        backend: Backend::Postgres,
                        source,
                    })?;
                Ok(Self::Postgres(pool))
            }
            DatabaseTarget::MySql { url } => {
                let error = |source| DatabaseError::Connect {
                    backend: Backend::MySql,
                    source,
                };
                let connect = MySqlConnectOptions::from_str(url).map_err(error)?;
                let pool = MySqlPoolOptions::new()
                    .max_connections(options.max_connections)
                    .acquire_timeout(options.acquire_timeout)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            // `"key"` is an identifier (as on the other backends), bad values are
                            // errors rather than warnings, and integers are seconds, never local
                            // times.
                            sqlx::query(
                                "SET SESSION sql_mode = CONCAT(@@sql_mode, \
                                 ',ANSI_QUOTES,STRICT_ALL_TABLES'), time_zone = '+00:00'",
                            )
                            .execute(conn)
                            .await
                            .map(drop)
                        })
                    })
                    .connect_with(connect)
                    .await
                    .map_err(error)?;
                Ok(Self::MySql(pool))
            }
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Self::Sqlite(_) => Backend::Sqlite,
            Self::Postgres(_) => Backend::Postgres,
            Self::MySql(_) => Backend::MySql,
        }
    }

    /// How this database writes its SQL.
    pub(crate) fn dialect(&self) -> super::Dialect {
        match self {
            Self::MySql(_) => super::Dialect::MySql,
            Self::Sqlite(_) | Self::Postgres(_) => super::Dialect::Numbered,
        }
    }

    /// Answers when the database is reachable and is a migrated kunci database.
    pub async fn ping(&self) -> Result<(), DatabaseError> {
        const SQL: &str = "SELECT value FROM kunci_meta WHERE \"key\" = 'schema'";
        let result =
            with_pool!(self, pool => sqlx::query_scalar::<_, String>(SQL).fetch_one(pool).await);
        result.map(drop).map_err(|source| DatabaseError::Query {
            backend: self.backend(),
            source,
        })
    }

    /// A consistent copy of a SQLite database in the new file `path` (`VACUUM INTO`: one read
    /// transaction, while the server keeps serving). `Ok(false)` on the server databases, which
    /// have no such copy: their backups are a logical export.
    pub async fn snapshot_into(&self, path: &Path) -> Result<bool, sqlx::Error> {
        match self {
            Self::Sqlite(pool) => {
                sqlx::query("VACUUM INTO $1")
                    .bind(path.to_string_lossy().into_owned())
                    .execute(pool)
                    .await?;
                Ok(true)
            }
            Self::Postgres(_) | Self::MySql(_) => Ok(false),
        }
    }

    /// Whether the database holds anything a restore would destroy: accounts, signing keys,
    /// audit entries, API keys, service clients or sessions.
    pub async fn holds_data(&self) -> Result<bool, sqlx::Error> {
        for table in [
            "accounts",
            "signing_keys",
            "audit_log",
            "api_keys",
            "service_clients",
            "sessions",
        ] {
            // A count rather than EXISTS: a BIGINT on every backend (MySQL has no booleans).
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM (SELECT 1 FROM {table} LIMIT 1) AS any_row"
            ));
            let (found,): (i64,) =
                with_pool!(self, pool => sqlx::query_as(sql).fetch_one(pool).await?);
            if found > 0 {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// SQLite's own check of a database file: `ok`, or what is wrong.
    pub async fn integrity(&self) -> Result<String, sqlx::Error> {
        match self {
            Self::Sqlite(pool) => {
                let (answer,): (String,) = sqlx::query_as("PRAGMA integrity_check")
                    .fetch_one(pool)
                    .await?;
                Ok(answer)
            }
            Self::Postgres(_) | Self::MySql(_) => Ok("ok".to_owned()),
        }
    }

    /// Closes every connection, waiting for those in use to be returned.
    pub async fn close(&self) {
        with_pool!(self, pool => pool.close().await);
    }
}

fn sqlite_pool(options: &ConnectOptions) -> SqlitePoolOptions {
    // SQLite has one writer at a time; a large pool only queues on its lock.
    SqlitePoolOptions::new().max_connections(options.max_connections.clamp(1, 8))
}

fn sqlite_file_options(path: &Path) -> Result<SqliteConnectOptions, DatabaseError> {
    let file_error = |source| DatabaseError::File {
        path: path.display().to_string(),
        source,
    };
    if let Some(parent) = path.parent() {
        create_private_dir_all(parent).map_err(file_error)?;
    }
    ensure_private_file(path).map_err(file_error)?;
    Ok(SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true))
}

/// `/readyz`'s view of the database.
#[async_trait]
impl Probe for Database {
    fn name(&self) -> &'static str {
        "database"
    }

    async fn check(&self) -> Result<(), ProbeFailure> {
        match tokio::time::timeout(Duration::from_secs(2), self.ping()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err(ProbeFailure(kunci_domain::error_chain(&err))),
            Err(_) => Err(ProbeFailure("timed out after 2 s".to_owned())),
        }
    }
}
