//! Shared test set-up: a running application on port 0 with a database of its own, and the
//! `kunci` binary run as a user runs it.

pub mod app;
pub mod axe;
mod binary;
pub mod browser;
pub mod chromium;
pub mod fake_google;
mod proxy;
pub mod sinks;
pub mod webdriver;

pub use app::TestApp;
pub use binary::{Kunci, mode};
pub use browser::Browser;
pub use kunci_store::testing::{TestBackend, service_url};
pub use proxy::TcpProxy;

/// An HTTP client for tests (the TLS provider installed first, redirects not followed).
pub fn client() -> reqwest::Client {
    kunci::install_crypto_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Runs `work` on the SQLite database at `path` (a project's `instance/kunci.db`), from a
/// plain test thread.
pub fn with_sqlite<T>(path: &std::path::Path, work: impl AsyncFnOnce(&sqlx::SqlitePool) -> T) -> T {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
            .await
            .expect("the project's database");
        let result = work(&pool).await;
        pool.close().await;
        result
    })
}

/// A blocking GET, for tests that drive the binary from a plain thread.
pub fn get_blocking(url: &str) -> reqwest::blocking::Response {
    kunci::install_crypto_provider();
    reqwest::blocking::get(url).expect("request")
}
