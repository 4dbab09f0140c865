//! What each subcommand does: [`run`] turns a parsed command line into an exit code,
//! [`dispatch`] hands each command to its file. Results go to stdout through [`output`],
//! progress to the log.
//!
//! One file per command family; each builds what it needs through `workbench.rs` and
//! `wiring.rs`, never through another command.

mod apikey;
mod audit;
mod backup;
mod client;
mod db;
mod doctor;
mod keys;
mod secrets;
mod serve;
mod user;

use anyhow::Context as _;

use crate::cli::{Cli, Command, ConfigCommand, KeyCommand};
use crate::config::{self, LoadInput};
use crate::workbench::{Need, ProcessEnv, load};
use std::process::ExitCode;

use crate::cli::exit;
use crate::config::ConfigErrors;
use crate::output;

/// The warning for a `KUNCI_…` variable that kunci never reads, with the name it probably
/// meant when one of the sections fits (`KUNCI_SECURITY_X` → `KUNCI__SECURITY__X`).
fn lookalike(name: &str) -> String {
    let rest = name.strip_prefix("KUNCI_").unwrap_or(name);
    let meant = config::schema::KEYS
        .iter()
        .filter_map(|k| k.path.split('.').next())
        .map(str::to_ascii_uppercase)
        .find_map(|section| {
            let key = rest.strip_prefix(&section)?.strip_prefix('_')?;
            Some(format!("KUNCI__{section}__{key}"))
        });
    match meant {
        Some(meant) => {
            format!("{name} is not read: configuration variables use double underscores ({meant}?)")
        }
        None => format!(
            "{name} is not read: configuration variables are KUNCI__SECTION__KEY (docs/configuration.md)"
        ),
    }
}

pub async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    let root = std::path::absolute(&cli.global.root).with_context(|| {
        format!(
            "cannot resolve the project folder {}",
            cli.global.root.display()
        )
    })?;
    let process = ProcessEnv::capture();
    for name in &process.lookalikes {
        output::note(&lookalike(name));
    }
    let input = LoadInput {
        root,
        environment: cli.global.env,
        variables: process.variables.clone(),
        encrypted: None,
    };
    match cli.command {
        Command::Serve => serve::command(&input, &process).await,
        Command::Config(ConfigCommand::Show) => {
            let (loaded, _) = load(&input, &process, Need::IfEncrypted).await?;
            output::result(&config::show::render(&loaded));
            Ok(())
        }
        Command::Config(ConfigCommand::Check) => {
            let (loaded, _) = load(&input, &process, Need::IfEncrypted).await?;
            for (key, file) in loaded.plaintext_secrets() {
                output::note(&format!(
                    "warning: `{key}` is a secret written in {file}: move it into \
                     .env.{env}.enc (`kunci env edit {env}`)",
                    env = input.environment
                ));
            }
            output::result(&format!("the {} configuration is valid", input.environment));
            Ok(())
        }
        Command::Config(ConfigCommand::Docs) => {
            output::result(&config::docs::markdown());
            Ok(())
        }
        Command::Db(command) => db::command(&input, &process, command).await,
        Command::Key(KeyCommand::Generate { out }) => secrets::generate_key(out.as_deref()),
        Command::Env(command) => secrets::env(&input, &process, command).await,
        Command::Keys(command) => keys::command(&input, &process, command).await,
        Command::Audit(command) => audit::command(&input, &process, command).await,
        Command::Client(command) => client::command(&input, &process, command).await,
        Command::User(command) => user::command(&input, &process, command).await,
        Command::Apikey(command) => apikey::command(&input, &process, command).await,
        Command::Doctor { url } => doctor::command(&input, &process, url).await,
        Command::Backup(command) => backup::command(&input, &process, command).await,
    }
}

/// Runs a parsed command line to its exit code.
pub fn run(cli: Cli) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            output::error(&anyhow::Error::new(err).context("cannot start the async runtime"));
            return ExitCode::from(exit::FAILURE);
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => match err.downcast_ref::<ConfigErrors>() {
            Some(config) => {
                output::note(config.to_string().trim_end());
                ExitCode::from(exit::CONFIG)
            }
            None => {
                output::error(&err);
                ExitCode::from(exit::FAILURE)
            }
        },
    }
}
