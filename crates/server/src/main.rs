//! `kunci`: parses the command line and hands over to the library. Nothing else lives here.

use std::process::ExitCode;

use clap::Parser as _;

/// A per-thread allocator: request handling allocates many small, short-lived values, and the
/// system allocator's locking and consolidation showed up as a quarter of a page request's CPU
/// time (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = kunci::cli::Cli::parse();
    kunci::install_crypto_provider();
    kunci::commands::run(cli)
}
