//! The `kunci` binary's library half: the CLI, configuration, the composition root and the
//! background jobs. `main.rs` only parses arguments and calls [`commands::run`]; integration tests
//! build the same application through [`startup`].
//!
//! This crate wires the others together and owns process concerns (files, signals, exit
//! codes). Rules belong in `kunci-domain`, HTTP in `kunci-web`, storage in `kunci-store`.

pub mod backup;
pub mod cli;
pub mod commands;
pub mod config;
pub mod doctor;
pub mod jobs;
pub mod logging;
pub mod output;
pub mod posture;
pub mod secrets;
pub mod startup;
pub mod tls;
pub mod wiring;
pub mod workbench;

/// Installs the one TLS crypto provider (ring) for the process. Idempotent; every entry point
/// (main, each test binary) calls it before anything opens a TLS connection.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
