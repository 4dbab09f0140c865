//! The rules of kunci and the ports (traits) its adapters implement.
//!
//! Everything here is plain Rust: policies take the current time as an argument or through a
//! [`clock::Clock`], stores are traits implemented in `kunci-store`, and nothing imports axum,
//! sqlx, redis or reqwest. A rule that needs one of those is split into a port here and an
//! adapter there.

pub mod clock;
pub mod environment;
pub mod health;
