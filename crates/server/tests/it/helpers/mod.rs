//! Shared test set-up: a running application on port 0 with a database of its own, and the
//! `kunci` binary run as a user runs it.

pub mod app;
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

/// A blocking GET, for tests that drive the binary from a plain thread.
pub fn get_blocking(url: &str) -> reqwest::blocking::Response {
    kunci::install_crypto_provider();
    reqwest::blocking::get(url).expect("request")
}
