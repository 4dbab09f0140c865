//! `kunci`: parses the command line and hands over to the library. Nothing else lives here.

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let cli = kunci::cli::Cli::parse();
    kunci::install_crypto_provider();
    kunci::cli::run(cli)
}
