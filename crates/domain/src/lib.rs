//! The rules of kunci and the ports (traits) its adapters implement.
//!
//! Everything here is plain Rust: policies take the current time as an argument or through a
//! [`clock::Clock`], stores are traits implemented in `kunci-store`, and nothing imports axum,
//! sqlx, redis or reqwest. A rule that needs one of those is split into a port here and an
//! adapter there.

pub mod accounts;
pub mod apikeys;
pub mod audit;
pub mod circuit;
pub mod clients;
pub mod clock;
pub mod environment;
pub mod factors;
pub mod health;
pub mod keys;
pub mod leaderboard;
pub mod lockout;
pub mod login;
pub mod notify;
pub mod ratelimit;
pub mod refresh;
pub mod reset;
pub mod revocation;
pub mod session;
pub mod store;
pub mod tally;
#[cfg(test)]
pub(crate) mod testing;
pub mod upstream;
pub mod usage;

/// The system's random number generator failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the system's random number generator failed")]
pub struct RandomFailure;

/// Bytes as lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The SHA-256 of `text` in hex: how a high-entropy secret (a token, a link) is stored, so a
/// database that leaks gives none of them.
pub(crate) fn sha256_hex(text: &str) -> String {
    use sha2::Digest as _;
    hex(&sha2::Sha256::digest(text.as_bytes()))
}

/// An error and its sources joined by `: `, for the one log line that reports it.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
