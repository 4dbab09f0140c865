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

/// Instantiates an async conformance test for every SQL backend. The test function takes a
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
    };
}
