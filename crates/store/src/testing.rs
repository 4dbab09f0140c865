//! Test support: a fresh database per test, and the rule for tests that need a real service.
//!
//! Services are named by `KUNCI_TEST_DATABASE_URL` (PostgreSQL), `KUNCI_TEST_MYSQL_URL` and
//! `KUNCI_TEST_REDIS_URL`. Unset on a laptop, the test is skipped with a message; unset with
//! `CI=true`, the test fails, so a broken CI set-up can never pass by skipping everything.
#![expect(
    clippy::expect_used,
    reason = "test support fails loudly, with the step that failed"
)]

use std::path::Path;

use crate::sql::{ConnectOptions, Database, DatabaseTarget};

/// The URL of a test service, or `None` (after saying so) when it is not configured.
///
/// # Panics
/// When the variable is unset and `CI=true`.
#[expect(
    clippy::disallowed_methods,
    reason = "tests learn the service URLs from the environment"
)]
pub fn service_url(variable: &str) -> Option<String> {
    match std::env::var(variable) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            assert!(
                !in_ci(),
                "{variable} is not set, but CI=true: the service must be available"
            );
            skip(&format!("{variable} is not set"));
            None
        }
    }
}

/// Whether the tests run in CI (`CI=true`), where nothing may be skipped.
#[expect(
    clippy::disallowed_methods,
    reason = "CI announces itself in the environment"
)]
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Says, visibly in the test output, that a test did not run and why.
#[expect(
    clippy::print_stderr,
    reason = "the skip must be visible in test output"
)]
pub fn skip(why: &str) {
    eprintln!("skipped: {why}");
}

/// Which backend a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestBackend {
    Sqlite,
    Postgres,
    MySql,
}

/// A database of its own for one test: a SQLite file in the test's folder, a fresh schema on
/// the PostgreSQL server or a fresh database on the MariaDB/MySQL server. Both are named
/// `kunci_t_<server epoch>_<random>`; creating one drops those left behind by runs more than
/// two hours old, so the servers never fill up.
#[derive(Debug, Clone)]
pub struct TestDatabase {
    /// The URL to give kunci (`data.database_url`).
    pub url: String,
}

impl TestDatabase {
    /// `None` when the backend's service is not configured (and not in CI).
    pub async fn new(backend: TestBackend, dir: &Path) -> Option<Self> {
        match backend {
            TestBackend::Sqlite => Some(Self {
                url: format!("sqlite://{}", dir.join("kunci.db").display()),
            }),
            TestBackend::Postgres => {
                let base = service_url("KUNCI_TEST_DATABASE_URL")?;
                Some(Self {
                    url: fresh_schema(&base).await,
                })
            }
            TestBackend::MySql => {
                let base = service_url("KUNCI_TEST_MYSQL_URL")?;
                Some(Self {
                    url: fresh_mysql_database(&base).await,
                })
            }
        }
    }

    /// Connects a pool to this database.
    ///
    /// # Panics
    /// When the database cannot be reached: tests want to fail loudly.
    pub async fn connect(&self) -> Database {
        let target = DatabaseTarget::parse(&self.url, Path::new("/")).expect("test database URL");
        Database::connect(&target, &ConnectOptions::default())
            .await
            .expect("test database")
    }
}

/// A new test schema or database name, born at the server's `epoch`.
fn test_name(epoch: i64) -> String {
    format!("kunci_t_{epoch}_{}", uuid::Uuid::new_v4().simple())
}

/// The test schemas or databases among `names` born more than two hours before `epoch`.
fn left_behind(names: Vec<String>, epoch: i64) -> impl Iterator<Item = String> {
    names.into_iter().filter(move |name| {
        let born = name.split('_').nth(2).and_then(|s| s.parse::<i64>().ok());
        born.is_some_and(|born| epoch - born > 2 * 3600)
    })
}

async fn fresh_schema(base: &str) -> String {
    let target = DatabaseTarget::parse(base, Path::new("/")).expect("KUNCI_TEST_DATABASE_URL");
    let options = ConnectOptions {
        max_connections: 1,
        ..ConnectOptions::default()
    };
    let Database::Postgres(pool) = Database::connect(&target, &options)
        .await
        .expect("PostgreSQL")
    else {
        panic!("KUNCI_TEST_DATABASE_URL must be a postgres:// URL");
    };
    let epoch: i64 = sqlx::query_scalar("SELECT CAST(extract(epoch FROM now()) AS BIGINT)")
        .fetch_one(&pool)
        .await
        .expect("PostgreSQL answers");
    let stale: Vec<String> =
        sqlx::query_scalar("SELECT nspname::TEXT FROM pg_namespace WHERE nspname LIKE 'kunci_t_%'")
            .fetch_all(&pool)
            .await
            .expect("list test schemas");
    for schema in left_behind(stale, epoch) {
        // Another run may drop it at the same moment; either way it is gone.
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE"
        )))
        .execute(&pool)
        .await;
    }
    let schema = test_name(epoch);
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&pool)
        .await
        .expect("create test schema");
    pool.close().await;
    let separator = if base.contains('?') { '&' } else { '?' };
    format!("{base}{separator}options[search_path]={schema}")
}

async fn fresh_mysql_database(base: &str) -> String {
    let target = DatabaseTarget::parse(base, Path::new("/")).expect("KUNCI_TEST_MYSQL_URL");
    let options = ConnectOptions {
        max_connections: 1,
        ..ConnectOptions::default()
    };
    let Database::MySql(pool) = Database::connect(&target, &options)
        .await
        .expect("MariaDB/MySQL")
    else {
        panic!("KUNCI_TEST_MYSQL_URL must be a mysql:// or mariadb:// URL");
    };
    let epoch: i64 = sqlx::query_scalar("SELECT CAST(UNIX_TIMESTAMP() AS SIGNED)")
        .fetch_one(&pool)
        .await
        .expect("MariaDB answers");
    let stale: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(schema_name AS CHAR) FROM information_schema.schemata \
         WHERE schema_name LIKE 'kunci\\_t\\_%'",
    )
    .fetch_all(&pool)
    .await
    .expect("list test databases");
    for name in left_behind(stale, epoch) {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name}"
        )))
        .execute(&pool)
        .await;
    }
    let name = test_name(epoch);
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&pool)
        .await
        .expect("create test database");
    pool.close().await;
    // The base URL names some database; the test's own replaces it.
    let (url, query) = match base.split_once('?') {
        Some((url, query)) => (url, format!("?{query}")),
        None => (base, String::new()),
    };
    let authority_end = url.find("://").map_or(0, |i| i + 3);
    let server = match url[authority_end..].find('/') {
        Some(slash) => &url[..authority_end + slash],
        None => url,
    };
    format!("{server}/{name}{query}")
}

/// A Redis server for one test, with a key prefix of its own (`kunci-t-<random>:`), so tests
/// run in parallel on one Redis. `None` when `KUNCI_TEST_REDIS_URL` is unset (and not in CI).
pub async fn test_redis() -> Option<crate::RedisServer> {
    let url = service_url("KUNCI_TEST_REDIS_URL")?;
    let prefix = format!("kunci-t-{}:", uuid::Uuid::new_v4().simple());
    Some(crate::RedisServer::new(&url, &prefix).expect("KUNCI_TEST_REDIS_URL"))
}

/// A memcached server for one test, with a key prefix of its own. `None` when
/// `KUNCI_TEST_MEMCACHED_URL` is unset (and not in CI).
pub fn test_memcached() -> Option<crate::memcached::Memcached> {
    let url = service_url("KUNCI_TEST_MEMCACHED_URL")?;
    let prefix = format!("kunci-t-{}:", uuid::Uuid::new_v4().simple());
    Some(crate::memcached::Memcached::new(&url, &prefix).expect("KUNCI_TEST_MEMCACHED_URL"))
}
