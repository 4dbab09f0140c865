//! Integration tests of the store adapters against real backends.
//!
//! Every port has a conformance suite in `conformance/`, written once and instantiated for
//! each backend with [`backends!`].
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failing test should stop at the step that failed"
)]

mod conformance;

/// Instantiates an async conformance test for every SQL backend (SQLite, PostgreSQL, MariaDB). The test function takes a
/// connected, empty [`kunci_store::Database`].
#[macro_export]
macro_rules! backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $test() {
                    let dir = tempfile::tempdir().unwrap();
                    let db = kunci_store::testing::TestDatabase::new(
                        kunci_store::testing::TestBackend::Sqlite, dir.path()).await.unwrap();
                    super::$test(db.connect().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $test() {
                    let dir = tempfile::tempdir().unwrap();
                    let Some(db) = kunci_store::testing::TestDatabase::new(
                        kunci_store::testing::TestBackend::Postgres, dir.path()).await else {
                        return;
                    };
                    super::$test(db.connect().await).await;
                }
            )*
        }
        mod mysql {
            $(
                #[tokio::test]
                async fn $test() {
                    let dir = tempfile::tempdir().unwrap();
                    let Some(db) = kunci_store::testing::TestDatabase::new(
                        kunci_store::testing::TestBackend::MySql, dir.path()).await else {
                        return;
                    };
                    super::$test(db.connect().await).await;
                }
            )*
        }
    };
}

/// Instantiates an async session-store conformance test for every store. The test function
/// takes an empty `Box<dyn SessionStore>`.
#[macro_export]
macro_rules! session_stores {
    ($($test:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(Box::new(kunci_store::memory::MemorySessions::new())).await;
                }
            )*
        }
        mod filesystem {
            $(
                #[tokio::test]
                async fn $test() {
                    let dir = tempfile::tempdir().unwrap();
                    let store = kunci_store::filesystem::FileSessions::new(dir.path()).unwrap();
                    super::$test(Box::new(store)).await;
                }
            )*
        }
        mod sql_sqlite {
            $(
                #[tokio::test]
                async fn $test() {
                    let dir = tempfile::tempdir().unwrap();
                    let db = kunci_store::testing::TestDatabase::new(
                        kunci_store::testing::TestBackend::Sqlite, dir.path()).await.unwrap();
                    let db = db.connect().await;
                    db.migrate().await.unwrap();
                    super::$test(Box::new(db)).await;
                }
            )*
        }
        mod sql_postgres {
            $(
                #[tokio::test]
                async fn $test() {
                    let dir = tempfile::tempdir().unwrap();
                    let Some(db) = kunci_store::testing::TestDatabase::new(
                        kunci_store::testing::TestBackend::Postgres, dir.path()).await else {
                        return;
                    };
                    let db = db.connect().await;
                    db.migrate().await.unwrap();
                    super::$test(Box::new(db)).await;
                }
            )*
        }
        mod sql_mysql {
            $(
                #[tokio::test]
                async fn $test() {
                    let dir = tempfile::tempdir().unwrap();
                    let Some(db) = kunci_store::testing::TestDatabase::new(
                        kunci_store::testing::TestBackend::MySql, dir.path()).await else {
                        return;
                    };
                    let db = db.connect().await;
                    db.migrate().await.unwrap();
                    super::$test(Box::new(db)).await;
                }
            )*
        }
        mod memcached {
            $(
                #[tokio::test]
                async fn $test() {
                    let Some(server) = kunci_store::testing::test_memcached() else { return };
                    let store = kunci_store::memcached::MemcachedSessions::new(server);
                    super::$test(Box::new(store)).await;
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test]
                async fn $test() {
                    let Some(server) = kunci_store::testing::test_redis().await else { return };
                    let store = kunci_store::redis::RedisSessions::new(&server).unwrap();
                    super::$test(Box::new(store)).await;
                }
            )*
        }
    };
}
